"""The checked-in Grafana files are what the code renders; they refer to things that exist."""

from __future__ import annotations

import re
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from services.api.metric_defs import new_api_metrics
from services.core.metric_defs import new_registry
from services.core.settings import PROJECT_ROOT
from services.decoder.metric_defs import decoder_metrics
from services.grafana import render
from services.grafana.boards import pipeline
from services.grafana.datasources import POSTGRES_UID, PROMETHEUS_UID
from services.grafana.queries import load, panel_queries, rule_queries


def test_checked_in_files_match_the_code() -> None:
    assert render.drift() == [], "run `packwatch grafana build` and commit infra/grafana"


def test_drift_is_detected_for_a_changed_a_missing_and_a_stale_file(tmp_path: Any) -> None:
    render.write(tmp_path)
    assert render.drift(tmp_path) == []
    board = tmp_path / "dashboards" / "packwatch-fleet-overview.json"
    board.write_text(board.read_text().replace("pack_samples_1m", "pack_samples"))
    (tmp_path / "provisioning" / "alerting" / "packwatch.yaml").unlink()
    (tmp_path / "dashboards" / "hand-made.json").write_text("{}")
    assert sorted(render.drift(tmp_path)) == [
        "dashboards/hand-made.json",
        "dashboards/packwatch-fleet-overview.json",
        "provisioning/alerting/packwatch.yaml",
    ]


def _exported_names(reg: CollectorRegistry) -> set[str]:
    """Series names a registry exports: counters gain _total, histograms _bucket/_sum/_count."""
    names = set()
    for fam in reg.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        names |= {fam.name + s for s in suffixes.get(fam.type, [""])}
    return names


def test_pipeline_dashboard_uses_only_declared_metric_names() -> None:
    reg = CollectorRegistry()
    decoder_metrics(reg)
    declared = (
        _exported_names(new_registry().registry)
        | _exported_names(new_api_metrics().registry)
        | _exported_names(reg)
    )
    used = {
        name
        for exprs, _ in pipeline.PANELS.values()
        for expr in exprs.values()
        for name in re.findall(r"\bpackwatch_[a-z0-9_]+", expr)
    }
    assert used, "the pipeline dashboard queries no packwatch metric"
    assert used <= declared, sorted(used - declared)
    # The four: lag, rows/s, dead letters, batch latency.
    assert {
        "packwatch_consumer_lag",
        "packwatch_rows_written_total",
        "packwatch_dlq_messages_total",
        "packwatch_batch_latency_seconds_bucket",
    } <= used


def test_every_panel_names_one_of_the_two_datasources() -> None:
    boards, alerting = load(render.ROOT)
    assert len(boards) == 5
    for board in boards:
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] in {POSTGRES_UID, PROMETHEUS_UID}, panel["title"]
            for t in panel["targets"]:
                assert t["datasource"]["uid"] == panel["datasource"]["uid"], panel["title"]
    assert len(rule_queries(alerting)) == 4


def test_vehicle_dashboard_has_its_variable_heatmaps_and_alert_annotations() -> None:
    boards, _ = load(render.ROOT)
    vehicle = next(b for b in boards if b["uid"] == "packwatch-vehicle-pack")
    assert [v["name"] for v in vehicle["templating"]["list"]] == ["vehicle"]
    heatmaps = [p for p in vehicle["panels"] if p["type"] == "heatmap"]
    assert len(heatmaps) == 2
    assert all(not p["options"]["calculate"] for p in heatmaps)
    assert "unnest(s.cell_voltages) WITH ORDINALITY" in heatmaps[0]["targets"][0]["rawSql"]
    (ann,) = vehicle["annotations"]["list"]
    assert "FROM alerts" in ann["target"]["rawSql"]
    kinds = {q.shape for q in panel_queries(vehicle)}
    assert kinds == {"variable", "annotation", "series", "table"}


def test_provisioning_turns_timescaledb_on_and_routes_alerts_to_the_webhook() -> None:
    prov = render.ROOT / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "packwatch.yaml").read_text())["datasources"]
    pg = next(d for d in ds if d["uid"] == POSTGRES_UID)
    assert pg["jsonData"]["timescaledb"] is True
    assert pg["secureJsonData"]["password"].startswith("${")  # no secret in the repo
    alerting = yaml.safe_load((prov / "alerting" / "packwatch.yaml").read_text())
    (cp,) = alerting["contactPoints"]
    assert cp["receivers"][0]["type"] == "webhook"
    assert cp["receivers"][0]["settings"]["url"] == "${PACKWATCH_ALERTS_WEBHOOK_URL}"
    assert alerting["policies"][0]["receiver"] == cp["name"]
    titles = {r["title"] for g in alerting["groups"] for r in g["rules"]}
    assert titles == {
        "Pack over temperature",
        "Insulation resistance low",
        "Ingest lag high",
        "No data from a bus",
    }
    # Grafana reads the model raw (macros intact); a "$$" escape would reach PostgreSQL.
    for q in rule_queries(alerting):
        assert "$__timeFilter(" in q.sql and "$$" not in q.sql


def test_compose_mounts_the_provisioning_where_the_provider_reads_it() -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    gf = compose["services"]["grafana"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in gf["volumes"]}
    assert mounts["/etc/grafana/provisioning"] == "./infra/grafana/provisioning"
    assert mounts[render.CONTAINER_DASHBOARDS] == "./infra/grafana/dashboards"
    text = (render.ROOT / "provisioning" / "datasources" / "packwatch.yaml").read_text()
    text += (render.ROOT / "provisioning" / "alerting" / "packwatch.yaml").read_text()
    for var in set(re.findall(r"\$\{(PACKWATCH_[A-Z_]+)\}", text)):
        assert var in gf["environment"], var
