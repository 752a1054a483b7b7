"""Scoring's own decoder reads the same numbers as a PackSample, and refuses what it refuses."""

from __future__ import annotations

import gc
import struct
from datetime import timedelta

import msgspec
import pytest

from schemas.errors import MessageDecodeError
from schemas.examples import EXAMPLE_TS, example_pack_sample
from schemas.messages import decode_pack_sample, encode
from services.scoring.samples import decode_scoring_samples

GOOD = example_pack_sample(vehicle_id="BUS-0007")
GOOD_JSON = msgspec.json.decode(encode(GOOD))


def _with(**changes: object) -> bytes:
    return msgspec.json.encode({**GOOD_JSON, **changes})


def _without(name: str) -> bytes:
    return msgspec.json.encode({k: v for k, v in GOOD_JSON.items() if k != name})


def test_the_same_numbers_as_the_contracts_decoder() -> None:
    odd = msgspec.structs.replace(
        GOOD,
        pack_id="PK-1",
        ts=EXAMPLE_TS + timedelta(microseconds=822_316),
        pack_current_a=-10.349999999999909,
        cell_voltages=[3.3160000000000003, 0.1 + 0.2, 3.3, 1e-5, *GOOD.cell_voltages[4:]],
        coolant_inlet_c=None,
        ambient_c=31.25,
    )
    (got,), failed = decode_scoring_samples([encode(odd)])
    want = decode_pack_sample(encode(odd))
    assert failed == 0
    assert (got.vehicle_id, got.pack_id) == ("BUS-0007", "PK-1")
    assert got.ts_s == want.ts.timestamp()
    assert got.current_a == want.pack_current_a
    n, m = len(want.cell_voltages), len(want.cell_temps)
    assert (got.n_cells, got.n_temps) == (n, m)
    assert got.cells == struct.pack(f"={n}d", *want.cell_voltages)
    assert got.temps == struct.pack(f"={m}d", *want.cell_temps)
    assert got.inlet_c != got.inlet_c  # None reads as NaN
    assert (got.outlet_c, got.ambient_c, got.insulation_kohm) == (
        want.coolant_outlet_c,
        31.25,
        want.insulation_kohm,
    )


@pytest.mark.parametrize(
    "ts",
    ["2741-05-08T06:56:03.443461Z", "1200-01-01T00:00:00.000001+05:30", "1970-01-01T00:00:00Z"],
)
def test_times_far_from_now_are_the_seconds_datetime_gives(ts: str) -> None:
    payload = _with(ts=ts)  # past 2**53 microseconds from 1970, a float loses the last digit
    (got,), failed = decode_scoring_samples([payload])
    assert failed == 0 and got.ts_s == decode_pack_sample(payload).ts.timestamp()


def test_arrays_the_fast_parser_declines_are_read_by_msgspec() -> None:
    long_digits = "[" + ",".join(f"{v:.25f}" for v in GOOD.cell_voltages) + "]"
    fields = {k: v for k, v in GOOD_JSON.items() if k != "cell_voltages"}
    text = msgspec.json.encode(fields)[:-1] + b',"cell_voltages":' + long_digits.encode() + b"}"
    (got,), failed = decode_scoring_samples([text])
    want = decode_pack_sample(text)
    assert failed == 0
    assert got.cells == struct.pack(f"={len(want.cell_voltages)}d", *want.cell_voltages)
    # In a batch, in place: the declined one between two the fast parser reads.
    samples, failed = decode_scoring_samples([encode(GOOD), text, _with(seq=5)])
    assert failed == 0 and len(samples) == 3 and samples[1].cells == got.cells


def test_a_repeated_array_is_checked_copy_by_copy_as_the_contract_does() -> None:
    later = msgspec.json.encode(GOOD_JSON)[1:]
    bad_first = b'{"cell_temps": "oops", ' + later
    with pytest.raises(MessageDecodeError):
        decode_pack_sample(bad_first)
    samples, failed = decode_scoring_samples([bad_first])
    assert (samples, failed) == ([], 1)
    escaped = b'{"cell_\\u0074emps": "oops", ' + later  # the same key, written with an escape
    with pytest.raises(MessageDecodeError):
        decode_pack_sample(escaped)
    assert decode_scoring_samples([escaped]) == ([], 1)
    good_first = b'{"cell_temps": [-0], ' + later  # both copies numbers: the last one counts
    (got,), failed = decode_scoring_samples([good_first])
    want = decode_pack_sample(good_first)
    assert failed == 0 and got.temps == struct.pack(f"={len(want.cell_temps)}d", *want.cell_temps)


def test_the_integer_minus_zero_is_plus_zero_as_in_the_contract() -> None:
    text = _with(cell_temps=[0.0] * len(GOOD.cell_temps)).replace(b"[0.0,", b"[-0,", 1)
    (got,), failed = decode_scoring_samples([text])
    want = decode_pack_sample(text)
    assert failed == 0 and want.cell_temps[0] == 0.0
    assert got.temps == struct.pack(f"={len(want.cell_temps)}d", *want.cell_temps)


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b'{"schema_version": 1}',
        _without("ts"),
        _without("seq"),  # required by the contract though scoring does not read it
        _without("cell_temps"),
        _with(cell_voltages=[3.3, "3.3"]),
        _with(cell_temps=[25.0, None]),
        _with(pack_current_a=None),
        _with(schema_version=99),
        _with(ts="2026-05-04T04:00:00"),  # no UTC offset
    ],
    ids=[
        "not-json",
        "header-only",
        "no-ts",
        "no-seq",
        "no-temps",
        "string-cell",
        "null-temp",
        "null-current",
        "version-99",
        "naive-ts",
    ],  # fmt: skip
)
def test_a_payload_the_contract_refuses_is_counted_not_scored(payload: bytes) -> None:
    with pytest.raises(MessageDecodeError):
        decode_pack_sample(payload)
    assert gc.isenabled()
    samples, failed = decode_scoring_samples([encode(GOOD), payload, encode(GOOD)])
    assert gc.isenabled()  # the collector is back on after the batch
    assert failed == 1
    assert [s.vehicle_id for s in samples] == ["BUS-0007", "BUS-0007"]


def test_fields_scoring_does_not_read_are_skipped_unread() -> None:
    # Ingestion refuses this sample (and dead-letters it); scoring only reads what it needs.
    payload = _with(soh_pct="not a number")
    with pytest.raises(MessageDecodeError):
        decode_pack_sample(payload)
    (s,), failed = decode_scoring_samples([payload])
    assert failed == 0
    assert s.ts_s == GOOD.ts.timestamp()


def test_a_field_the_contract_does_not_know_is_ignored() -> None:
    (got,), failed = decode_scoring_samples([_with(cabin_temp_c=21.5, cabin={"doors": [1, 2]})])
    assert failed == 0
    assert got.cells == struct.pack(f"={len(GOOD.cell_voltages)}d", *GOOD.cell_voltages)
    assert got.ts_s == GOOD.ts.timestamp()
