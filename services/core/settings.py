"""Settings shared by every packwatch process (environment prefix ``PACKWATCH_``).

Each service builds its settings once, at start, from the environment. The
defaults run everything on this machine: a local Kafka broker and a local
PostgreSQL server under ``state_dir``. Pointing at other servers takes one
variable each: ``PACKWATCH_KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL``
(or ``PACKWATCH_DATABASE_URL``).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]

Environment = Literal["development", "test", "production"]


class CoreSettings(BaseSettings):
    """Where the broker and the database are, how to log, where local state lives."""

    model_config = SettingsConfigDict(
        env_prefix="PACKWATCH_", extra="ignore", frozen=True, populate_by_name=True
    )

    environment: Environment = "development"
    state_dir: Path = Field(default=PROJECT_ROOT / ".packwatch")
    cache_dir: Path = Field(default=PROJECT_ROOT / ".cache")

    kafka_bootstrap_servers: str | None = Field(
        default=None, description="host:port[,host:port]; unset = the local broker"
    )
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_heap: str = "768m"

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PACKWATCH_DATABASE_URL", "DATABASE_URL"),
        description="postgresql://…; unset = the local embedded PostgreSQL",
    )
    pg_port: int = 15432
    timescale_compat_port: int = 15433

    log_level: str = "INFO"
    log_json: bool | None = Field(default=None, description="None = JSON unless on a terminal")
    shutdown_timeout_s: float = 20.0

    @model_validator(mode="after")
    def _check_urls(self) -> CoreSettings:
        if self.database_url is not None and not self.database_url.startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError("DATABASE_URL must start with postgresql://")
        return self

    @property
    def external_kafka(self) -> bool:
        return self.kafka_bootstrap_servers is not None

    @property
    def external_database(self) -> bool:
        return self.database_url is not None

    @cached_property
    def bootstrap_servers(self) -> str:
        """The Kafka bootstrap servers every client of this process uses."""
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.kafka_port}"

    @cached_property
    def dsn(self) -> str:
        """The PostgreSQL DSN every pool of this process uses."""
        return self.database_url or f"postgresql://postgres@127.0.0.1:{self.pg_port}/packwatch"
