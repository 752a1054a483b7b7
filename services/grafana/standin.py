"""A local stand-in for the Grafana HTTP API endpoints that ``sync`` uses, in memory.

Not Grafana: it implements only the documented endpoints listed in
:mod:`services.grafana.sync`, with Grafana's status codes for a missing
object (404) and a bad token (401), and keeps what it is sent. It records
every request, so a test can tell a run that wrote from one that only read.
It adds ``id``/``version`` fields as Grafana does, so a comparison that
relied on them would fail here too.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class Store:
    def __init__(self, token: str) -> None:
        self.token = token
        self.folders: dict[str, dict[str, Any]] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.groups: dict[tuple[str, str], dict[str, Any]] = {}
        self.contact_points: dict[str, dict[str, Any]] = {}
        self.policy: dict[str, Any] = {"receiver": "grafana-default-email"}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.next_id = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]


Reply = tuple[int, Any]


def _route(s: Store, method: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
    m = re.fullmatch
    if method == "GET" and (g := m(r"/api/folders/([^/]+)", path)):
        f = s.folders.get(g[1])
        return (200, f) if f else (404, {"message": "folder not found"})
    if method == "POST" and path == "/api/folders":
        f = {"uid": body["uid"], "title": body["title"], "id": s.new_id(), "version": 1}
        s.folders[body["uid"]] = f
        return 200, f
    if method == "PUT" and (g := m(r"/api/folders/([^/]+)", path)):
        f = s.folders[g[1]]
        f.update(title=body["title"], version=f["version"] + 1)
        return 200, f
    if method == "GET" and (g := m(r"/api/datasources/uid/([^/]+)", path)):
        d = s.datasources.get(g[1])
        if d is None:
            return 404, {"message": "Data source not found"}
        return 200, {k: v for k, v in d.items() if k != "secureJsonData"}
    if method in ("POST", "PUT") and (
        path == "/api/datasources" or path.startswith("/api/datasources/uid/")
    ):
        old = s.datasources.get(body["uid"], {})
        secure = {**old.get("secureJsonData", {}), **body.get("secureJsonData", {})}
        d = {
            **body,
            "id": old.get("id", s.new_id()),
            "secureJsonData": secure,
            "secureJsonFields": dict.fromkeys(secure, True),
            "version": old.get("version", 0) + 1,
        }
        s.datasources[body["uid"]] = d
        return 200, {"datasource": d, "message": "Datasource saved"}
    if method == "GET" and (g := m(r"/api/dashboards/uid/([^/]+)", path)):
        d = s.dashboards.get(g[1])
        return (200, d) if d else (404, {"message": "Dashboard not found"})
    if method == "POST" and path == "/api/dashboards/db":
        dash = body["dashboard"]
        old = s.dashboards.get(dash["uid"], {"dashboard": {"id": s.new_id(), "version": 0}})
        stored = {**dash, "id": old["dashboard"]["id"], "version": old["dashboard"]["version"] + 1}
        s.dashboards[dash["uid"]] = {"dashboard": stored, "meta": {"folderUid": body["folderUid"]}}
        return 200, {"status": "success", "uid": dash["uid"], "version": stored["version"]}
    if g := m(r"/api/v1/provisioning/folder/([^/]+)/rule-groups/([^/]+)", path):
        if method == "GET":
            grp = s.groups.get((g[1], g[2]))
            return (200, grp) if grp else (404, {"message": "rule group not found"})
        rules = [{**r, "id": s.new_id(), "provenance": "api"} for r in body["rules"]]
        s.groups[(g[1], g[2])] = {**body, "rules": rules}
        return 200, s.groups[(g[1], g[2])]
    if path == "/api/v1/provisioning/contact-points":
        if method == "GET":
            name = query.get("name", [None])[0]
            return 200, [c for c in s.contact_points.values() if name in (None, c["name"])]
        s.contact_points[body["uid"]] = {**body, "provenance": "api"}
        return 202, s.contact_points[body["uid"]]
    if method == "PUT" and (g := m(r"/api/v1/provisioning/contact-points/([^/]+)", path)):
        s.contact_points[g[1]] = {**body, "provenance": "api"}
        return 202, {"message": "contactpoint updated"}
    if path == "/api/v1/provisioning/policies":
        if method == "GET":
            return 200, s.policy
        s.policy = {**body, "provenance": "api"}
        return 202, {"message": "policies updated"}
    return 404, {"message": "Not found"}


def serve(token: str, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, Store]:
    """Start the stand-in on a thread; returns the server (``server_address``) and its store."""
    store = Store(token)

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            with store.lock:
                store.requests.append((self.command, url.path))
                if self.headers.get("Authorization") != f"Bearer {store.token}":
                    status, reply = 401, {"message": "Unauthorized"}
                else:
                    status, reply = _route(store, self.command, url.path, parse_qs(url.query), body)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, store
