"""``packwatch ingest --workers N``: N ingest consumers of one group on one host.

Decoding and validation are CPU work in Python, so one process uses at most
one core. More cores are used the way the group is meant to scale: more
consumers in it, here as child processes of one command. Each child is an
ordinary ``packwatch ingest`` with its own settings, derived so that the
whole set stays within the configured limits:

- the memory cap ``max_rss_mb`` is for the whole command: each child gets an
  equal share (so the children's resident sizes together stay under it), and
  so do the sizes that drive memory use, ``batch_max_rows`` and
  ``fetch_max_bytes`` (each child reads a share of the partitions);
- metrics ports are ``metrics_port + i`` (unless the port is 0 or negative);
- a static ``group_instance_id`` becomes ``<id>-<i>``;
- each child starts up (database, registry, producer) and then waits at a
  start gate until all are ready, so they join the group together
  (:mod:`services.ingest.start_gate`).

The command replaces itself (``exec``, same process id) with a small
supervisor that loads only this module, and the children start as
``python -m services.ingest``: neither holds the rest of packwatch's CLI in
memory. The supervisor forwards SIGTERM/SIGINT to the children and waits for them.
When one child exits on its own (a fatal error such as the DLQ limit), the
others are stopped too and the command exits with that child's code, so the
unit fails as a whole and its supervisor (systemd, Kubernetes) restarts it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import NoReturn

import structlog

from services.core.settings import PROJECT_ROOT
from services.ingest.settings import IngestSettings
from services.ingest.start_gate import DEFAULT_TIMEOUT_S, StartGate

log = structlog.get_logger(__name__)


def worker_env(settings: IngestSettings, index: int, workers: int) -> dict[str, str]:
    """Environment of child ``index`` of ``workers``: the settings it differs in."""
    env = {
        "PACKWATCH_INGEST_WORKERS": "1",
        "PACKWATCH_INGEST_GROUP_ID": settings.group_id,
        "PACKWATCH_INGEST_MAX_RSS_MB": str(settings.max_rss_mb // workers),
        "PACKWATCH_INGEST_BATCH_MAX_ROWS": str(max(1, settings.batch_max_rows // workers)),
        "PACKWATCH_INGEST_FETCH_MAX_BYTES": str(
            max(1024 * 1024, settings.fetch_max_bytes // workers)
        ),
    }
    if settings.metrics_port > 0:
        env["PACKWATCH_INGEST_METRICS_PORT"] = str(settings.metrics_port + index)
    if settings.group_instance_id:
        env["PACKWATCH_INGEST_GROUP_INSTANCE_ID"] = f"{settings.group_instance_id}-{index}"
    return env


def supervise(
    settings: IngestSettings,
    workers: int,
    poll_s: float = 0.2,
    gate_timeout_s: float = DEFAULT_TIMEOUT_S,
) -> int:
    """Run ``workers`` ingest processes until a signal or until one of them exits.

    They join the group together (:mod:`services.ingest.start_gate`): the gate
    opens when all are ready, after ``gate_timeout_s``, when one has exited, or
    on a signal.
    """
    gate = StartGate()
    children: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(workers):
            env = dict(os.environ) | worker_env(settings, i, workers) | gate.worker_env
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "services.ingest"], env=env, cwd=PROJECT_ROOT,
                    pass_fds=gate.worker_fds,
                )
            )  # fmt: skip
    except BaseException:
        gate.open()
        for c in children:  # no worker runs unsupervised
            c.terminate()
            c.wait()
        raise
    gate.workers_started()
    log.info("ingest_workers_started", workers=workers, pids=[c.pid for c in children])
    stopping: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)
        for c in children:
            if c.poll() is None:
                c.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            ready = gate.wait_for(
                workers,
                timeout_s=gate_timeout_s,
                keep_waiting=lambda: not stopping and all(c.poll() is None for c in children),
            )
            (log.info if ready == workers else log.warning)(
                "ingest_workers_joining", ready=ready, workers=workers
            )
        finally:
            gate.open()
        while all(c.poll() is None for c in children) and not stopping:
            time.sleep(poll_s)
        first = next((c for c in children if c.poll() is not None), None)
        if first is not None and not stopping:
            log.error("ingest_worker_exited", pid=first.pid, code=first.returncode)
            forward(signal.SIGTERM, None)
        codes = [c.wait() for c in children]
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if first is not None and first.returncode and not stopping:
        return first.returncode
    return next((code for code in codes if code), 0)


def become_supervisor(settings: IngestSettings, workers: int) -> NoReturn:
    """Replace this process with the supervisor of ``workers`` (settings via the environment)."""
    env = dict(os.environ, PACKWATCH_INGEST_GROUP_ID=settings.group_id)
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, "-m", "services.ingest.workers", str(workers)]
    os.execve(sys.executable, argv, env)


def main() -> int:
    """``python -m services.ingest.workers N``: supervise N ingest processes."""
    from services.core.logging import configure
    from services.core.settings import CoreSettings

    core = CoreSettings()
    configure(core.log_level, core.log_json)
    return supervise(IngestSettings(), int(sys.argv[1]))


if __name__ == "__main__":
    sys.exit(main())
