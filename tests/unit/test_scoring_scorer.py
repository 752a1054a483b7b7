"""The scorer takes whatever the stream brings without falling over."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from schemas.examples import EXAMPLE_TS, example_pack_sample
from schemas.limits import PackLimits
from schemas.messages import encode
from services.scoring.samples import decode_scoring_samples
from services.scoring.scorer import Scorer
from services.scoring.settings import ScoringSettings


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
