"""``packwatch grafana sync``: push folder, datasources, dashboards and alerting to Grafana.

Through ``grafana-client`` and only documented HTTP API endpoints:

- ``GET/POST /api/folders``, ``PUT /api/folders/{uid}``
- ``GET /api/datasources/uid/{uid}``, ``POST /api/datasources``, ``PUT /api/datasources/uid/{uid}``
- ``GET /api/dashboards/uid/{uid}``, ``POST /api/dashboards/db``
- ``GET/PUT /api/v1/provisioning/folder/{folderUid}/rule-groups/{group}``
- ``GET/POST /api/v1/provisioning/contact-points``, ``PUT …/contact-points/{uid}``
- ``GET/PUT /api/v1/provisioning/policies``

Idempotent: every object is read first and written only when a field this
module manages differs, so a second run writes nothing and says so. Fields
Grafana adds (ids, versions, provenance) are not compared. A datasource's
password is sent when the datasource is created, or when it has no stored
password; Grafana never returns it, so it cannot be compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import grafana_client
from grafana_client.client import GrafanaClientError

from services.grafana import alert_rules, datasources
from services.grafana.boards import FOLDER_TITLE, FOLDER_UID
from services.grafana.render import _plain, dashboard_models
from services.grafana.settings import GrafanaSettings

Action = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    action: Action


def covers(want: Any, have: Any) -> bool:
    """Whether ``have`` holds everything ``want`` says (extra keys in ``have`` are fine)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(covers(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        return (
            isinstance(have, list)
            and len(want) == len(have)
            and all(covers(w, h) for w, h in zip(want, have, strict=True))
        )
    if isinstance(want, float | int) and isinstance(have, float | int):
        return float(want) == float(have)
    return bool(want == have)


def _get(call: Any, *args: Any) -> Any | None:
    """The object, or None when Grafana answers 404."""
    try:
        return call(*args)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return None
        raise


class Syncer:
    """One sync run against one Grafana; :meth:`run` returns what it did."""

    def __init__(self, api: Any, settings: GrafanaSettings) -> None:
        # grafana-client is untyped: its calls return parsed JSON.
        self.api: Any = api
        self.settings = settings
        self.changes: list[Change] = []

    def _note(self, kind: str, name: str, action: Action) -> None:
        self.changes.append(Change(kind, name, action))

    def folder(self) -> None:
        have = _get(self.api.folder.get_folder, FOLDER_UID)
        if have is None:
            self.api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
            self._note("folder", FOLDER_UID, "created")
        elif have.get("title") != FOLDER_TITLE:
            self.api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
            self._note("folder", FOLDER_UID, "updated")
        else:
            self._note("folder", FOLDER_UID, "unchanged")

    def _desired_datasources(self) -> list[dict[str, Any]]:
        s = self.settings
        return [
            datasources.postgres(s.db_address, s.db_name, s.db_user, s.db_password or ""),
            datasources.prometheus(s.prometheus_url),
        ]

    def datasources(self) -> None:
        for want in self._desired_datasources():
            uid = want["uid"]
            secure = want.pop("secureJsonData", None)
            have = _get(self.api.datasource.get_datasource_by_uid, uid)
            if have is None:
                body = {**want, **({"secureJsonData": secure} if secure else {})}
                self.api.datasource.create_datasource(body)
                self._note("datasource", uid, "created")
                continue
            stored = set(have.get("secureJsonFields") or {})
            missing_secret = bool(secure) and not set(secure) <= stored
            if covers(want, have) and not missing_secret:
                self._note("datasource", uid, "unchanged")
                continue
            body = {**want, **({"secureJsonData": secure} if missing_secret else {})}
            self.api.datasource.update_datasource_by_uid(uid, body)
            self._note("datasource", uid, "updated")

    def dashboards(self) -> None:
        for model in dashboard_models():
            uid = model["uid"]
            have = _get(self.api.dashboard.get_dashboard, uid)
            same = (
                have is not None
                and covers(model, have.get("dashboard"))
                and have.get("meta", {}).get("folderUid") == FOLDER_UID
            )
            if same:
                self._note("dashboard", uid, "unchanged")
                continue
            self.api.dashboard.update_dashboard(
                {
                    "dashboard": {**model, "id": None},
                    "folderUid": FOLDER_UID,
                    "overwrite": True,
                    "message": "packwatch grafana sync",
                }
            )
            self._note("dashboard", uid, "created" if have is None else "updated")

    def rules(self) -> None:
        want = _plain(alert_rules.rule_group(FOLDER_UID))
        want["title"] = alert_rules.GROUP
        prov = self.api.alertingprovisioning
        have = _get(prov.get_rule_group, FOLDER_UID, alert_rules.GROUP)
        if have is not None and covers(want, have):
            self._note("rule group", alert_rules.GROUP, "unchanged")
            return
        prov.update_rule_group(FOLDER_UID, alert_rules.GROUP, want)
        self._note("rule group", alert_rules.GROUP, "created" if have is None else "updated")

    def contact_point(self) -> None:
        want = _plain(alert_rules.contact_point(self.settings.alerts_webhook_url))
        prov = self.api.alertingprovisioning
        found = [c for c in prov.get_contactpoints() if c.get("uid") == want["uid"]]
        if not found:
            prov.create_contactpoint(want)
            self._note("contact point", want["uid"], "created")
        elif covers(want, found[0]):
            self._note("contact point", want["uid"], "unchanged")
        else:
            prov.update_contactpoint(want["uid"], want)
            self._note("contact point", want["uid"], "updated")

    def policy(self) -> None:
        want = _plain(alert_rules.policy())
        prov = self.api.alertingprovisioning
        if covers(want, prov.get_notification_policy_tree()):
            self._note("policy", "root", "unchanged")
            return
        prov.set_notification_policy_tree(want)
        self._note("policy", "root", "updated")

    def run(self) -> list[Change]:
        """Folder first (dashboards and rules live in it), the policy after its contact point."""
        self.folder()
        self.datasources()
        self.dashboards()
        self.contact_point()
        self.rules()
        self.policy()
        return self.changes


def connect(url: str, token: str) -> Any:
    """A ``grafana_client.GrafanaApi`` for ``url`` with a service-account token."""
    return grafana_client.GrafanaApi.from_url(url, credential=token)  # type: ignore[attr-defined]


def sync(settings: GrafanaSettings, url: str, token: str) -> list[Change]:
    """Make the Grafana at ``url`` hold what packwatch provisions."""
    return Syncer(connect(url, token), settings).run()


def summary(changes: list[Change]) -> str:
    done = [c for c in changes if c.action != "unchanged"]
    if not done:
        return f"grafana sync: nothing changed ({len(changes)} objects already up to date)"
    counts = {a: sum(c.action == a for c in changes) for a in ("created", "updated", "unchanged")}
    return "grafana sync: " + ", ".join(f"{n} {a}" for a, n in counts.items())
