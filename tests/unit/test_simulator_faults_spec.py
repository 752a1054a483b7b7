"""The ``--faults`` SPEC language and the message-link impairments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.simulator.faults import FaultSpec, FaultSpecError, parse_duration, parse_spec, resolve
from services.simulator.realism import Impairer, Realism

VEHICLES = [("BUS-0001", 176, 44), ("BUS-0002", 176, 44), ("BUS-0003", 204, 48)]


def test_parse_the_documented_example() -> None:
    specs = parse_spec("cooling_failure:BUS-0003@2h:severity=0.8,self_heating_cell:random")
    assert specs == [
        FaultSpec("cooling_failure", vehicle_id="BUS-0003", start_s=7200.0, severity=0.8),
        FaultSpec("self_heating_cell"),
    ]


def test_parse_length_mode_index_and_count() -> None:
    (s,) = parse_spec("sensor_fault:random@30m+1.5h:mode=drift:sensor=3:count=4")
    assert (s.start_s, s.length_s, s.mode, s.sensor, s.count) == (1800.0, 5400.0, "drift", 3, 4)
    assert parse_duration("2d") == 172800.0 and parse_duration("45") == 45.0


@pytest.mark.parametrize(
    "bad",
    [
        "overheat",
        "weak_cell:severity=1.5",
        "weak_cell:colour=red",
        "cooling_failure:BUS-1@soon",
        "weak_cell:cell=x",
    ],
)
def test_bad_specs_are_refused(bad: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_spec(bad)


def test_resolve_is_reproducible_and_checks_targets() -> None:
    specs = parse_spec("random:count=6,weak_cell:BUS-0003:cell=203")
    a = resolve(specs, VEHICLES, 86400.0, np.random.default_rng(1))
    b = resolve(specs, VEHICLES, 86400.0, np.random.default_rng(1))
    assert a == b and len(a) == 7
    assert a[-1].cell == 203 and a[-1].start_s == 0.0 and math.isinf(a[-1].end_s)
    assert all(0.1 <= f.severity <= 1.0 and 0 <= f.start_s <= 0.6 * 86400 for f in a[:-1])
    with pytest.raises(FaultSpecError):
        resolve(parse_spec("weak_cell:BUS-0001:cell=176"), VEHICLES, 60.0, np.random.default_rng(0))
    with pytest.raises(FaultSpecError):
        resolve(parse_spec("weak_cell:BUS-9999"), VEHICLES, 60.0, np.random.default_rng(0))


def test_impairer_drops_duplicates_and_delays() -> None:
    r = Realism(p_drop=0.1, p_duplicate=0.1, p_delay=0.1, max_delay_s=5)
    imp: Impairer[int] = Impairer(r, np.random.default_rng(0))
    sent: list[int] = []
    for tick in range(200):
        sent.extend(imp.apply(tick, list(range(tick * 10, tick * 10 + 10))))
    sent.extend(imp.flush())
    assert 100 < imp.dropped < 300 and 100 < imp.duplicated < 300 and 80 < imp.delayed < 300
    assert len(sent) == 2000 - imp.dropped + imp.duplicated
    assert sent != sorted(sent)  # delays reorder
    assert len(set(sent)) == 2000 - imp.dropped


def test_realism_off_changes_nothing() -> None:
    imp: Impairer[int] = Impairer(Realism.off(), np.random.default_rng(0))
    assert imp.apply(0, [1, 2, 3]) == [1, 2, 3]
