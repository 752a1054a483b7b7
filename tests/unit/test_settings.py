"""Settings: defaults run locally, one variable points at an external server."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.core.settings import CoreSettings


def test_defaults_point_at_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DATABASE_URL", "PACKWATCH_DATABASE_URL", "PACKWATCH_KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(var, raising=False)
    s = CoreSettings()
    assert s.bootstrap_servers == f"127.0.0.1:{s.kafka_port}"
    assert s.dsn == f"postgresql://postgres@127.0.0.1:{s.pg_port}/packwatch"
    assert not s.external_kafka and not s.external_database


def test_database_url_and_bootstrap_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example:5432/fleet")
    monkeypatch.setenv("PACKWATCH_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    s = CoreSettings()
    assert s.dsn == "postgresql://u:p@db.example:5432/fleet"
    assert s.bootstrap_servers == "k1:9092,k2:9092"
    assert s.external_kafka and s.external_database


def test_a_database_url_that_is_not_postgresql_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://root@localhost/x")
    with pytest.raises(ValidationError, match="postgresql://"):
        CoreSettings()


def test_prefixed_port_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PACKWATCH_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("PACKWATCH_KAFKA_PORT", "40000")
    assert CoreSettings().bootstrap_servers == "127.0.0.1:40000"


def test_service_settings_keep_the_shared_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.api.settings import ApiSettings

    monkeypatch.setenv("PACKWATCH_KAFKA_BOOTSTRAP_SERVERS", "broker-a:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/fleet")
    monkeypatch.setenv("PACKWATCH_API_PORT", "9001")
    s = ApiSettings()
    assert s.bootstrap_servers == "broker-a:9092"
    assert s.dsn == "postgresql://u@db/fleet"
    assert s.port == 9001
