"""The pack's CAN database (DBC) and the J1939 identifier arithmetic around it.

``load_database()`` parses ``packwatch_ebus.dbc`` once per process with cantools.
cantools matches frame identifiers exactly, but on a J1939 bus the same
parameter group arrives with any priority and from any source address, so
lookups go through :func:`pgn_of`, which masks both away.

Identifier layout (29 bits): priority (3) | EDP (1) | DP (1) | PF (8) | PS (8) | SA (8).
For PF >= 240 (PDU2) PS is part of the PGN; for PF < 240 (PDU1) PS is a
destination address and is not.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import cantools

from schemas.can.signals import DBC_PATH, MessageDef, message_table

__all__ = [
    "DBC_PATH",
    "MessageDef",
    "frame_id",
    "load_database",
    "message_for_frame_id",
    "message_for_pgn",
    "pgn_of",
    "source_address_of",
    "table_by_name",
]

ID_MASK_29 = 0x1FFFFFFF


def pgn_of(can_id: int) -> int:
    """The J1939 PGN of a 29-bit identifier: priority, source and PDU1 destination removed."""
    pgn = (can_id >> 8) & 0x3FFFF
    if (pgn >> 8) & 0xFF < 240:
        pgn &= 0x3FF00
    return pgn


def source_address_of(can_id: int) -> int:
    """The J1939 source address (low 8 bits) of an identifier."""
    return can_id & 0xFF


def frame_id(pgn: int, source_address: int, priority: int = 6) -> int:
    """The 29-bit identifier carrying ``pgn`` from ``source_address`` at ``priority`` (0-7)."""
    if not 0 <= source_address <= 0xFF:
        raise ValueError(f"source address {source_address} is outside 0..255")
    if not 0 <= priority <= 7:
        raise ValueError(f"priority {priority} is outside 0..7")
    if not 0 <= pgn <= 0x3FFFF:
        raise ValueError(f"PGN {pgn} is outside 0..0x3FFFF")
    return (priority << 26) | (pgn << 8) | source_address


@cache
def load_database() -> Any:
    """The parsed ``cantools.database.can.Database``; parsed on first call, then shared.

    Callers must treat it as read-only: it is one object for the whole process.
    """
    return cantools.database.load_file(str(DBC_PATH), database_format="dbc", strict=True)


@cache
def _by_pgn() -> dict[int, Any]:
    return {pgn_of(m.frame_id): m for m in load_database().messages}


def message_for_pgn(pgn: int) -> Any | None:
    """The cantools ``Message`` of a PGN, or None when the DBC does not define it."""
    return _by_pgn().get(pgn)


def message_for_frame_id(can_id: int) -> Any | None:
    """The cantools ``Message`` for an identifier of any priority and source address, or None."""
    return _by_pgn().get(pgn_of(can_id & ID_MASK_29))


@cache
def table_by_name() -> dict[str, MessageDef]:
    """The signal table's message definitions keyed by message name."""
    return {m.name: m for m in message_table()}
