"""The warm start's bookkeeping: which records only fill the windows, what is committed."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import TopicPartition

from services.scoring.warm import WarmStart

TP = TopicPartition("telemetry.pack.v1", 4)


@dataclass
class Record:
    offset: int


def _records(first: int, last: int) -> list[Record]:
    return [Record(o) for o in range(first, last + 1)]


def test_records_before_the_committed_offset_warm_up_and_are_never_committed() -> None:
    warm = WarmStart("127.0.0.1:9", warmup_s=2100)
    warm.until[TP] = 100  # rewound from 100 (the committed offset) to 0
    past, live, commit = warm.split(TP, _records(0, 49))
    assert (len(past), live, commit) == (50, [], None)  # nothing to commit below 100
    past, live, commit = warm.split(TP, _records(50, 119))
    assert [r.offset for r in past] == list(range(50, 100))
    assert [r.offset for r in live] == list(range(100, 120)) and commit == 120
    assert TP not in warm.until  # warmed up: from here on every record is live
    past, live, commit = warm.split(TP, _records(120, 129))
    assert (past, len(live), commit) == ([], 10, 130)
    assert warm.scored_through[TP] == 130  # a later assignment at 130 or below is not rewound


def test_a_batch_ending_at_the_committed_offset_commits_nothing_and_ends_the_warm_up() -> None:
    warm = WarmStart("127.0.0.1:9", warmup_s=2100)
    warm.until[TP] = 100
    past, live, commit = warm.split(TP, _records(60, 99))
    assert (len(past), live, commit) == (40, [], None) and TP not in warm.until


def test_a_partition_without_a_warm_up_is_all_live() -> None:
    past, live, commit = WarmStart("127.0.0.1:9", warmup_s=0).split(TP, _records(7, 9))
    assert (past, len(live), commit) == ([], 3, 10)


def test_the_default_warm_up_covers_what_the_checks_need_before_they_judge() -> None:
    """A restarted scorer must say what an uninterrupted one says of a fault present
    throughout its replay: the replay has to hold the models' settling, the sustained
    coolant rise, the inlet's time away from the loop's specification and a
    condition's hold."""
    from models.detector import CDT_SUSTAINED_S, INLET_OFF_S
    from models.thermal import PUMPING_SETTLE_S, SETTLE_S
    from services.scoring.settings import ScoringSettings

    default = {k: f.default for k, f in ScoringSettings.model_fields.items()}
    loop = PUMPING_SETTLE_S + max(CDT_SUSTAINED_S, INLET_OFF_S)
    needed = max(SETTLE_S, loop) + default["hold_s"]
    assert default["warmup_s"] >= needed
