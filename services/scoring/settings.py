"""Settings of the scoring service (environment prefix ``PACKWATCH_SCORING_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.onnx_io import ONNX_DIR
from schemas.topics import ANOMALIES, PACK_SAMPLES


class ScoringSettings(BaseSettings):
    """Batching, hysteresis and endpoints; the broker and database come from CoreSettings."""

    model_config = SettingsConfigDict(env_prefix="PACKWATCH_SCORING_", extra="ignore", frozen=True)

    group_id: str = "packwatch-scoring"
    topic: str = PACK_SAMPLES.name
    anomalies_topic: str = ANOMALIES.name
    model_dir: Path = ONNX_DIR
    # Small batches keep each scoring pass short (tens of ms), and the pass runs
    # in a worker thread, so the consumer's heartbeat is never starved.
    batch_max_rows: int = Field(default=2000, ge=1, le=50_000)
    batch_max_ms: int = Field(default=500, ge=10, le=60_000)
    onnx_threads: int = Field(default=1, ge=1, le=8)
    hold_s: float = Field(default=60.0, ge=0)
    clear_s: float = Field(default=900.0, ge=0)
    # A pack's health is scored at most this often (vehicle time).
    health_every_s: float = Field(default=600.0, ge=1)
    # History scored again when a partition is taken over (a restart, a
    # rebalance), so the checks judge a fault present throughout it at once, as
    # an uninterrupted run would: the longer of the models' 30 minutes
    # (models.thermal.SETTLE_S) and, after the pump's 15 (PUMPING_SETTLE_S),
    # the sustained coolant rise's 15 or the inlet's 10 (models.detector), a
    # condition's hold, and a margin. A leaky count that was building on and off
    # for longer starts again from the replay. 0: start cold at the committed offset.
    warmup_s: float = Field(default=2100.0, ge=0)
    session_timeout_ms: int = Field(default=10_000, ge=6000)
    # Reads of stored insulation history (services/scoring/history.py): how long
    # scoring waits for one before going on without it (it is merged when it
    # comes), and how long one may take, retries included, before its vehicles
    # go without.
    history_wait_s: float = Field(default=2.0, ge=0)
    history_timeout_s: float = Field(default=60.0, gt=0)
    retry_initial_s: float = 0.2
    retry_max_s: float = 5.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9103
