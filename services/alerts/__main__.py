"""``python -m services.alerts``: the same process as ``packwatch alerts``."""

from __future__ import annotations

import argparse
import sys

from services.alerts.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.alerts")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["alerts", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
