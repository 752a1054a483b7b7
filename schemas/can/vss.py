"""The DBC-signal to COVESA VSS mapping, read from ``vss_map.csv``.

Each row names a DBC signal (or an ``fnmatch`` pattern for the elements of a
multiplexed array, e.g. ``CellVoltage[0-9][0-9][0-9]``), its VSS path (empty
where VSS has none), the VSS unit, and a note on any conversion. Every signal
of the DBC except multiplexer indices is matched by exactly one row; a unit
test holds the file to that.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

VSS_MAP_PATH = Path(__file__).with_name("vss_map.csv")

#: DBC unit text -> the VSS unit name for the same unit.
DBC_TO_VSS_UNIT = {
    "V": "V",
    "A": "A",
    "%": "percent",
    "degC": "celsius",
    "km/h": "km/h",
    "km": "km",
    "kWh": "kWh",
    "deg": "degrees",
    "": "",
}


@dataclass(frozen=True)
class VssMapping:
    """One row of the mapping table."""

    signal: str
    vss_path: str | None
    vss_unit: str
    note: str

    def matches(self, signal_name: str) -> bool:
        """Whether this row covers the DBC signal ``signal_name``."""
        return fnmatchcase(signal_name, self.signal)


@cache
def load_vss_map(path: Path = VSS_MAP_PATH) -> tuple[VssMapping, ...]:
    """All rows of the mapping table, in file order; parsed once per path."""
    with path.open(newline="", encoding="utf-8") as fh:
        return tuple(
            VssMapping(r["signal"], r["vss_path"] or None, r["vss_unit"], r["note"])
            for r in csv.DictReader(fh)
        )


def mapping_for(signal_name: str) -> VssMapping:
    """The row covering ``signal_name``; KeyError when none does."""
    for row in load_vss_map():
        if row.matches(signal_name):
            return row
    raise KeyError(f"{signal_name} is not in {VSS_MAP_PATH.name}")


def vss_path_for(signal_name: str) -> str | None:
    """The VSS path of a DBC signal, or None where VSS has none; KeyError if unmapped."""
    return mapping_for(signal_name).vss_path


def signals_for_vss(vss_path: str, signal_names: list[str]) -> list[str]:
    """Those of ``signal_names`` that map to ``vss_path``, in the given order."""
    rows = [r for r in load_vss_map() if r.vss_path == vss_path]
    return [s for s in signal_names if any(r.matches(s) for r in rows)]
