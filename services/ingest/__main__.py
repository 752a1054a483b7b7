"""``python -m services.ingest [--group G] [--workers N]``: ``packwatch ingest`` alone.

The same command without the rest of packwatch's CLI, which loads every
service's modules to list its subcommands. The processes of
``packwatch ingest --workers N`` start this way, so each holds only what
ingestion needs in memory.
"""

from __future__ import annotations

import argparse
import sys

from services.ingest.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.ingest")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["ingest", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
