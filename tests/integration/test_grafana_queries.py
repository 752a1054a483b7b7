"""Every provisioned SQL query, expanded as Grafana expands it, on the embedded PostgreSQL
holding a simulated fleet: it runs, returns the shape its panel needs, and the
fleet overview stays on the rollups for a one-day range."""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from services.grafana import check, cli, render
from services.grafana.boards import OVERVIEW_UID
from tests.integration.test_grafana_support import BUSES, prepare

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
async def fleet(pg_server: str) -> AsyncIterator[tuple[str, datetime]]:
    """One database with the simulated fleet for the module (preparing it takes seconds)."""
    name = f"t_gf_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(pg_server)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    dsn = pg_server.rpartition("/")[0] + f"/{name}"
    try:
        yield dsn, await prepare(dsn)
    finally:
        conn = await asyncpg.connect(pg_server)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def test_every_query_runs_with_the_shape_its_panel_needs(
    fleet: tuple[str, datetime],
) -> None:
    dsn, end = fleet
    report = await check.check(dsn, render.ROOT, end - timedelta(days=1), end)
    summary = report.summary()
    assert summary["queries_failed"] == []
    assert summary["dashboards"] == 5
    # 4 Prometheus-only panels aside, each SQL panel, variable, annotation and rule ran.
    assert summary["queries_ok"] == len(report.outcomes) >= 30
    assert report.timescaledb is False
    rows = {o.key: o for o in report.outcomes}
    # The data is really there: the panels are not just syntactically right.
    buses = rows[f"{OVERVIEW_UID}/Buses now/A"].result[0]
    assert buses["online"] == BUSES and buses["offline"] == 0
    assert rows["packwatch-vehicle-pack/$vehicle"].rows == BUSES
    heat = rows["packwatch-vehicle-pack/Cell voltages/A"]
    assert heat.columns == [("time", "numeric"), ("metric", "text"), ("value", "float8")]
    cells = {r["metric"] for r in heat.result}
    assert "cell 001" in cells and len(cells) in (176, 200)  # the first bus's design
    energy = rows[f"{OVERVIEW_UID}/Energy in range/A"].result[0]
    assert energy["consumed"] > 0


async def test_one_day_overview_stays_on_rollups_and_a_raw_query_is_caught(
    fleet: tuple[str, datetime], tmp_path: Path
) -> None:
    dsn, end = fleet
    report = await check.check(dsn, render.ROOT, end - timedelta(days=1), end)
    overview = [o for o in report.outcomes if o.key.startswith(OVERVIEW_UID)]
    assert len(overview) == 7
    assert report.raw_scans_in_overview == 0
    # The detector works: the same panel on raw samples counts as a raw scan.
    render.write(tmp_path)
    board = tmp_path / "dashboards" / f"{OVERVIEW_UID}.json"
    model = json.loads(board.read_text())
    model["panels"][1]["targets"][0]["rawSql"] = (
        "SELECT sum(pack_current_a)::float8 AS charged FROM pack_samples WHERE $__timeFilter(ts)"
    )
    board.write_text(json.dumps(model))
    bad = await check.check(dsn, tmp_path, end - timedelta(days=1), end)
    assert bad.raw_scans_in_overview == 1
    assert bad.summary()["queries_failed"] == []


async def test_a_broken_query_is_reported_not_raised(
    fleet: tuple[str, datetime], tmp_path: Path
) -> None:
    dsn, end = fleet
    render.write(tmp_path)
    board = tmp_path / "dashboards" / "packwatch-thermal-alerts.json"
    model = json.loads(board.read_text())
    model["panels"][0]["targets"][0]["rawSql"] = "SELECT no_such_column FROM anomalies"
    model["panels"][1]["targets"][0]["rawSql"] = "SELECT kind AS metric FROM anomalies"
    board.write_text(json.dumps(model))
    failed = (await check.check(dsn, tmp_path, end - timedelta(days=1), end)).summary()[
        "queries_failed"
    ]
    assert [f["query"] for f in failed] == [
        "packwatch-thermal-alerts/Active anomalies by kind/A",
        "packwatch-thermal-alerts/Anomalies over time by kind/A",
    ]
    assert "UndefinedColumnError" in failed[0]["error"]
    assert "time" in failed[1]["error"]


def test_cli_prints_the_json_summary_last(
    fleet: tuple[str, datetime], capsys: pytest.CaptureFixture[str]
) -> None:
    dsn, end = fleet
    parser = argparse.ArgumentParser(prog="packwatch")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["grafana", "check", "--json", "--dsn", dsn, "--end", end.isoformat()])
    assert args.func(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    last = json.loads(lines[-1])
    assert list(last) == [
        "dashboards", "panels", "queries_ok", "queries_failed", "raw_scans_in_overview",
    ]  # fmt: skip
    assert last["dashboards"] == 5 and last["panels"] == 38
    assert last["queries_failed"] == [] and last["raw_scans_in_overview"] == 0
