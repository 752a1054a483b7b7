"""The checked-in JSON Schemas match the Structs, and payloads match the schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from schemas import gen_json_schema
from schemas.messages import MESSAGE_TYPES, Message, encode
from tests.unit.test_messages import EXAMPLES_DIR, any_message


def test_checked_in_schemas_match_the_code() -> None:
    stale = gen_json_schema.stale_files()
    assert stale == [], f"regenerate with: python -m schemas.gen_json_schema ({stale})"


def test_every_contract_has_a_v1_schema_file() -> None:
    names = {p.name for p in gen_json_schema.JSON_DIR.glob("*.v1.json")}
    assert names == {f"{name}.v1.json" for name in MESSAGE_TYPES}


def test_drift_is_detected(tmp_path: Path) -> None:
    gen_json_schema.write_all(tmp_path)
    assert gen_json_schema.stale_files(tmp_path) == []
    path = tmp_path / "pack_sample.v1.json"
    doc = json.loads(path.read_text())
    del doc["$defs"]["PackSample"]["properties"]["soc_pct"]
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    (tmp_path / "health_score.v1.json").unlink()
    assert sorted(gen_json_schema.stale_files(tmp_path)) == [
        "health_score.v1.json",
        "pack_sample.v1.json",
    ]


def test_check_command_exit_status(tmp_path: Path) -> None:
    assert gen_json_schema.main(["--check", "--dir", str(tmp_path)]) == 1
    assert gen_json_schema.main(["--dir", str(tmp_path)]) == 0
    assert gen_json_schema.main(["--check", "--dir", str(tmp_path)]) == 0


def test_schema_states_units_and_required_fields() -> None:
    doc = gen_json_schema.schema_for("pack_sample")
    body = doc["$defs"]["PackSample"]
    assert "positive = charging" in body["properties"]["pack_current_a"]["description"]
    assert body["properties"]["ts"]["format"] == "date-time"
    assert set(body["required"]) == {
        "vehicle_id",
        "ts",
        "seq",
        "pack_voltage_v",
        "pack_current_a",
        "soc_pct",
        "cell_voltages",
        "cell_temps",
    }
    assert doc["$id"] == "urn:packwatch:schema:pack_sample:v1"


# --- payloads conform to the published schemas (needs the jsonschema package) --


def _validator(name: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((gen_json_schema.JSON_DIR / f"{name}.v1.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


_NAME_OF = {t: n for n, t in MESSAGE_TYPES.items()}


@pytest.mark.parametrize("name", sorted(MESSAGE_TYPES))
def test_examples_conform_to_their_schema(name: str) -> None:
    validator = _validator(name)
    payload = json.loads((EXAMPLES_DIR / f"{name}.v1.json").read_bytes())
    assert list(validator.iter_errors(payload)) == []
    payload["schema_version"] = "one"
    assert list(validator.iter_errors(payload)) != []


@settings(max_examples=50)
@given(any_message)
def test_encoded_messages_conform_to_their_schema(msg: Message) -> None:
    validator = _validator(_NAME_OF[type(msg)])
    assert list(validator.iter_errors(json.loads(encode(msg)))) == []
