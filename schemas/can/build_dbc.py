"""Render the signal table (``schemas/can/signals.py``) into the checked-in DBC.

Run ``python -m schemas.can.build_dbc`` after editing the table; it rewrites
``schemas/can/packwatch_ebus.dbc``. ``--check`` exits non-zero when the file on
disk differs from what the table renders (the unit tests do the same check).
The output is deterministic: the same table always renders the same bytes.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal

from schemas.can.signals import DBC_PATH, SOURCE_ADDRESSES, MessageDef, SignalDef, message_table

# DBC marks a 29-bit identifier by setting bit 31 of the number written after BO_.
_EXTENDED_FLAG = 0x80000000

_HEADER = """VERSION "packwatch-ebus-1"

NS_ :
\tNS_DESC_
\tCM_
\tBA_DEF_
\tBA_
\tVAL_
\tBA_DEF_DEF_
\tVAL_TABLE_
\tSIG_GROUP_
\tSIG_VALTYPE_
\tBO_TX_BU_

BS_:

"""

_FILE_COMMENT = (
    "packwatch e-bus pack CAN database, generated from schemas/can/signals.py; do not edit. "
    "SAE J1939 conventions: 29-bit identifiers, little-endian signals, decoders mask priority "
    "and source address. Unsigned 8/16/32-bit fields reserve raw values from 0xFB, 0xFB00, "
    "0xFB000000 upward for error/not-available. Pack current positive = charging (COVESA VSS)."
)


def _num(x: float) -> str:
    """Shortest exact decimal text of a number, never in exponent form (DBC readers vary)."""
    if float(x).is_integer():
        return str(int(x))
    return format(Decimal(repr(float(x))), "f")


def _signal_line(sig: SignalDef) -> str:
    mux = " M" if sig.is_multiplexer else (f" m{sig.mux_id}" if sig.mux_id is not None else "")
    sign = "-" if sig.signed else "+"
    return (
        f" SG_ {sig.name}{mux} : {sig.start}|{sig.length}@1{sign} "
        f"({_num(sig.scale)},{_num(sig.offset)}) [{_num(sig.minimum)}|{_num(sig.maximum)}] "
        f'"{sig.unit}" Vector__XXX'
    )


def _dbc_id(msg: MessageDef) -> int:
    return msg.frame_id | _EXTENDED_FLAG


def _check(messages: tuple[MessageDef, ...]) -> None:
    """Refuse tables that would render a DBC no J1939 decoder can trust."""
    pgns: set[int] = set()
    for msg in messages:
        if msg.pgn in pgns:
            raise ValueError(f"duplicate PGN {msg.pgn} ({msg.name})")
        pgns.add(msg.pgn)
        if (msg.pgn >> 8) & 0xFF < 240:
            raise ValueError(f"{msg.name}: PDU1 PGNs are not supported by the decoders")
        for sig in msg.signals:
            for text in (sig.comment, sig.unit, *(c for _, c in sig.choices)):
                if '"' in text:
                    raise ValueError(f"{msg.name}.{sig.name}: double quote in text")
            if sig.start + sig.length > 8 * msg.dlc:
                raise ValueError(f"{msg.name}.{sig.name}: runs past the frame")


def render_dbc(messages: tuple[MessageDef, ...] | None = None) -> str:
    """Return the DBC text for ``messages`` (default: the packwatch signal table)."""
    messages = message_table() if messages is None else messages
    _check(messages)
    out = [_HEADER, "BU_: " + " ".join(SOURCE_ADDRESSES) + "\n\n"]
    for msg in messages:
        out.append(f"BO_ {_dbc_id(msg)} {msg.name}: {msg.dlc} {msg.sender}\n")
        out.extend(_signal_line(sig) + "\n" for sig in msg.signals)
        out.append("\n")
    out.append(f'CM_ "{_FILE_COMMENT}";\n')
    for msg in messages:
        out.append(f'CM_ BO_ {_dbc_id(msg)} "PGN {msg.pgn} (0x{msg.pgn:04X}). {msg.comment}";\n')
        for sig in msg.signals:
            rng = f"Range {_num(sig.minimum)}..{_num(sig.maximum)} {sig.unit}".rstrip()
            out.append(f'CM_ SG_ {_dbc_id(msg)} {sig.name} "{sig.comment} {rng}.";\n')
    out.append(
        'BA_DEF_ BO_ "VFrameFormat" ENUM "StandardCAN","ExtendedCAN","reserved","J1939PG";\n'
        'BA_DEF_ "ProtocolType" STRING ;\n'
        'BA_DEF_ BO_ "GenMsgCycleTime" INT 0 65535;\n'
        'BA_DEF_DEF_ "VFrameFormat" "J1939PG";\n'
        'BA_DEF_DEF_ "ProtocolType" "";\n'
        'BA_DEF_DEF_ "GenMsgCycleTime" 0;\n'
        'BA_ "ProtocolType" "J1939";\n'
    )
    for msg in messages:
        out.append(f'BA_ "VFrameFormat" BO_ {_dbc_id(msg)} 3;\n')
        out.append(f'BA_ "GenMsgCycleTime" BO_ {_dbc_id(msg)} {msg.cycle_ms};\n')
    for msg in messages:
        for sig in msg.signals:
            if sig.choices:
                pairs = " ".join(f'{v} "{t}"' for v, t in sorted(sig.choices, reverse=True))
                out.append(f"VAL_ {_dbc_id(msg)} {sig.name} {pairs} ;\n")
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    """Write the DBC, or with ``--check`` report whether the file on disk is current."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the DBC is stale")
    args = parser.parse_args(argv)
    text = render_dbc()
    if args.check:
        current = DBC_PATH.read_text(encoding="ascii") if DBC_PATH.exists() else ""
        if current != text:
            print(f"{DBC_PATH} is stale; run python -m schemas.can.build_dbc", file=sys.stderr)
            return 1
        return 0
    DBC_PATH.write_text(text, encoding="ascii")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
