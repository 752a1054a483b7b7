"""Generate the checked-in JSON Schemas of the message contracts.

    python -m schemas.gen_json_schema           # rewrite schemas/json/*.json
    python -m schemas.gen_json_schema --check   # exit 1 if a file is stale

One file per contract and version, ``schemas/json/<name>.v<version>.json``,
generated from the msgspec Structs so that readers in other languages see
exactly what the Python code accepts. Output is deterministic (sorted keys,
two-space indent, trailing newline) so a diff shows only real changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import msgspec

from schemas.common import SCHEMA_VERSION_V1
from schemas.messages import MESSAGE_TYPES

#: Where the generated files live.
JSON_DIR: Final = Path(__file__).resolve().parent / "json"

_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"


def schema_for(name: str, version: int = SCHEMA_VERSION_V1) -> dict[str, Any]:
    """The JSON Schema document of contract ``name`` (a key of MESSAGE_TYPES)."""
    doc: dict[str, Any] = msgspec.json.schema(MESSAGE_TYPES[name])
    doc["$schema"] = _DIALECT
    doc["$id"] = f"urn:packwatch:schema:{name}:v{version}"
    return doc


def render_all() -> dict[str, str]:
    """File name → file text for every contract, exactly as it is checked in."""
    return {
        f"{name}.v{SCHEMA_VERSION_V1}.json": json.dumps(schema_for(name), indent=2, sort_keys=True)
        + "\n"
        for name in MESSAGE_TYPES
    }


def stale_files(directory: Path = JSON_DIR) -> list[str]:
    """Names of generated files that are missing or differ from the code."""
    stale = []
    for file_name, text in render_all().items():
        path = directory / file_name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(file_name)
    return stale


def write_all(directory: Path = JSON_DIR) -> list[str]:
    """Write every schema file into ``directory``; returns the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    rendered = render_all()
    for file_name, text in rendered.items():
        (directory / file_name).write_text(text, encoding="utf-8")
    return sorted(rendered)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    parser.add_argument("--dir", type=Path, default=JSON_DIR, help="output directory")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.dir)
        for file_name in stale:
            print(f"stale: {args.dir / file_name}", file=sys.stderr)
        if stale:
            print("run: python -m schemas.gen_json_schema", file=sys.stderr)
        return 1 if stale else 0
    for file_name in write_all(args.dir):
        print(args.dir / file_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
