"""Shared parameter types: ids constrained to what the fleet writes, aware datetimes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import AwareDatetime

# Ids as the fleet writes them; anything else can never match and is refused early.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"

VehicleId = Annotated[
    str, Path(pattern=ID_PATTERN, max_length=64, examples=["BUS-0001"], description="Vehicle id")
]
PackId = Annotated[
    str, Path(pattern=ID_PATTERN, max_length=64, examples=["PK-NMC-R3-00001"], description="Pack")
]
DepotFilter = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=64, examples=["CHN-MDV"])]
DesignFilter = Annotated[
    str | None, Query(pattern=ID_PATTERN, max_length=64, examples=["LFP-CALB-R1"])
]
ChemistryFilter = Annotated[Literal["LFP", "NMC"] | None, Query()]
Start = Annotated[
    AwareDatetime, Query(description="Inclusive, with offset", examples=["2026-03-01T00:00:00Z"])
]
End = Annotated[
    AwareDatetime, Query(description="Exclusive, with offset", examples=["2026-03-02T00:00:00Z"])
]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
SignalList = Annotated[
    str | None,
    Query(
        max_length=2000,
        pattern=r"^[a-z0-9_,]*$",
        description="Comma-separated signal names (see the allow-list in a 400's details)",
        examples=["soc_pct_avg,pack_current_a_max"],
    ),
]
