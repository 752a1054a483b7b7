"""`packwatch infra up|down|status`: the whole local stack as one unit.

The stack is the Kafka broker, the PostgreSQL server and, on request, the
TimescaleDB compatibility target. A part whose address is given in the
settings (an external broker or database) is neither started nor stopped here.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.core.settings import PROJECT_ROOT, CoreSettings
from services.stack import kafka, postgres
from services.stack.proc import port_open


@dataclass(frozen=True)
class LocalStack:
    """The parts this machine runs, and where they keep state."""

    state_dir: Path
    kafka: kafka.KafkaConfig | None
    postgres: postgres.PostgresConfig | None
    timescale_port: int
    bootstrap: str
    dsn: str

    @classmethod
    def from_settings(cls, s: CoreSettings) -> LocalStack:
        return cls(
            state_dir=s.state_dir,
            kafka=None
            if s.external_kafka
            else kafka.KafkaConfig(
                state_dir=s.state_dir,
                cache_dir=s.cache_dir,
                port=s.kafka_port,
                controller_port=s.kafka_controller_port,
                heap=s.kafka_heap,
            ),
            postgres=None
            if s.external_database
            else postgres.PostgresConfig(state_dir=s.state_dir, port=s.pg_port),
            timescale_port=s.timescale_compat_port,
            bootstrap=s.bootstrap_servers,
            dsn=s.dsn,
        )


def timescale_module() -> Any:
    # Imported on use: the compatibility target needs Node.js, the rest does not.
    return importlib.import_module("services.stack.timescale_compat")


def up(stack: LocalStack, *, timescale_compat: bool = False) -> dict[str, str]:
    """Start what is not running, create the topics; return part → what happened."""
    stack.state_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, str] = {}
    if stack.kafka is not None:
        started = kafka.start(stack.kafka)
        report["kafka"] = f"{'started' if started else 'running'} on {stack.kafka.bootstrap}"
    else:
        report["kafka"] = f"external at {stack.bootstrap}"
    created = asyncio.run(kafka.ensure_topics(stack.bootstrap))
    report["topics"] = f"created {', '.join(created)}" if created else "all present"
    if stack.postgres is not None:
        started = postgres.start(stack.postgres)
        report["postgres"] = (
            f"{'started' if started else 'running'} on 127.0.0.1:{stack.postgres.port}"
        )
    else:
        report["postgres"] = "external (DATABASE_URL)"
    if timescale_compat:
        timescale_module().start(stack.state_dir, stack.timescale_port, PROJECT_ROOT)
        report["timescale-compat"] = f"running on 127.0.0.1:{stack.timescale_port}"
    return report


def down(stack: LocalStack) -> dict[str, str]:
    """Stop every part this machine started; return part → what happened."""
    report: dict[str, str] = {}
    if (stack.state_dir / "timescale-compat.pid").exists():
        stopped = timescale_module().stop(stack.state_dir)
        report["timescale-compat"] = "stopped" if stopped else "was not running"
    if stack.postgres is not None:
        report["postgres"] = "stopped" if postgres.stop(stack.postgres) else "was not running"
    if stack.kafka is not None:
        report["kafka"] = "stopped" if kafka.stop(stack.kafka) else "was not running"
    return report


def status(stack: LocalStack) -> dict[str, dict[str, Any]]:
    """Each part: running or not, where, and (Kafka) the topics it has."""
    out: dict[str, dict[str, Any]] = {}
    if stack.kafka is not None:
        pid = stack.kafka.process.pid()
        out["kafka"] = {
            "running": pid is not None and port_open("127.0.0.1", stack.kafka.port),
            "pid": pid,
            "address": stack.kafka.bootstrap,
        }
    else:
        out["kafka"] = {"running": None, "address": stack.bootstrap, "external": True}
    if out["kafka"]["running"] is not False:
        try:
            out["kafka"]["topics"] = asyncio.run(kafka.list_topics(stack.bootstrap))
        except Exception as exc:  # noqa: BLE001 - status reports any failure, never raises
            out["kafka"]["error"] = repr(exc)
    if stack.postgres is not None:
        out["postgres"] = {
            "running": postgres.is_running(stack.postgres)
            and port_open("127.0.0.1", stack.postgres.port),
            "address": f"127.0.0.1:{stack.postgres.port}",
            "data": str(stack.postgres.pgdata),
        }
    else:
        out["postgres"] = {"running": None, "external": True}
    pid_file = stack.state_dir / "timescale-compat.pid"
    if pid_file.exists():
        out["timescale-compat"] = timescale_module().status(stack.state_dir, stack.timescale_port)
    return out
