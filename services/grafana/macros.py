"""Grafana's query-time expansion of SQL panel text, as the PostgreSQL datasource does it.

Three steps, in Grafana's order:

1. template variables, by the frontend (``$var``, ``${var}``): a single
   value goes in as it is, with quotes doubled; a multi-value or include-all
   variable becomes a comma list of quoted literals;
2. global substitutions (``sqleng.Interpolate``): ``$__interval_ms``,
   ``$__interval``, ``$__unixEpochFrom()``, ``$__unixEpochTo()``;
3. the macro engine (``pkg/tsdb/grafana-postgresql-datasource/macros.go``):
   ``$__time``, ``$__timeEpoch``, ``$__timeFilter``, ``$__timeFrom``,
   ``$__timeTo``, ``$__timeGroup``, ``$__timeGroupAlias``, ``$__unixEpoch*``.
   ``$__timeGroup`` is ``time_bucket('<s>s', col)`` when the datasource has its
   TimescaleDB flag on, ``floor(extract(epoch from col)/<s>)*<s>`` otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

#: Grafana's regexp for a macro call: ``$name(args)`` with no ``)`` inside.
MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$")


class MacroError(ValueError):
    """A macro Grafana would refuse (unknown name, missing argument, bad interval)."""


@dataclass(frozen=True)
class Variable:
    """A dashboard variable's current value, as the query sees it."""

    name: str
    values: tuple[str, ...]
    multi: bool = False
    include_all: bool = False


@dataclass(frozen=True)
class Context:
    """The time range, interval and variables one query runs with."""

    start: datetime
    end: datetime
    interval: timedelta = timedelta(minutes=1)
    timescaledb: bool = False
    variables: dict[str, Variable] = field(default_factory=dict)


def parse_interval(text: str) -> timedelta:
    """``gtime.ParseInterval`` for the units dashboards use (``10s``, ``5m``, ``1h``, ``1d``)."""
    m = _INTERVAL.match(text.strip().strip("'"))
    if not m:
        raise MacroError(f"error parsing interval {text}")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def format_interval(d: timedelta) -> str:
    """``gtime.FormatInterval``: the largest whole unit (``1m``, ``2h``, ``500ms``)."""
    ms = int(d.total_seconds() * 1000)
    for unit in ("y", "d", "h", "m", "s", "ms"):
        size = int(_UNITS[unit] * 1000)
        if ms >= size:
            return f"{ms // size}{unit}"
    return "1ms"


def _go_float(x: float) -> str:
    """Go's ``%v`` of a float64: shortest form, exponent from 1e21 (``%g`` with -1 precision)."""
    if x == int(x) and abs(x) < 1e21:
        return str(int(x))
    return repr(x)


def rfc3339(t: datetime) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: trailing zeros of the fraction dropped."""
    from datetime import UTC

    u = t.astimezone(UTC)
    frac = f"{u.microsecond:06d}".rstrip("0")
    return u.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def _literal(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def interpolate_variables(sql: str, variables: dict[str, Variable]) -> str:
    """Step 1: template variables (names starting ``__`` are left for later steps)."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        var = variables.get(name)
        if var is None:
            return m.group(0)
        if var.multi or var.include_all:
            return ",".join(_literal(v) for v in var.values)
        return var.values[0].replace("'", "''") if var.values else ""

    return _VAR.sub(sub, sql)


def interpolate_globals(sql: str, ctx: Context) -> str:
    """Step 2: ``sqleng.Interpolate`` (``$__interval_ms`` before ``$__interval``)."""
    sql = sql.replace("$__interval_ms", str(int(ctx.interval.total_seconds() * 1000)))
    sql = sql.replace("$__interval", format_interval(ctx.interval))
    sql = sql.replace("$__unixEpochFrom()", str(int(ctx.start.timestamp())))
    return sql.replace("$__unixEpochTo()", str(int(ctx.end.timestamp())))


def _group(col: str, interval: str, timescaledb: bool) -> str:
    secs = parse_interval(interval).total_seconds()
    if timescaledb:
        return f"time_bucket('{secs:.3f}s',{col})"
    return f"floor(extract(epoch from {col})/{_go_float(secs)})*{_go_float(secs)}"


def _macro(name: str, args: list[str], ctx: Context) -> str:
    frm, to = rfc3339(ctx.start), rfc3339(ctx.end)
    needs_col = {"__time", "__timeEpoch", "__timeFilter", "__unixEpochFilter"}
    if name in needs_col and (not args or not args[0]):
        raise MacroError(f"missing time column argument for macro {name}")
    groups = {"__timeGroup", "__timeGroupAlias", "__unixEpochGroup", "__unixEpochGroupAlias"}
    if name in groups and len(args) < 2:
        raise MacroError(f"macro {name} needs time column and interval and optional fill value")
    if name == "__time":
        return f'{args[0]} AS "time"'
    if name == "__timeEpoch":
        return f'extract(epoch from {args[0]}) as "time"'
    if name == "__timeFilter":
        return f"{args[0]} BETWEEN '{frm}' AND '{to}'"
    if name == "__timeFrom":
        return f"'{frm}'"
    if name == "__timeTo":
        return f"'{to}'"
    if name == "__timeGroup":
        return _group(args[0], args[1], ctx.timescaledb)
    if name == "__timeGroupAlias":
        return _group(args[0], args[1], ctx.timescaledb) + ' AS "time"'
    if name == "__unixEpochFilter":
        lo, hi = int(ctx.start.timestamp()), int(ctx.end.timestamp())
        return f"{args[0]} >= {lo} AND {args[0]} <= {hi}"
    if name in {"__unixEpochGroup", "__unixEpochGroupAlias"}:
        secs = _go_float(parse_interval(args[1]).total_seconds())
        out = f"floor(({args[0]})/{secs})*{secs}"
        return out + (' AS "time"' if name.endswith("Alias") else "")
    raise MacroError(f"unknown macro {name!r}")


def interpolate_macros(sql: str, ctx: Context) -> str:
    """Step 3: the PostgreSQL macro engine."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        # Grafana keeps a pre-5.3 habit: $__timeGroup(...) directly followed by
        # a comma is read as $__timeGroupAlias (it looks up the first occurrence).
        if name == "__timeGroup":
            at = sql.find(m.group(0)) + len(m.group(0))
            if at < len(sql) and sql[at] == ",":
                name = "__timeGroupAlias"
        args = [a.strip() for a in m.group(2).split(",")]
        return _macro(name, args, ctx)

    return MACRO.sub(sub, sql)


def expand(sql: str, ctx: Context) -> str:
    """The SQL Grafana would send to PostgreSQL for ``sql`` under ``ctx``."""
    sql = interpolate_variables(sql, ctx.variables)
    sql = interpolate_globals(sql, ctx)
    return interpolate_macros(sql, ctx)
