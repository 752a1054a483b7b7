"""A batch decoded and validated at once gets exactly the verdicts of one at a time."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import msgspec
import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from schemas.errors import RejectReason, SampleRejected
from schemas.examples import example_pack_sample
from schemas.limits import PackLimits
from schemas.messages import PackSample, encode, with_cell_stats
from schemas.pack_batch import SampleColumns, columns_of, decode_and_validate_batch
from schemas.validation import decode_and_validate
from tests.unit.test_validation_fast_path import NOW, D, perturbed_samples

SMALL = PackLimits(cells_in_series=4, temp_sensors=2)
DESIGNS = {"bus-0042": D, "bus-0007": D, "small-1": SMALL}


def _payload(sample: PackSample) -> bytes:
    # json.dumps writes NaN and Infinity literals, which the rules name non_finite.
    return json.dumps(msgspec.to_builtins(sample)).encode()


def _identity_changes() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "vehicle_id": st.sampled_from(["bus-0007", " bus-0042", "", "unknown", "x" * 65]),
            "pack_id": st.sampled_from([None, "PK-1", " PK", "p" * 65]),
            "ts": st.sampled_from([NOW - timedelta(days=31), NOW + timedelta(minutes=6), NOW]),
            "seq": st.sampled_from([0, -1, 2**63 - 1]),
            "fault_codes": st.sampled_from([[], [7], [-1], [2**32], list(range(300))]),
        },
    )


#: Arrays whose first number is written otherwise, as other (or broken) JSON writers do.
_FIRST = {
    "negative_zero": "-0.0",
    "null": "null",
    "string": '"1.0"',
    "nested": "[1.0]",
    "leading_zero": "01.5",
    "huge": "1e400",
    "integer_negative_zero": "-0",  # the int 0 for msgspec: +0.0
}


def _render(values: list[float], style: str) -> str:
    """An array of numbers written as other JSON writers (or broken ones) write it."""
    match style:
        case "spaces":
            return "[ " + " ,\n\t".join(repr(v) for v in values) + " ]"
        case "exponent":
            return "[" + ",".join(f"{v:.12e}" for v in values) + "]"
        case "ints":
            return "[" + ",".join(str(round(v)) for v in values) + "]"
        case "long":  # more significant digits than a double holds
            return "[" + ",".join(f"{v:.25f}" for v in values) + "]"
    return "[" + ",".join([_FIRST[style], *(repr(v) for v in values[1:])]) + "]"


ARRAY_STYLES = ["spaces", "exponent", "ints", "long", *_FIRST]


def _restyled(sample: PackSample, field: str, style: str) -> bytes:
    fields = msgspec.to_builtins(sample)
    values = fields.pop(field)
    text = json.dumps(fields)
    return (text[:-1] + f', "{field}": {_render(values, style)}}}').encode()


def _repeated(sample: PackSample, field: str, first: str) -> bytes:
    """The array twice: ``first`` (raw JSON), then the sample's own; the last copy wins
    in msgspec, and the contract's decoder type-checks both."""
    fields = msgspec.to_builtins(sample)
    return (f'{{"{field}": {first}, ' + json.dumps(fields)[1:]).encode()


REPEATS = ['"oops"', "null", "[1e400]", '[1, "x"]', "[3.3]", "[1]"]


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["sample", "sample", "sample", "garbage", "restyled", "repeated"]))
    if kind == "repeated":
        field = draw(st.sampled_from(["cell_voltages", "cell_temps"]))
        return _repeated(example_pack_sample(), field, draw(st.sampled_from(REPEATS)))
    if kind == "restyled":
        field = draw(st.sampled_from(["cell_voltages", "cell_temps"]))
        return _restyled(example_pack_sample(), field, draw(st.sampled_from(ARRAY_STYLES)))
    if kind == "garbage":
        return draw(
            st.sampled_from([b"", b"{", b"[]", b'{"hello": 1}', b"x" * 70_000, b'{"seq": NaN}'])
        )
    base = draw(st.sampled_from([example_pack_sample(), None]))
    base = base if base is not None else draw(perturbed_samples())
    sample = msgspec.structs.replace(base, **draw(_identity_changes()))
    if draw(st.booleans()):
        return encode(sample)
    return _payload(sample)


