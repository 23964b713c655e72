"""Legacy (draft 3/4) schema forms: the pure rewrite, and a real pipelinewise-tap-postgres
recording landing in a local lake and on the S3 endpoint.

`data/pipelinewise_tap_postgres.jsonl` was recorded once with pipelinewise-tap-postgres
2.1.0 (from PyPI, in its own virtualenv) against the sandbox Postgres at scale 0.01,
tables `orders` and `products`, FULL_TABLE; only the first 150 of the 1,000 order RECORDs
were kept to keep the file small. Every other line is as the tap wrote it."""

from __future__ import annotations

import copy
import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from jsonschema import Draft202012Validator, SchemaError
from target_minio_parquet.legacy_schema import normalize_legacy_schema

from tests.target_minio_parquet.conftest import TARGET, s3_filesystem, s3_target_config

RECORDING = Path(__file__).parent / "data" / "pipelinewise_tap_postgres.jsonl"
# The same tap over a scratch table `ledger` (entry_id integer, amount numeric,
# fee numeric(5,2), rate numeric(40,10), noted_at timestamptz), recorded the same way.
LEDGER = Path(__file__).parent / "data" / "pipelinewise_tap_postgres_ledger.jsonl"
NUMERIC = {
    "type": ["null", "number"],
    "exclusiveMaximum": True,
    "maximum": 10000000000,
    "multipleOf": 0.01,
    "exclusiveMinimum": True,
    "minimum": -10000000000,
}


@pytest.mark.parametrize(
    ("legacy", "current", "rejected"),
    [
        (
            NUMERIC,
            {
                "type": ["null", "number"],
                "exclusiveMaximum": 10000000000,
                "multipleOf": 0.01,
                "exclusiveMinimum": -10000000000,
            },
            True,
        ),
        (
            {"type": "integer", "maximum": 5, "exclusiveMaximum": False},
            {"type": "integer", "maximum": 5},
            True,
        ),
        ({"type": "number", "exclusiveMinimum": True}, {"type": "number"}, True),  # no bound
        ({"type": "number", "divisibleBy": 0.5}, {"type": "number", "multipleOf": 0.5}, False),
        ({"type": "any", "description": "x"}, {"description": "x"}, True),
        (
            {
                "type": "array",
                "items": [{"type": "string"}],
                "additionalItems": {"type": "integer"},
            },
            {"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}},
            True,
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "string", "required": True}, "b": {"required": False}},
            },
            {"type": "object", "properties": {"a": {"type": "string"}, "b": {}}, "required": ["a"]},
            True,
        ),
    ],
)
def test_each_legacy_form_gets_its_current_equivalent(
    legacy: dict, current: dict, rejected: bool
) -> None:
    before = copy.deepcopy(legacy)
    if rejected:  # what the SDK's schema check does with the old form
        with pytest.raises(SchemaError):
            Draft202012Validator.check_schema(legacy)
    converted, notes = normalize_legacy_schema(legacy)
    assert converted == current
    assert notes
    assert legacy == before  # pure: the input is untouched
    Draft202012Validator.check_schema(converted)


def test_nested_legacy_forms_are_found_everywhere() -> None:
    schema = {
        "type": "object",
        "properties": {
            "amounts": {"type": "array", "items": NUMERIC},
            "either": {"anyOf": [NUMERIC, {"type": "null"}]},
            "card": {"type": "object", "properties": {"fee": NUMERIC}},
        },
        "definitions": {"money": NUMERIC},
    }
    converted, notes = normalize_legacy_schema(schema)
    Draft202012Validator.check_schema(converted)
    assert len(notes) == 8
    assert converted["properties"]["card"]["properties"]["fee"]["exclusiveMaximum"] == 10000000000
    assert "schema.properties.either.anyOf[0]: exclusiveMinimum" in " ".join(notes)


