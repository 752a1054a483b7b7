"""Macro expansion matches what Grafana's PostgreSQL datasource produces.

Expected strings follow Grafana's macro engine
(pkg/tsdb/grafana-postgresql-datasource/macros.go), ``sqleng.Interpolate``
and the SQL datasource's ``interpolateVariable``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.grafana.check import auto_interval
from services.grafana.macros import (
    Context,
    MacroError,
    Variable,
    expand,
    format_interval,
    rfc3339,
)

START = datetime(2026, 5, 4, 5, 1, 17, tzinfo=UTC)
END = datetime(2026, 5, 4, 11, 1, 17, 250000, tzinfo=UTC)


def ctx(**kw: object) -> Context:
    return Context(START, END, **kw)  # type: ignore[arg-type]


def test_time_filter_from_and_to_are_rfc3339_utc() -> None:
    assert expand("WHERE $__timeFilter(ts)", ctx()) == (
        "WHERE ts BETWEEN '2026-05-04T05:01:17Z' AND '2026-05-04T11:01:17.25Z'"
    )
    assert expand("$__timeFrom() $__timeTo()", ctx()) == (
        "'2026-05-04T05:01:17Z' '2026-05-04T11:01:17.25Z'"
    )
    ist = timezone(timedelta(hours=5, minutes=30))
    assert rfc3339(datetime(2026, 5, 4, 10, 31, 17, tzinfo=ist)) == "2026-05-04T05:01:17Z"


def test_time_group_plain_and_timescaledb() -> None:
    assert expand("$__timeGroup(bucket, 5m)", ctx()) == (
        "floor(extract(epoch from bucket)/300)*300"
    )
    assert expand("$__timeGroupAlias(bucket, '1h')", ctx()) == (
        'floor(extract(epoch from bucket)/3600)*3600 AS "time"'
    )
    assert expand("$__timeGroupAlias(bucket, 1m)", ctx(timescaledb=True)) == (
        "time_bucket('60.000s',bucket) AS \"time\""
    )
    # The pre-5.3 form: $__timeGroup directly followed by a comma gains the alias.
    assert expand("SELECT $__timeGroup(ts, 10s), 1", ctx()) == (
        'SELECT floor(extract(epoch from ts)/10)*10 AS "time", 1'
    )


def test_interval_globals_then_macros() -> None:
    c = ctx(interval=timedelta(minutes=10))
    assert expand("$__interval $__interval_ms", c) == "10m 600000"
    assert expand("$__timeGroupAlias(ts, $__interval)", c) == (
        'floor(extract(epoch from ts)/600)*600 AS "time"'
    )
    assert expand("$__unixEpochFrom() $__unixEpochTo()", c) == "1777870877 1777892477"
    assert format_interval(timedelta(seconds=90)) == "1m"
    assert format_interval(timedelta(milliseconds=500)) == "500ms"
    assert format_interval(timedelta(days=2)) == "2d"


def test_template_variables_single_and_multi() -> None:
    one = Variable("vehicle", ("BUS-0'1",))
    many = Variable("pack", ("PK-1", "PK-2"), multi=True, include_all=True)
    c = ctx(variables={"vehicle": one, "pack": many})
    assert expand("v = '$vehicle' AND p IN ($pack) AND q = '${vehicle}'", c) == (
        "v = 'BUS-0''1' AND p IN ('PK-1','PK-2') AND q = 'BUS-0''1'"
    )


def test_unknown_macro_and_missing_arguments_are_refused() -> None:
    with pytest.raises(MacroError, match="unknown macro"):
        expand("$__nope(x)", ctx())
    with pytest.raises(MacroError, match="needs time column and interval"):
        expand("$__timeGroup(ts)", ctx())
    with pytest.raises(MacroError, match="missing time column"):
        expand("$__timeFilter()", ctx())


def test_auto_interval_rounds_up_and_respects_the_minimum() -> None:
    day = timedelta(days=1)
    assert auto_interval(day, timedelta(minutes=1), 150) == timedelta(minutes=10)
    assert auto_interval(timedelta(hours=1), timedelta(minutes=1), 1000) == timedelta(minutes=1)
    assert auto_interval(day, timedelta(seconds=1), 1000) == timedelta(minutes=2)
