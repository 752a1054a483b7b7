"""The signal allow-lists, derived from the table and rollup definitions.

Only names from these lists ever reach SQL text; values always travel as
bound parameters. Raw signals are the numeric scalar columns of
``pack_samples``; downsampled signals are the rollup aggregates of
:data:`schemas.db.rollups.AGGREGATES` (``soc_pct_avg``, ``energy_in_kwh``…).
"""

from __future__ import annotations

from sqlalchemy import ARRAY, BigInteger, Float, Integer, SmallInteger

from schemas.db.rollups import AGGREGATES
from schemas.db.tables import pack_samples
from services.api.errors import UnknownSignal

_NOT_SIGNALS = {"vehicle_id", "ts", "seq"}

#: Numeric scalar columns of pack_samples, in table order.
RAW_SIGNALS: tuple[str, ...] = tuple(
    c.name
    for c in pack_samples.columns
    if c.name not in _NOT_SIGNALS
    and not isinstance(c.type, ARRAY)
    and isinstance(c.type, Float | Integer | SmallInteger | BigInteger)
)
#: Rollup aggregates; ``n`` (samples per bucket) is always returned.
ROLLUP_SIGNALS: tuple[str, ...] = tuple(a.name for a in AGGREGATES if a.name != "n")

DEFAULT_RAW = ("soc_pct", "pack_voltage_v", "pack_current_a", "cell_temp_max_c")
DEFAULT_ROLLUP = ("soc_pct_avg", "pack_voltage_v_avg", "pack_current_a_avg", "cell_temp_max_c")
CELL_ARRAYS = ("cell_voltages", "cell_temps")


def parse(text: str | None, allowed: tuple[str, ...], default: tuple[str, ...]) -> list[str]:
    """The signals named in a comma-separated list, checked against ``allowed``.

    Empty or absent → ``default``. Duplicates are dropped, order kept.
    Raises :class:`UnknownSignal` naming the allowed signals.
    """
    if not text or not text.strip(","):
        return list(default)
    names = list(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise UnknownSignal(
            f"unknown signal(s) {', '.join(unknown)[:200]}; see details.allowed",
            allowed=list(allowed),
        )
    return names
