"""`packwatch ingest --workers N`: what each worker process is given."""

from __future__ import annotations

from services.ingest.settings import IngestSettings
from services.ingest.workers import worker_env


def test_workers_split_the_memory_limits_and_get_their_own_ports_and_ids() -> None:
    s = IngestSettings(
        max_rss_mb=450,
        batch_max_rows=3000,
        fetch_max_bytes=6 * 2**20,
        metrics_port=9101,
        group_instance_id="pod-a",
    )
    envs = [worker_env(s, i, 3) for i in range(3)]
    assert {e["PACKWATCH_INGEST_MAX_RSS_MB"] for e in envs} == {"150"}
    assert {e["PACKWATCH_INGEST_BATCH_MAX_ROWS"] for e in envs} == {"1000"}
    assert {e["PACKWATCH_INGEST_FETCH_MAX_BYTES"] for e in envs} == {str(2 * 2**20)}
    assert [e["PACKWATCH_INGEST_METRICS_PORT"] for e in envs] == ["9101", "9102", "9103"]
    assert [e["PACKWATCH_INGEST_GROUP_INSTANCE_ID"] for e in envs] == [
        "pod-a-0",
        "pod-a-1",
        "pod-a-2",
    ]
    assert all(e["PACKWATCH_INGEST_WORKERS"] == "1" for e in envs)  # no grandchildren


def test_an_ephemeral_or_disabled_metrics_port_is_left_as_it_is() -> None:
    for port in (0, -1):
        env = worker_env(IngestSettings(metrics_port=port), 1, 2)
        assert "PACKWATCH_INGEST_METRICS_PORT" not in env
        assert "PACKWATCH_INGEST_GROUP_INSTANCE_ID" not in env
