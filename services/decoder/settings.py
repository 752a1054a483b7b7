"""Settings of the decoder service (environment prefix ``PACKWATCH_DECODER_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import CAN_RAW, DLQ, PACK_SAMPLES


class DecoderSettings(BaseSettings):
    """Topics, batching and limits; the broker comes from CoreSettings."""

    model_config = SettingsConfigDict(env_prefix="PACKWATCH_DECODER_", extra="ignore", frozen=True)

    group_id: str = "packwatch-decoder"
    topic: str = CAN_RAW.name
    out_topic: str = PACK_SAMPLES.name
    dlq_topic: str = DLQ.name
    # Static membership (e.g. the pod name): a restarted instance takes its
    # partitions back at once instead of waiting for the session to expire.
    group_instance_id: str | None = None
    session_timeout_ms: int = Field(default=10_000, ge=6000)
    max_poll_interval_ms: int = Field(default=300_000, ge=1000)
    # One poll is one batch: up to this many bundles, decoded in one numpy pass.
    batch_max_bundles: int = Field(default=2000, ge=1, le=50_000)
    # How long a poll waits for the first record; a batch never waits to fill.
    poll_timeout_ms: int = Field(default=200, ge=1, le=60_000)
    # Batches produced but not yet acknowledged; when full, the partitions pause.
    max_pending_batches: int = Field(default=4, ge=1, le=64)
    fetch_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024 * 1024)
    # A bus-second is ~1.1 KB; anything far larger is not a bundle we can use.
    max_payload_bytes: int = Field(default=64 * 1024, ge=1024)
    linger_ms: int = Field(default=10, ge=0, le=1000)
    # Stop (loudly) when more than this share of the last `dlq_window` bundles
    # were rejected, or `dlq_max_consecutive` in a row were.
    dlq_max_ratio: float = Field(default=0.5, gt=0, le=1)
    dlq_window: int = Field(default=1000, ge=10)
    dlq_max_consecutive: int = Field(default=500, ge=1)
    retry_initial_s: float = Field(default=0.2, gt=0)
    retry_max_s: float = Field(default=5.0, gt=0)
    # Failed produce rounds in a row before the process gives up (and is restarted).
    max_produce_failures: int = Field(default=10, ge=1)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9102
