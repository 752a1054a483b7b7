"""The API's pure pieces: token format, cursors, time ranges, roles, histograms, status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.api import signals, timerange, tokens
from services.api.auth import PERMISSIONS
from services.api.errors import BadCursor, BadRequest, RangeTooLarge, UnknownSignal
from services.api.fleetstate import classify
from services.api.routes_fleet import SOC_EDGES, histogram
from services.api.routes_telemetry import decode_cursor, encode_cursor

T = datetime(2026, 3, 1, 12, 0, 7, 123456, tzinfo=UTC)


def test_token_format_parses_only_well_formed_tokens() -> None:
    good = "pw_0123456789ab_" + "A" * 43
    assert tokens.parse(good) == ("0123456789ab", "A" * 43)
    for bad in ("", "pw_0123456789ab", good + "x", "px" + good[2:], good.replace("0", "G", 1)):
        assert tokens.parse(bad) is None


def test_cursor_round_trips_and_refuses_forgeries() -> None:
    assert decode_cursor(encode_cursor(T)) == T
    for bad in ("AAAA", "!!", encode_cursor(T)[:-2], "AQAAAAAAAAAA"):
        with pytest.raises(BadCursor):
            decode_cursor(bad)


def test_time_ranges_are_checked_and_aligned() -> None:
    timerange.check(T, T + timedelta(hours=1), timedelta(hours=1), "x")
    with pytest.raises(RangeTooLarge) as exc:
        timerange.check(T, T + timedelta(hours=2), timedelta(hours=1), "interval 1m")
    assert exc.value.details == {"limit_seconds": 3600, "requested_seconds": 7200}
    with pytest.raises(BadRequest):
        timerange.check(T, T, timedelta(hours=1), "x")
    with pytest.raises(BadRequest):
        timerange.check(datetime(1990, 1, 1, tzinfo=UTC), T, timedelta(days=99999), "x")
    assert timerange.floor(T, 60) == T.replace(second=0, microsecond=0)
    assert timerange.ceil(T, 900) == datetime(2026, 3, 1, 12, 15, tzinfo=UTC)
    assert timerange.ceil(T.replace(second=0, microsecond=0), 60) == T.replace(
        second=0, microsecond=0
    )


def test_roles_grant_what_the_issue_lists() -> None:
    assert "export" not in PERMISSIONS["operator"] | PERMISSIONS["maintenance"]
    assert "alerts:write" in PERMISSIONS["maintenance"] - PERMISSIONS["operator"]
    assert {"telemetry:raw", "export"} <= PERMISSIONS["engineer"]
    assert all(p <= PERMISSIONS["admin"] for p in PERMISSIONS.values())


def test_signal_allow_lists() -> None:
    assert "soc_pct" in signals.RAW_SIGNALS and "cell_voltages" not in signals.RAW_SIGNALS
    assert "vehicle_id" not in signals.RAW_SIGNALS
    assert signals.parse(None, signals.ROLLUP_SIGNALS, ("a",)) == ["a"]
    assert signals.parse("soc_pct_avg,soc_pct_avg", signals.ROLLUP_SIGNALS, ()) == ["soc_pct_avg"]
    with pytest.raises(UnknownSignal):
        signals.parse("soc_pct;drop", signals.RAW_SIGNALS, ())


def test_histogram_places_edges_in_the_right_bins() -> None:
    bins = histogram([0.0, 9.99, 10.0, 100.0, 100.5, -1.0], SOC_EDGES)
    counts = {(b["lower"], b["upper"]): b["count"] for b in bins}
    assert counts[(None, 0.0)] == 1
    assert counts[(0.0, 10.0)] == 2
    assert counts[(10.0, 20.0)] == 1
    assert counts[(90.0, 100.0)] == 1
    assert counts[(100.0, None)] == 1


def test_status_from_the_latest_sample() -> None:
    w = timedelta(minutes=2)
    assert classify(None, None, None, None, T, w) == "offline"
    assert classify(T - timedelta(minutes=3), 100.0, 0.0, 1, T, w) == "offline"
    assert classify(T, 100.0, 0.0, None, T, w) == "charging"
    assert classify(T, -50.0, 0.0, 1, T, w) == "charging"
    assert classify(T, -80.0, 30.0, 0, T, w) == "driving"
    assert classify(T, 0.0, 0.0, 0, T, w) == "idle"
