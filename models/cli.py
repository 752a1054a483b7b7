"""`packwatch models train|evaluate`: reproduce the shipped models, or measure them."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add ``models`` with ``train`` and ``evaluate`` to the packwatch command."""
    p = sub.add_parser("models", help="train or evaluate the pack models")
    msub = p.add_subparsers(dest="models_command", required=True)
    t = msub.add_parser("train", help="simulate, fit, export ONNX and write the model card")
    t.set_defaults(func=train)
    e = msub.add_parser("evaluate", help="evaluate the shipped models on held-out fleets")
    e.add_argument("--json", action="store_true", help="print one JSON line last")
    e.add_argument("--check", action="store_true", help="the small fixed check set only")
    e.set_defaults(func=evaluate)


def train(args: argparse.Namespace) -> int:
    from models.card import write_card
    from models.evaluate import evaluate as run_eval
    from models.evaluate import render
    from models.train import train_all

    train_all()
    full = run_eval("full")
    check = run_eval("check")
    write_card(full, check)
    print(render(full))
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from models.evaluate import dumps, render, summary_line
    from models.evaluate import evaluate as run_eval

    m = run_eval("check" if args.check else "full")
    print(render(m))
    if args.json:
        print(dumps(summary_line(m)))
    return 0
