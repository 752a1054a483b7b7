"""``packwatch simulate --out file``: candump log, Parquet samples and labels on disk."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from services.simulator.cli import register


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="packwatch")
    register(parser.add_subparsers())
    return parser.parse_args(["simulate", *argv])


COMMON = (
    "--buses",
    "3",
    "--speed",
    "0",
    "--duration",
    "2m",
    "--out",
    "file",
    "--seed",
    "5",
    "--start",
    "2026-05-04T03:00:00+00:00",
    "--faults",
    "cooling_failure:BUS-0002@30s:mode=pump:severity=0.7,weak_cell:random",
)


def test_can_mode_writes_a_candump_log_and_labels(tmp_path: Path) -> None:
    args = _args(*COMMON, "--mode", "can", "--out-dir", str(tmp_path))
    assert args.func(args) == 0
    lines = (tmp_path / "can.log").read_text().splitlines()
    assert all(
        re.fullmatch(r"\(\d+\.\d{6}\) BUS-000[1-3] [0-9A-F]{8}#[0-9A-F]{16}", ln)
        for ln in lines[:500]
    )
    assert len({ln.split()[1] for ln in lines}) == 3
    labels = [json.loads(ln) for ln in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert {(x["kind"], x["vehicle_id"]) for x in labels} >= {("cooling_failure", "BUS-0002")}
    assert {x["kind"] for x in labels} == {"cooling_failure", "weak_cell"}
    truth = pq.read_table(tmp_path / "truth.parquet").to_pylist()
    assert {t["vehicle_id"] for t in truth} == {"BUS-0001", "BUS-0002", "BUS-0003"}
    assert all(len(t["capacity_ah"]) in (176, 204) for t in truth)


def test_pack_mode_writes_parquet_samples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(*COMMON, "--mode", "pack", "--out-dir", str(tmp_path))
    assert args.func(args) == 0
    table = pq.read_table(tmp_path / "samples.parquet")
    # 120 s of 3 buses; the link drops, duplicates and delays the odd message.
    assert 340 <= table.num_rows <= 380
    assert {"vehicle_id", "ts", "seq", "cell_voltages", "cell_temps", "soc_pct"} <= set(
        table.column_names
    )
    assert "simulated 120 s of 3 buses" in capsys.readouterr().out


def test_bad_fault_spec_is_a_usage_error(tmp_path: Path) -> None:
    args = _args(
        "--faults", "meltdown", "--out", "file", "--out-dir", str(tmp_path), "--duration", "1s"
    )
    assert args.func(args) == 2
