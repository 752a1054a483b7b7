"""Detached local processes with pid files: the building block of the embedded stack.

Each part of the local stack (Kafka broker, PostgreSQL, the TimescaleDB
compatibility target) runs as a daemon that outlives the ``packwatch infra up``
command which started it. Its pid is kept in ``<state>/<name>.pid`` and its
output in ``<state>/<name>.log``, so ``status`` and ``down`` work from any later
process, and a part that was killed (SIGKILL) is seen as stopped and restarted.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

# Popen objects of daemons this process started. Kept so that they are not
# garbage-collected while the daemon runs (Popen warns about that), and so a
# daemon that exits is reaped instead of lingering as a zombie.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class StackError(RuntimeError):
    """A part of the local stack could not be started, reached or stopped."""


@dataclass(frozen=True)
class ManagedProcess:
    """A named daemon whose pid and log live in ``state_dir``."""

    name: str
    state_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of the running process, or None when it is not running.

        A pid file whose process is gone, a zombie, or a recycled pid of an
        unrelated program is treated as not running.
        """
        try:
            recorded = self.pid_file.read_text().split()
        except FileNotFoundError:
            return None
        if len(recorded) != 2:
            return None
        pid, started = int(recorded[0]), float(recorded[1])
        child = _CHILDREN.get(pid)
        if child is not None and child.poll() is not None:
            del _CHILDREN[pid]
            return None
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            # The creation time tells our process from a recycled pid.
            if abs(proc.create_time() - started) > 1.0:
                return None
        except psutil.NoSuchProcess:
            return None
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        """Start ``argv`` detached (own session), output appended to the log file."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - argv is built by the stack, not from input
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
                cwd=cwd,
                start_new_session=True,
            )
        _CHILDREN[proc.pid] = proc
        created = psutil.Process(proc.pid).create_time()
        self.pid_file.write_text(f"{proc.pid} {created}\n")
        return proc.pid

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the process group, SIGKILL after ``timeout``. True if it was running."""
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        try:
            pgid = os.getpgid(pid)
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        child = _CHILDREN.pop(pid, None)
        try:
            if child is not None:
                child.wait(timeout)
            else:
                psutil.Process(pid).wait(timeout)
        except (psutil.TimeoutExpired, subprocess.TimeoutExpired):
            os.killpg(pgid, signal.SIGKILL)
            if child is not None:
                child.wait(10)
            else:
                psutil.Process(pid).wait(10)
        except psutil.NoSuchProcess:
            pass
        return True

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connect to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    alive: Callable[[], bool] | None = None,
    log: Callable[[], str] | None = None,
    interval: float = 0.2,
) -> None:
    """Poll ``check`` until it is true; raise StackError with the log tail if not.

    ``alive`` lets the wait fail fast when the process died during start-up.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            tail = log() if log else ""
            raise StackError(f"{what}: the process exited during start-up\n{tail}")
        time.sleep(interval)
    tail = log() if log else ""
    raise StackError(f"{what}: not ready after {timeout:.0f}s\n{tail}")
