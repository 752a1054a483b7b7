"""What a notification says, and its shapes: generic JSON, Slack, Microsoft Teams, e-mail.

Every shape carries the same facts: what happened (kind and lifecycle
action), where (vehicle, depot, pack, cell or sensor position), how bad
(severity), the evidence (the readings that triggered it) and links to the
vehicle and the alert in the API. Bodies are rendered when the change is
committed and stored with the notification, so a retry sends the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.alerts.lifecycle import Change

ACTION_WORDS = {
    "opened": "New alert",
    "reopened": "Alert re-opened",
    "severity_raised": "Alert severity raised",
    "escalated": "Alert escalated (unacknowledged)",
    "acknowledged": "Alert acknowledged",
    "resolved": "Alert resolved",
    "auto_resolved": "Alert auto-resolved",
}
SLACK_EMOJI = {
    "info": ":information_source:",
    "warning": ":warning:",
    "critical": ":rotating_light:",
}
TEAMS_COLOUR = {"info": "Accent", "warning": "Warning", "critical": "Attention"}


@dataclass(frozen=True)
class Links:
    """Where people follow up: the API base URL (and Grafana, if one is set)."""

    api_base_url: str
    grafana_url: str | None = None


def position(location: str, sensor_cells: list[list[int]] | None) -> str:
    """A person's reading of an alert location, e.g. ``sensor 4 (cells 16-19)``."""
    if location.startswith("cell:"):
        return f"cell {location[5:]}"
    if location.startswith("sensor:"):
        index = int(location[7:])
        cells = sensor_cells[index] if sensor_cells and 0 <= index < len(sensor_cells) else []
        near = f" (cells {cells[0]}-{cells[-1]})" if cells else ""
        return f"sensor {index}{near}"
    return "whole pack"


def facts(change: Change, where: str, links: Links) -> dict[str, Any]:
    """The generic JSON body: every fact, machine-readable."""
    a = change.after
    vehicle_url = f"{links.api_base_url}/v1/vehicles/{a.vehicle_id}"
    body: dict[str, Any] = {
        "type": "packwatch.alert",
        "idempotency_key": change.idempotency_key,
        "alert_id": str(a.alert_id),
        "version": a.version,  # receivers keep the highest: calls may arrive out of order
        "action": change.action,
        "title": title(change, where),
        "state": a.state.value,
        "previous_state": change.previous_state.value if change.previous_state else None,
        "severity": a.severity.value,
        "kind": a.kind,
        "vehicle_id": a.vehicle_id,
        "depot_id": a.depot_id,
        "pack_id": a.pack_id,
        "cell_index": a.cell_index,
        "sensor_index": a.sensor_index,
        "position": where,
        "evidence": a.evidence,
        "changed_at": change.at.isoformat(),
        "actor": change.actor,
        "comment": change.comment,
        "vehicle_url": vehicle_url,
        "alert_url": f"{links.api_base_url}/v1/alerts/{a.alert_id}",
    }
    if links.grafana_url:
        body["grafana_url"] = f"{links.grafana_url}/d/packwatch-vehicle?var-vehicle={a.vehicle_id}"
    return body


def title(change: Change, where: str) -> str:
    a = change.after
    kind = a.kind.replace("_", " ")
    return (
        f"{ACTION_WORDS.get(change.action, change.action)}: {a.severity.value.upper()} {kind} "
        f"on {a.vehicle_id} ({where})"
    )


def _evidence_lines(evidence: dict[str, Any]) -> list[str]:
    return [f"{k} = {v}" for k, v in sorted(evidence.items())] or ["(none)"]


def slack(f: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook body (Block Kit), with ``text`` as the fallback."""
    fields = [
        f"*Severity*\n{f['severity']}",
        f"*Vehicle*\n<{f['vehicle_url']}|{f['vehicle_id']}>",
        f"*Depot*\n{f['depot_id'] or '-'}",
        f"*Position*\n{f['position']}",
        f"*Pack*\n{f['pack_id'] or '-'}",
        f"*State*\n{f['state']}",
    ]
    evidence = "\n".join(_evidence_lines(f["evidence"]))
    return {
        "text": f"{SLACK_EMOJI[f['severity']]} {f['title']}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f["title"][:150]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": t} for t in fields]},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Evidence*\n```{evidence}```"},
            },
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"<{f['alert_url']}|alert {f['alert_id']}>"},
                    {"type": "mrkdwn", "text": f"key {f['idempotency_key']}"},
                ],
            },
        ],
    }


def teams(f: dict[str, Any]) -> dict[str, Any]:
    """A Microsoft Teams incoming-webhook body carrying an Adaptive Card."""
    fact_rows = [
        ("Severity", f["severity"]),
        ("Vehicle", f["vehicle_id"]),
        ("Depot", f["depot_id"] or "-"),
        ("Position", f["position"]),
        ("Pack", f["pack_id"] or "-"),
        ("State", f["state"]),
    ]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": f["title"],
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "color": TEAMS_COLOUR[f["severity"]],
            },
            {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in fact_rows]},
            {"type": "TextBlock", "text": "Evidence", "weight": "Bolder"},
            {
                "type": "TextBlock",
                "text": "\n\n".join(_evidence_lines(f["evidence"])),
                "wrap": True,
            },
        ],
        "actions": [
            {"type": "Action.OpenUrl", "title": "Open vehicle", "url": f["vehicle_url"]},
            {"type": "Action.OpenUrl", "title": "Open alert", "url": f["alert_url"]},
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def email(f: dict[str, Any], to: str) -> dict[str, Any]:
    """Subject and plain-text body of an e-mail notification."""
    lines = [
        f["title"],
        "",
        f"Severity:  {f['severity']}",
        f"Vehicle:   {f['vehicle_id']}",
        f"Depot:     {f['depot_id'] or '-'}",
        f"Pack:      {f['pack_id'] or '-'}",
        f"Position:  {f['position']}",
        f"State:     {f['state']} (was {f['previous_state'] or '-'})",
        f"When:      {f['changed_at']}",
        "",
        "Evidence:",
        *(f"  {line}" for line in _evidence_lines(f["evidence"])),
        "",
        f"Vehicle: {f['vehicle_url']}",
        f"Alert:   {f['alert_url']}",
        f"Key:     {f['idempotency_key']}",
    ]
    return {"to": to, "subject": f"[packwatch] {f['title']}", "text": "\n".join(lines), **f}


def body_for(fmt: str, f: dict[str, Any], target: str) -> dict[str, Any]:
    """The stored body of a notification in format ``fmt`` (json, slack, teams, email)."""
    if fmt == "slack":
        return slack(f)
    if fmt == "teams":
        return teams(f)
    if fmt == "email":
        return email(f, target)
    return f
