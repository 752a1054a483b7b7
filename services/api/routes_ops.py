"""Operations endpoints, public by design: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.api import kafka_probe
from services.api.models import Status
from services.api.settings import ApiSettings
from services.core.db import ping
from services.core.health import Health

router = APIRouter(tags=["operations"])

#: Paths served without a token (the OpenAPI document and its viewers included).
PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)


@router.get("/healthz", response_model=Status, summary="Liveness: the process answers")
async def healthz() -> Status:
    return Status(status="alive")


@router.get(
    "/readyz",
    response_model=Status,
    summary="Readiness: the database and the Kafka broker answer",
    responses={503: {"model": Status, "description": "A dependency does not answer"}},
)
async def readyz(request: Request) -> JSONResponse:
    settings: ApiSettings = request.app.state.settings
    pool = request.app.state.pool
    health = Health(timeout_s=settings.ready_timeout_s)
    health.add("database", lambda: ping(pool))
    health.add(
        "kafka",
        lambda: kafka_probe.broker_answers(settings.bootstrap_servers, settings.ready_timeout_s),
    )
    checks = await health.check()
    ok = all(checks.values())
    body = Status(status="ready" if ok else "not_ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})
