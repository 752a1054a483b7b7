"""``grafana sync`` against the local stand-in of Grafana's HTTP API (not a live Grafana).

What is checked: the first run creates everything, the second writes nothing
and says so, a change in code or a drift on the server is written back, and a
wrong token fails loudly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from grafana_client.client import GrafanaUnauthorizedError

from services.grafana import render, standin, sync
from services.grafana.boards import FOLDER_UID
from services.grafana.settings import GrafanaSettings

TOKEN = "glsa_test_token"


@pytest.fixture
def grafana() -> Iterator[tuple[str, standin.Store]]:
    server, store = standin.serve(TOKEN)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", store
    finally:
        server.shutdown()
        server.server_close()


def _settings(**kw: str) -> GrafanaSettings:
    return GrafanaSettings.model_validate({"db_password": "pw-from-env", **kw})


def test_first_run_creates_second_changes_nothing(grafana: tuple[str, standin.Store]) -> None:
    url, store = grafana
    first = sync.sync(_settings(), url, TOKEN)
    assert {c.action for c in first} == {"created", "updated"}  # the root policy always exists
    assert len(store.dashboards) == 5 and set(store.folders) == {FOLDER_UID}
    assert store.datasources["packwatch-timescaledb"]["jsonData"]["timescaledb"] is True
    assert store.datasources["packwatch-timescaledb"]["secureJsonData"] == {
        "password": "pw-from-env"
    }
    assert len(store.groups[(FOLDER_UID, "packwatch-packs")]["rules"]) == 4
    assert all(d["meta"]["folderUid"] == FOLDER_UID for d in store.dashboards.values())
    writes = len(store.writes())

    second = sync.sync(_settings(), url, TOKEN)
    assert {c.action for c in second} == {"unchanged"}
    assert len(store.writes()) == writes, "a second run wrote to Grafana"
    assert sync.summary(second).startswith("grafana sync: nothing changed")


def test_changes_on_either_side_are_written_back(grafana: tuple[str, standin.Store]) -> None:
    url, store = grafana
    sync.sync(_settings(), url, TOKEN)
    # Someone edits a dashboard in Grafana; the webhook URL setting changes.
    store.dashboards["packwatch-fleet-overview"]["dashboard"]["title"] = "edited by hand"
    changes = sync.sync(_settings(alerts_webhook_url="http://alerts.example:9000/hook"), url, TOKEN)
    changed = {(c.kind, c.name) for c in changes if c.action == "updated"}
    assert changed == {
        ("dashboard", "packwatch-fleet-overview"),
        ("contact point", "packwatch-alerts-webhook"),
    }
    assert store.dashboards["packwatch-fleet-overview"]["dashboard"]["title"] == "Fleet overview"
    assert store.contact_points["packwatch-alerts-webhook"]["settings"]["url"].endswith("/hook")
    # What was pushed is exactly what is provisioned from files.
    pushed = store.dashboards["packwatch-vehicle-pack"]["dashboard"]
    model = next(m for m in render.dashboard_models() if m["uid"] == "packwatch-vehicle-pack")
    assert sync.covers(model, pushed)


def test_a_wrong_token_is_refused(grafana: tuple[str, standin.Store]) -> None:
    url, store = grafana
    with pytest.raises(GrafanaUnauthorizedError):
        sync.sync(_settings(), url, "wrong")
    assert store.writes() == []