def test_current_schemas_are_left_as_they_are() -> None:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 0, "exclusiveMaximum": 10},
            "tags": {"type": "array", "items": {"type": "string"}},
            "obj": {"type": "object", "required": ["x"], "properties": {"x": {}}},
        },
        "required": ["id"],
    }
    assert normalize_legacy_schema(schema) == (schema, [])


def recorded() -> list[dict]:
    return [json.loads(line) for line in RECORDING.read_text().splitlines()]


def run_recording(config: dict, tmp_path: Path, recording: Path = RECORDING) -> str:
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    result = subprocess.run(
        [TARGET, "--config", str(config_file)],
        input=recording.read_bytes(),
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return result.stdout.decode()


def check_lake(dataset: ds.Dataset, stdout: str) -> None:
    messages = recorded()
    table = dataset.to_table()
    orders = [m["record"] for m in messages if m.get("stream") == "public-orders" and "record" in m]
    assert table.num_rows == len(orders) == 150
    assert table.schema.field("total_amount").type == pa.decimal128(12, 2)  # numeric(12, 2)
    rows = {row["order_id"]: row for row in table.to_pylist()}
    for record in orders:
        assert rows[record["order_id"]]["total_amount"] == Decimal(str(record["total_amount"]))
        assert rows[record["order_id"]]["_sdc_extra"] is None
    version = next(m["version"] for m in messages if m["type"] == "ACTIVATE_VERSION")
    assert {row["_sdc_table_version"] for row in rows.values()} == {version}
    last_state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert json.loads(stdout.strip().splitlines()[-1]) == last_state


def test_a_pipelinewise_recording_lands_in_a_local_lake(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    stdout = run_recording({"destination": str(lake), "source_name": "pw"}, tmp_path)
    check_lake(ds.dataset(str(lake / "pw" / "public-orders"), format="parquet"), stdout)
    products = ds.dataset(str(lake / "pw" / "public-products"), format="parquet").to_table()
    assert products.num_rows == 20
    assert products.schema.field("weight_kg").type == pa.decimal128(8, 2)


def test_a_pipelinewise_recording_lands_on_the_s3_endpoint(
    tmp_path: Path, s3_env: dict[str, str]
) -> None:
    prefix = f"{s3_env['LAKE_BUCKET']}/target-tests/{tmp_path.name}"
    config = s3_target_config(s3_env, f"s3://{prefix}", source_name="pw")
    stdout = run_recording(config, tmp_path)
    fs = s3_filesystem(s3_env)
    check_lake(ds.dataset(f"{prefix}/pw/public-orders", filesystem=fs, format="parquet"), stdout)


def test_unbounded_and_wide_numerics_land_exactly(tmp_path: Path) -> None:
    """numeric without precision (|x| < 10^62, scale 38) and numeric(40, 10) fit no
    decimal128: they are kept as their exact text; numeric(5, 2) is decimal128(5, 2)."""
    lake = tmp_path / "lake"
    run_recording({"destination": str(lake), "source_name": "pw"}, tmp_path, LEDGER)
    table = ds.dataset(str(lake / "pw" / "public-ledger"), format="parquet").to_table()
    types = {name: str(table.schema.field(name).type) for name in ("amount", "fee", "rate")}
    assert types == {"amount": "string", "fee": "decimal128(5, 2)", "rate": "string"}
    sent = {
        m["record"]["entry_id"]: m["record"]
        for m in (json.loads(line, parse_float=Decimal) for line in LEDGER.read_text().splitlines())
        if m["type"] == "RECORD"
    }
    rows = {row["entry_id"]: row for row in table.to_pylist()}
    assert sorted(rows) == sorted(sent) == [1, 2, 3, 4, 5]
    for entry_id, record in sent.items():
        row = rows[entry_id]
        for name in ("amount", "rate"):
            expected = record[name]
            assert (None if row[name] is None else Decimal(row[name])) == expected
        assert row["fee"] == record["fee"]
    assert rows[1]["amount"] == "12345678901234567890.123456789012345678"
    assert rows[5]["rate"] == "99999999999999999999999999999.9999999999"