def _row(verdict_groups: list[SampleColumns], position: int) -> SampleColumns:
    hits = [
        g.take(np.flatnonzero(g.positions == position))
        for g in verdict_groups
        if position in g.positions
    ]
    assert len(hits) == 1 and len(hits[0]) == 1
    return hits[0]


def _assert_same_columns(got: SampleColumns, want: SampleColumns) -> None:
    assert got.text == want.text
    assert got.times.keys() == want.times.keys()
    for name, times in want.times.items():
        np.testing.assert_array_equal(got.times[name], times, err_msg=name)
    assert got.int_lists == want.int_lists
    for name, values in want.floats.items():
        np.testing.assert_array_equal(got.floats[name], values, err_msg=name)
    for name, ints in want.ints.items():
        np.testing.assert_array_equal(got.ints[name], ints, err_msg=name)
    for name, values in want.arrays.items():
        assert got.arrays[name].tobytes() == values.tobytes(), name  # the same bits


def _edited(**changes: Any) -> bytes:
    return encode(msgspec.structs.replace(example_pack_sample(), **changes))


@settings(max_examples=300, deadline=None)
@given(st.lists(payloads(), min_size=1, max_size=8))
@example([_edited(fault_codes=list(range(257))), _edited(latitude_deg=1.0)])
@example([_edited(cell_temp_mean_c=80.0), _edited(ts=NOW + timedelta(minutes=5))])
@example([_edited(ts=NOW - timedelta(days=30)), _edited(cell_voltage_min_v=4.0)])
@example([_restyled(example_pack_sample(), "cell_temps", style) for style in ARRAY_STYLES])
@example([_repeated(example_pack_sample(), "cell_voltages", first) for first in REPEATS])
def test_each_payload_gets_the_verdict_it_gets_alone(batch: list[bytes]) -> None:
    verdict = decode_and_validate_batch(batch, design=DESIGNS.get, now=NOW)
    accepted = {int(p) for g in verdict.accepted for p in g.positions}
    assert accepted.isdisjoint(verdict.rejected)
    assert accepted | set(verdict.rejected) == set(range(len(batch)))
    for i, data in enumerate(batch):
        alone = decode_and_validate(data, design=lambda s: DESIGNS.get(s.vehicle_id), now=NOW)
        if isinstance(alone, SampleRejected):
            got = verdict.rejected[i]
            assert (got.reason_code, got.detail) == (alone.reason_code, alone.detail)
        else:
            _assert_same_columns(_row(verdict.accepted, i), columns_of([alone], [i]))


def test_valid_samples_of_two_designs_are_accepted_in_groups() -> None:
    small = with_cell_stats(
        msgspec.structs.replace(
            example_pack_sample(vehicle_id="small-1"),
            cell_voltages=[3.3, 3.3, 3.2, 3.4],
            cell_temps=[20.0, 21.0],
            pack_voltage_v=13.2,
        )
    )
    batch = [encode(example_pack_sample()), encode(small), encode(example_pack_sample(seq=9))]
    verdict = decode_and_validate_batch(batch, design=DESIGNS.get, now=NOW)
    assert verdict.rejected == {}
    assert sorted(g.arrays["cell_voltages"].shape for g in verdict.accepted) == [(1, 4), (2, 192)]


def test_a_bad_sample_is_rejected_with_its_own_reason_and_the_rest_accepted() -> None:
    bad = msgspec.structs.replace(example_pack_sample(), soc_pct=101.0)
    batch = [encode(example_pack_sample()), encode(bad), b"{", encode(example_pack_sample(seq=2))]
    verdict = decode_and_validate_batch(batch, design=DESIGNS.get, now=NOW)
    assert {i: r.reason_code for i, r in verdict.rejected.items()} == {
        1: RejectReason.SOC_OUT_OF_RANGE,
        2: RejectReason.UNDECODABLE,
    }
    assert verdict.accepted_count == 2
