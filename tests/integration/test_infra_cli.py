"""`packwatch infra up/status/down` as a user runs it, on a stack of its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.core.settings import PROJECT_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _packwatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    # Ports below Linux's ephemeral range (32768+), so no client socket holds them.
    env = dict(os.environ)
    env.update(
        PACKWATCH_STATE_DIR=str(tmp_path / "state"),
        PACKWATCH_CACHE_DIR=str(PROJECT_ROOT / ".cache"),
        PACKWATCH_KAFKA_PORT="31092",
        PACKWATCH_KAFKA_CONTROLLER_PORT="31093",
        PACKWATCH_PG_PORT="31432",
        PACKWATCH_KAFKA_HEAP="384m",
    )
    env.pop("DATABASE_URL", None)
    env.pop("PACKWATCH_DATABASE_URL", None)
    env.pop("PACKWATCH_KAFKA_BOOTSTRAP_SERVERS", None)
    return env


def _status(env: dict[str, str]) -> dict[str, dict[str, object]]:
    result = _packwatch(env, "infra", "status", "--json")
    parsed: dict[str, dict[str, object]] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def _pid_of(state: Path, name: str) -> int:
    return int((state / name).read_text().split()[0])


def test_up_status_down_twice_then_recover_from_sigkill(stack_env: dict[str, str]) -> None:
    state = Path(stack_env["PACKWATCH_STATE_DIR"])
    try:
        for round_ in range(2):
            up = _packwatch(stack_env, "infra", "up")
            assert up.returncode == 0, up.stderr
            st = _status(stack_env)
            assert st["kafka"]["running"] is True, (round_, st)
            assert st["postgres"]["running"] is True, (round_, st)
            topics = st["kafka"]["topics"]
            assert isinstance(topics, dict)
            assert topics["telemetry.pack.v1"] == 12
            assert set(topics) >= {
                "telemetry.can.v1",
                "telemetry.pack.v1",
                "telemetry.dlq.v1",
                "pack.anomalies.v1",
                "pack.alerts.v1",
            }
            again = _packwatch(stack_env, "infra", "up")  # up twice is harmless
            assert again.returncode == 0, again.stderr
            assert "running on" in again.stdout
            down = _packwatch(stack_env, "infra", "down")
            assert down.returncode == 0, down.stderr
            st = _status(stack_env)
            assert st["kafka"]["running"] is False
            assert st["postgres"]["running"] is False

        assert _packwatch(stack_env, "infra", "up").returncode == 0
        os.kill(_pid_of(state, "kafka.pid"), signal.SIGKILL)
        pg_pid = int((state / "postgres" / "data" / "postmaster.pid").read_text().split()[0])
        os.kill(pg_pid, signal.SIGKILL)
        time.sleep(1)
        st = _status(stack_env)
        assert st["kafka"]["running"] is False
        assert st["postgres"]["running"] is False
        recovered = _packwatch(stack_env, "infra", "up")
        assert recovered.returncode == 0, recovered.stderr + recovered.stdout
        st = _status(stack_env)
        assert st["kafka"]["running"] is True
        assert st["postgres"]["running"] is True
        assert isinstance(st["kafka"]["topics"], dict) and len(st["kafka"]["topics"]) >= 5
    finally:
        _packwatch(stack_env, "infra", "down")
