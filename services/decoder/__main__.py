"""``python -m services.decoder``: the same process as ``packwatch decoder``."""

from __future__ import annotations

import argparse
import sys

from services.decoder.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.decoder")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["decoder", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
