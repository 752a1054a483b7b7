"""The scorer takes whatever the stream brings without falling over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import numpy as np

from models.detector import SHEDDING_C, shedding_heat
from schemas.common import AnomalyKind, ConditionState
from schemas.examples import EXAMPLE_TS, example_pack_sample
from schemas.limits import PackLimits
from schemas.messages import encode
from services.scoring.samples import decode_scoring_samples
from services.scoring.scorer import Scorer
from services.scoring.settings import ScoringSettings
from services.simulator import FleetConfig, simulate_samples


def test_samples_that_do_not_fit_their_pack_are_skipped_not_fatal() -> None:
    scorer = Scorer(ScoringSettings().model_dir)
    nmc = PackLimits(cells_in_series=176, temp_sensors=44)
    good = [
        example_pack_sample(vehicle_id="BUS-0001", ts=EXAMPLE_TS + timedelta(seconds=i), limits=nmc)
        for i in range(3)
    ]
    # The same bus a second later with its last cell frame lost on the way.
    short = msgspec.structs.replace(
        good[-1], ts=EXAMPLE_TS + timedelta(seconds=3), cell_voltages=good[-1].cell_voltages[:-3]
    )
    other = example_pack_sample(vehicle_id="BUS-0002", ts=EXAMPLE_TS, limits=nmc)
    samples, failed = decode_scoring_samples([encode(s) for s in (*good, short, other)])
    assert failed == 0
    result = scorer.run_pass(samples)
    assert result.scored == 4
    assert result.skipped == 1


def _cooling_events(
    faults: str, minutes: float, pass_size: int
) -> list[tuple[str, str, float, bool]]:
    """(vehicle, severity, vehicle time, raised) of the cooling-failure events of six demo
    buses that start warm at low charge (the end-to-end alert test's fleet),
    scored in passes of ``pass_size`` samples."""
    cfg = FleetConfig(buses=6, seed=5, start=datetime(2026, 5, 4, 11, tzinfo=UTC),
                      faults=faults, soc0=0.15)  # fmt: skip
    items = [encode(s) for b in simulate_samples(cfg, minutes * 60.0, dt=10.0) for s in b]
    scorer = Scorer(ScoringSettings().model_dir)
    out = []
    for i in range(0, len(items), pass_size):
        samples, _ = decode_scoring_samples(items[i : i + pass_size])
        for e in scorer.run_pass(samples).events:
            if e.kind is AnomalyKind.COOLING_FAILURE and e.state is ConditionState.ACTIVE:
                out.append((e.vehicle_id, e.severity.value, e.ts.timestamp(), e.raised))
    return out


def test_a_healthy_pack_shedding_its_stored_heat_is_no_cooling_failure() -> None:
    # Started warm, these packs give their heat to the coolant for the first hour
    # powered: its rise runs 3-5 degC over what their load explains. Small passes
    # see every minute of it (a finding must hold 60 s of vehicle time).
    assert _cooling_events("", 70, 100) == []


def test_a_pump_that_fails_on_a_warm_pack_is_still_found() -> None:
    events = _cooling_events("cooling_failure:BUS-0001@45m:mode=pump:severity=1.0", 90, 100)
    start = datetime(2026, 5, 4, 11, tzinfo=UTC).timestamp()
    # Found as the pump's flow falls (a warning), raised to critical once it is lost.
    assert [(v, sev, raised) for v, sev, _, raised in events] == [
        ("BUS-0001", "warning", False),
        ("BUS-0001", "critical", True),
    ]
    assert events[0][2] - start - 45 * 60 < 20 * 60  # within 20 minutes of the failure
    assert events[1][2] > events[0][2]


def test_one_sensor_falling_fast_is_not_a_pack_shedding_heat() -> None:
    slow = np.full((3, 48), 35.0)
    fast = slow.copy()
    fast[0, 7] = 5.0  # one sensor failing: 30 degC under its 10-minute mean
    fast[1] += 2 * SHEDDING_C  # the whole pack cooling down
    fast[2, :20] += 4 * SHEDDING_C  # a minority of sensors cooling: not the pack
    assert shedding_heat(fast, slow).tolist() == [False, True, False]


def test_events_and_health_rows_do_not_depend_on_how_the_stream_is_cut_into_passes() -> None:
    cfg = FleetConfig(buses=6, seed=5, start=datetime(2026, 5, 4, 11, tzinfo=UTC), soc0=0.15,
                      faults="cooling_failure:BUS-0001@45m:mode=pump:severity=1.0,"
                             "connection_hot_spot:BUS-0004@10m:severity=1.0")  # fmt: skip
    items = [encode(s) for b in simulate_samples(cfg, 2 * 3600.0, dt=10.0) for s in b]

    def run(cuts: list[int]) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        scorer, events, health, i, k = Scorer(ScoringSettings().model_dir), [], [], 0, 0
        while i < len(items):
            n = cuts[k % len(cuts)]
            result = scorer.run_pass(decode_scoring_samples(items[i : i + n])[0])
            events += [(e.event_id, e.severity, e.state, e.raised, e.ts) for e in result.events]
            health += [(h.vehicle_id, h.ts, h.soh_pct) for h in result.health]
            i, k = i + n, k + 1
        return sorted(events, key=str), sorted(health, key=str)

    live = run([6])  # one sample a bus a pass, as the live stream comes
    states = {e[2] for e in live[0]}
    assert len(live[0]) >= 3 and ConditionState.ACTIVE in states and live[1]
    assert run([3000]) == live  # a backlog: 5,000 s of each bus a pass
    assert run([1, 37, 600, 7, 2000]) == live  # whatever the broker's fetches hold


def test_samples_of_packs_not_due_do_not_pile_up() -> None:
    cfg = FleetConfig(buses=6, seed=5, start=datetime(2026, 5, 4, 11, tzinfo=UTC), soc0=0.5)
    scorer = Scorer(ScoringSettings().model_dir)
    most = 0
    for batch in simulate_samples(cfg, 3600.0, dt=10.0):  # one sample a bus a pass, as live
        scorer.run_pass(decode_scoring_samples([encode(s) for s in batch])[0])
        most = max(most, sum(len(p[1]) for p in scorer.detector._pending.values()))
    assert 0 < most <= 3  # the rounds since the last scoring step: 30 s of 10 s samples


def test_vehicles_new_or_back_after_a_gap_need_their_stored_history() -> None:
    """services.scoring.history is read for these (the insulation check's day)."""
    scorer = Scorer(ScoringSettings().model_dir)
    nmc = PackLimits(cells_in_series=176, temp_sensors=44)

    def sample(vid: str, s: float) -> bytes:
        ts = EXAMPLE_TS + timedelta(seconds=s)
        return encode(example_pack_sample(vehicle_id=vid, ts=ts, limits=nmc))

    odd = msgspec.structs.replace(
        example_pack_sample(vehicle_id="BUS-0003", ts=EXAMPLE_TS, limits=nmc),
        cell_voltages=[3.3] * 7,  # no pack of this shape: never scored
    )
    first, _ = decode_scoring_samples([sample("BUS-0001", 20), sample("BUS-0001", 10),
                                       sample("BUS-0002", 30), encode(odd)])  # fmt: skip
    t0 = EXAMPLE_TS.timestamp()
    assert scorer.needs_history(first, 3600.0) == {"BUS-0001": t0 + 10, "BUS-0002": t0 + 30}
    scorer.run_pass(first)
    assert scorer.needs_history(first, 3600.0) == {}
    # BUS-0001 after 50 minutes (another member held it for less than the gap), BUS-0002
    # back after two hours.
    later, _ = decode_scoring_samples([sample("BUS-0001", 20 + 3000), sample("BUS-0002", 7230)])
    assert scorer.needs_history(later, 3600.0) == {"BUS-0002": t0 + 7230}
