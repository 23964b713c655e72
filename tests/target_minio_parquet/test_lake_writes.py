"""target-minio-parquet against a real local lake and the real S3 endpoint."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from scripts.pipeline_report import duckdb_for_lake
from tests.target_minio_parquet.conftest import (
    record_message,
    run_target,
    s3_filesystem,
    s3_target_config,
    schema_message,
)

DECIMAL = {"type": ["string", "null"], "format": "x-singer.decimal", "precision": 12, "scale": 2}
PROPERTIES = {
    "id": {"type": "integer"},
    "amount": DECIMAL,
    "at": {"type": ["string", "null"], "format": "date-time"},
    "day": {"type": ["string", "null"], "format": "date"},
    "name": {"type": ["string", "null"]},
    "metadata": {"type": ["object", "null"]},
    "card": {
        "type": ["object", "null"],
        "properties": {"brand": {"type": ["string", "null"]}, "exp_year": {"type": "integer"}},
    },
}
RECORDS = [
    {
        "id": 1,
        "amount": "12345678.91",
        "at": "2025-11-28T23:59:59.999999-05:00",
        "day": "2025-11-28",
        "name": "Zoë 東京 🚀",
        "metadata": {"order_id": "42", "nested": {"x": [1, 2]}},
        "card": {"brand": "visa", "exp_year": 2030},
    },
    {
        "id": 2,
        "amount": "-0.01",
        "at": "0001-01-01T00:00:00+00:00",
        "day": "9999-12-31",
        "name": "",
        "metadata": {},
        "card": None,
    },
    {
        "id": 3,
        "amount": None,
        "at": None,
        "day": None,
        "name": None,
        "metadata": None,
        "card": None,
    },
]


def messages(stream: str = "public-orders") -> list[dict]:
    return [
        schema_message(stream, PROPERTIES, ["id"]),
        *(record_message(stream, r) for r in RECORDS),
        {"type": "STATE", "value": {"bookmarks": {stream: {"replication_key_value": 3}}}},
    ]


def check_round_trip(rows: list[dict]) -> None:
    by_id = {row["id"]: row for row in rows}
    assert by_id[1]["amount"] == Decimal("12345678.91")
    assert by_id[2]["amount"] == Decimal("-0.01")
    assert by_id[3]["amount"] is None
    assert by_id[1]["at"] == dt.datetime(2025, 11, 29, 4, 59, 59, 999999, tzinfo=dt.UTC)
    assert by_id[2]["at"] == dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    assert by_id[1]["day"] == dt.date(2025, 11, 28)
    assert by_id[2]["day"] == dt.date(9999, 12, 31)
    assert by_id[1]["name"] == "Zoë 東京 🚀"
    assert by_id[2]["name"] == ""
    assert json.loads(by_id[1]["metadata"]) == {"order_id": "42", "nested": {"x": [1, 2]}}
    assert by_id[1]["card"] == {"brand": "visa", "exp_year": 2030}
    assert by_id[3]["card"] is None
    assert all(row["_sdc_extracted_at"] is not None for row in rows)


def test_local_round_trip_with_pyarrow_and_duckdb(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    result = run_target({"destination": str(lake), "source_name": "shop"}, messages(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["bookmarks"]
    files = list(lake.glob("shop/public-orders/extracted_date=*/*.parquet"))
    assert len(files) == 1
    rows = ds.dataset(files[0]).to_table().to_pylist()
    check_round_trip(rows)
    conn = duckdb.connect()
    total, zone_type = conn.execute(
        f"select sum(amount), typeof(any_value(\"at\")) from read_parquet('{files[0]}')"
    ).fetchone()
    assert total == Decimal("12345678.90")
    assert zone_type == "TIMESTAMP WITH TIME ZONE"
    brand = conn.execute(
        "select json_extract_string(metadata, '$.order_id')"
        f" from read_parquet('{files[0]}') where id = 1"
    ).fetchone()[0]
    assert brand == "42"
    manifests = list(lake.glob("_meta/manifests/source=shop/stream=public-orders/*.jsonl"))
    manifest = json.loads(manifests[0].read_text())
    assert manifest["status"] == "complete"
    assert manifest["total_rows"] == 3
    assert manifest["files"][0]["sha256"]


def test_s3_round_trip(tmp_path: Path, s3_env: dict[str, str]) -> None:
    prefix = f"{s3_env['LAKE_BUCKET']}/target-tests/{tmp_path.name}"
    config = s3_target_config(s3_env, f"s3://{prefix}", source_name="shop")
    result = run_target(config, messages(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in result.stderr
    fs = s3_filesystem(s3_env)
    dataset = ds.dataset(f"{prefix}/shop/public-orders", filesystem=fs, format="parquet")
    check_round_trip(dataset.to_table().to_pylist())
    conn = duckdb_for_lake(f"s3://{prefix}", s3_env)
    count = conn.execute(
        f"select count(*) from read_parquet('s3://{prefix}/shop/public-orders/*/*.parquet')"
    ).fetchone()[0]
    assert count == 3


def test_schema_change_mid_stream_starts_a_new_file_and_is_recorded(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    wider = {**PROPERTIES, "coupon": {"type": ["string", "null"]}}
    stream = [
        *messages()[:-1],
        schema_message("public-orders", wider, ["id"]),
        record_message("public-orders", {**RECORDS[0], "id": 4, "coupon": "BF25"}),
    ]
    result = run_target({"destination": str(lake), "source_name": "shop"}, stream, tmp_path)
    assert result.returncode == 0, result.stderr
    files = sorted(lake.glob("shop/public-orders/*/*.parquet"))
    assert len(files) == 2
    schemas = [ds.dataset(f).schema for f in files]
    assert "coupon" not in schemas[0].names and "coupon" in schemas[1].names
    history = [
        json.loads(p.read_text())
        for p in lake.glob("_meta/schema_history/source=shop/stream=public-orders/*.jsonl")
    ]
    assert sorted(len(h["added"]) for h in history) == [1, len(schemas[0].names)]
    assert any(h["added"] == ["coupon"] for h in history)
    rows = (
        duckdb.connect()
        .execute(
            "select count(*), count(coupon) from read_parquet("
            f"'{lake}/shop/public-orders/*/*.parquet', union_by_name = true)"
        )
        .fetchone()
    )
    assert rows == (4, 1)


@pytest.mark.parametrize("name", ["../escape", "test:Special Chars!", "a/b/../../c", "..", ""])
def test_malicious_stream_names_stay_inside_the_lake(tmp_path: Path, name: str) -> None:
    lake = tmp_path / "lake"
    stream = [
        schema_message(name, {"id": {"type": "integer"}}),
        record_message(name, {"id": 1}),
    ]
    result = run_target({"destination": str(lake), "source_name": "../src"}, stream, tmp_path)
    assert result.returncode == 0, result.stderr
    written = [p for p in tmp_path.rglob("*.parquet")]
    assert len(written) == 1
    assert written[0].resolve().is_relative_to(lake.resolve())
    relative = written[0].relative_to(lake).parts
    assert len(relative) == 4 and all(part not in ("", ".", "..") for part in relative)


def test_a_value_that_does_not_fit_fails_with_the_column_and_value(tmp_path: Path) -> None:
    stream = [
        schema_message("s", {"id": {"type": "integer"}, "amount": DECIMAL}),
        record_message("s", {"id": 1, "amount": "1.234"}),
    ]
    result = run_target({"destination": str(tmp_path / "lake")}, stream, tmp_path)
    assert result.returncode != 0
    assert "amount" in result.stderr and "1.234" in result.stderr
    assert not list((tmp_path / "lake").rglob("*.parquet"))
