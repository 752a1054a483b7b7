"""Settings of the ingest service (environment prefix ``PACKWATCH_INGEST_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import DLQ, PACK_SAMPLES


class IngestSettings(BaseSettings):
    """Batching, limits and endpoints; the broker and database come from CoreSettings."""

    model_config = SettingsConfigDict(env_prefix="PACKWATCH_INGEST_", extra="ignore", frozen=True)

    group_id: str = "packwatch-ingest"
    topic: str = PACK_SAMPLES.name
    dlq_topic: str = DLQ.name
    # Static membership (e.g. the pod name): a restarted instance takes its
    # partitions back at once instead of waiting for the session to expire.
    group_instance_id: str | None = None
    session_timeout_ms: int = Field(default=10_000, ge=6000)
    max_poll_interval_ms: int = Field(default=300_000, ge=1000)
    # Consumer processes `packwatch ingest` runs in the group (services.ingest.workers).
    workers: int = Field(default=1, ge=1, le=64)
    batch_max_rows: int = Field(default=5000, ge=1, le=100_000)
    # A batch closes this long after its first message (or, if the writer is
    # still busy then, as soon as it is free or the batch is full): at low load
    # this bounds the time a sample waits before its write starts.
    batch_max_ms: int = Field(default=200, ge=10, le=60_000)
    # Messages decoded and validated at a time. Decoding is CPU work in the
    # event loop; in slices this size (~7 ms of it) the writer's database round
    # trips interleave with it instead of waiting behind a whole batch. Against
    # 250, 1,000 cost ~5 us less CPU a sample in bench-ingest when a sample's
    # decoding took ~25 us (per-slice numpy and fetch overhead; ~1.3 us less in
    # decoding alone since it reads payloads into columns in C), with the same
    # latency at 5,000/s and ~20 MB more RSS.
    poll_max_records: int = Field(default=1000, ge=1, le=100_000)
    # Batches closed but not yet written; when full, the partitions pause.
    max_pending_batches: int = Field(default=2, ge=1, le=16)
    # Above this resident size the reader stops fetching until the writer has
    # caught up: a slow database never makes the process grow without end.
    max_rss_mb: int = Field(default=450, ge=64)
    # Bytes one fetch returns at most (and, per partition, a quarter of it):
    # what the consumer prefetches counts toward the process's memory.
    fetch_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024 * 1024)
    max_payload_bytes: int = Field(default=64 * 1024, ge=1024)
    max_future_s: float = Field(default=300.0, ge=0)
    max_past_days: float = Field(default=30.0, gt=0)
    # Stop (loudly) when more than this share of the last `dlq_window` messages
    # were rejected, or `dlq_max_consecutive` in a row were.
    dlq_max_ratio: float = Field(default=0.5, gt=0, le=1)
    dlq_window: int = Field(default=1000, ge=10)
    dlq_max_consecutive: int = Field(default=500, ge=1)
    retry_initial_s: float = 0.2
    retry_max_s: float = 5.0
    # At most one registry reload per this many seconds when an unknown vehicle
    # shows up: a bus registered a moment ago is accepted almost at once.
    registry_refresh_s: float = 1.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9101
