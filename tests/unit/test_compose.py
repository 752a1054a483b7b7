"""docker-compose.yml stays in step with the code: topics, variables, commands, versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from schemas.topics import TOPICS
from services.cli import build_parser
from services.core.settings import PROJECT_ROOT, CoreSettings
from services.stack.kafka import KAFKA_VERSION

COMPOSE = PROJECT_ROOT / "docker-compose.yml"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _packwatch_services(c: dict[str, Any]) -> dict[str, Any]:
    return {n: s for n, s in c["services"].items() if s.get("build") == "."}


def test_every_packwatch_command_in_compose_is_a_real_subcommand() -> None:
    parser = build_parser()
    services = _packwatch_services(_compose())
    assert services, "compose runs no packwatch service"
    for name, svc in services.items():
        args = parser.parse_args(svc["command"])  # SystemExit on an unknown command
        assert callable(args.func), name


def test_environment_variables_are_settings_that_exist() -> None:
    fields = {f.upper() for f in CoreSettings.model_fields}
    for name, svc in _packwatch_services(_compose()).items():
        for var in svc["environment"]:
            if var == "DATABASE_URL":
                continue
            assert var.startswith("PACKWATCH_"), (name, var)
            assert var.removeprefix("PACKWATCH_") in fields or var.startswith(
                (
                    "PACKWATCH_API_",
                    "PACKWATCH_INGEST_",
                    "PACKWATCH_SCORING_",
                    "PACKWATCH_ALERTS_",
                    "PACKWATCH_DECODER_",
                )
            ), (name, var)


def test_topics_service_creates_the_declared_topics_and_nothing_auto_creates() -> None:
    c = _compose()
    assert c["services"]["topics"]["command"] == ["infra", "topics"]
    assert c["services"]["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    names = {t.name for t in TOPICS}
    assert names == {
        "telemetry.can.v1",
        "telemetry.pack.v1",
        "telemetry.dlq.v1",
        "pack.anomalies.v1",
        "pack.alerts.v1",
    }
    # Any topic the compose file names must be a declared one.
    text = COMPOSE.read_text()
    for token in text.replace('"', " ").split():
        if token.startswith(("telemetry.", "pack.")) and token.endswith(".v1"):
            assert token in names, token


def test_image_versions_match_the_local_stack() -> None:
    c = _compose()
    assert c["services"]["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"
    assert c["services"]["timescaledb"]["image"].startswith("timescale/timescaledb:2.23")


def test_every_service_waits_for_healthy_dependencies() -> None:
    c = _compose()
    for name, svc in c["services"].items():
        for dep, cond in svc.get("depends_on", {}).items():
            assert cond["condition"] in {"service_healthy", "service_completed_successfully"}
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in c["services"][dep], (name, dep)
            else:  # a one-shot job: it must be one that ends
                assert c["services"][dep].get("restart") == "no", (name, dep)


def test_compose_file_is_where_the_readme_says() -> None:
    assert Path(COMPOSE).is_file()
    assert "docker-compose.yml" in (PROJECT_ROOT / "README.md").read_text()


def test_every_long_running_service_of_make_run_is_in_compose() -> None:
    from services.cli import SERVICES

    compose = _compose()["services"]
    commands = {tuple(svc["command"][:1]) for svc in compose.values() if "command" in svc}
    for name, argv in SERVICES.items():
        assert (argv[0],) in commands, name
    for name in ("decoder", "ingest", "scoring", "alerts", "api"):
        assert "healthcheck" in compose[name], name
