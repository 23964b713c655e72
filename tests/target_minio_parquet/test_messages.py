"""BATCH, ACTIVATE_VERSION, interleaved streams, partitioning and file rotation."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tests.target_minio_parquet.conftest import record_message, run_target, schema_message

DECIMAL = {"type": ["string", "null"], "format": "x-singer.decimal", "precision": 12, "scale": 2}
PROPERTIES = {
    "id": {"type": "integer"},
    "amount": DECIMAL,
    "order_date": {"type": ["string", "null"], "format": "date-time"},
}


def rows_of(lake: Path, pattern: str) -> list[dict]:
    files = sorted(lake.glob(pattern))
    assert files, f"nothing matches {pattern}"
    return pq.ParquetDataset(files).read().to_pylist()


def test_batch_messages_in_jsonl_and_parquet_are_typed_by_the_schema(tmp_path: Path) -> None:
    jsonl = tmp_path / "batch-1.jsonl.gz"
    with gzip.open(jsonl, "wt") as handle:
        for i in (1, 2):
            handle.write(json.dumps({"id": i, "amount": f"{i}.10", "order_date": None}) + "\n")
    parquet = tmp_path / "batch-2.parquet"
    # The SDK's own BATCH Parquet guesses types: decimals as doubles, dates as text.
    pq.write_table(
        pa.table(
            {
                "id": pa.array([3, 4], pa.int32()),
                "amount": pa.array(["3.30", None]),
                "order_date": pa.array(["2026-03-01T10:00:00+02:00", None]),
            }
        ),
        parquet,
    )
    lake = tmp_path / "lake"
    messages = [
        schema_message("orders", PROPERTIES, ["id"]),
        record_message("orders", {"id": 0, "amount": "0.01", "order_date": None}),
        {
            "type": "BATCH",
            "stream": "orders",
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "manifest": [f"file://{jsonl}"],
        },
        {
            "type": "BATCH",
            "stream": "orders",
            "encoding": {"format": "parquet", "compression": "none"},
            "manifest": [f"file://{parquet}"],
        },
        {"type": "STATE", "value": {"done": True}},
    ]
    result = run_target({"destination": str(lake), "source_name": "s"}, messages, tmp_path)
    assert result.returncode == 0, result.stderr
    files = sorted(lake.glob("s/orders/*/*.parquet"))
    assert len(files) == 3  # the buffered record is committed first, then each BATCH file
    assert {pq.read_schema(f).field("amount").type for f in files} == {pa.decimal128(12, 2)}
    rows = {row["id"]: row for row in rows_of(lake, "s/orders/*/*.parquet")}
    assert sorted(rows) == [0, 1, 2, 3, 4]
    assert rows[2]["amount"] == Decimal("2.10") and rows[3]["amount"] == Decimal("3.30")
    assert rows[3]["order_date"] == dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    assert rows[4]["amount"] is None
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"done": True}


def test_interleaved_streams_share_one_budget_and_still_get_large_files(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    messages = [
        schema_message("charges", PROPERTIES, ["id"]),
        schema_message("refunds", PROPERTIES, ["id"]),
    ]
    for i in range(1, 3001):
        messages.append(record_message("charges", {"id": i, "amount": "1.00"}))
        messages.append(record_message("refunds", {"id": i, "amount": "-1.00"}))
    config = {"destination": str(lake), "source_name": "s", "max_buffer_rows": 1000}
    result = run_target(config, messages, tmp_path)
    assert result.returncode == 0, result.stderr
    for stream in ("charges", "refunds"):
        files = list(lake.glob(f"s/{stream}/*/*.parquet"))
        sizes = [pq.read_metadata(f).num_rows for f in files]
        assert sum(sizes) == 3000
        assert len(files) <= 7, sizes  # ~500 rows per file, not one file per switch


def test_partition_by_month_and_max_rows_per_file(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    messages = [schema_message("public-orders", PROPERTIES, ["id"])]
    for i in range(1, 26):
        month = 1 + i % 2
        record = {"id": i, "amount": "2.50", "order_date": f"2026-0{month}-15T12:00:00Z"}
        messages.append(record_message("public-orders", record))
    messages.append(record_message("public-orders", {"id": 26, "amount": None}))
    config = {
        "destination": str(lake),
        "source_name": "shop",
        "partition_by": {"public-orders": "order_date"},
        "max_rows_per_file": 5,
    }
    result = run_target(config, messages, tmp_path)
    assert result.returncode == 0, result.stderr
    base = lake / "shop" / "public-orders"
    partitions = sorted(p.name for p in base.iterdir())
    assert partitions == [
        "order_date_month=2026-01",
        "order_date_month=2026-02",
        "order_date_month=__null__",
    ]
    files = list(base.glob("*/*.parquet"))
    assert max(pq.read_metadata(f).num_rows for f in files) == 5
    january = rows_of(lake, "shop/public-orders/order_date_month=2026-01/*.parquet")
    assert len(january) == 12 and all(row["order_date"].month == 1 for row in january)
    count, months = (
        duckdb.connect()
        .execute(
            "select count(*), count(distinct order_date_month) from read_parquet("
            f"'{base}/*/*.parquet', hive_partitioning = true)"
        )
        .fetchone()
    )
    assert (count, months) == (26, 3)


def test_activate_version_is_kept_and_the_manifest_checks_out(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    messages = [
        schema_message("orders", PROPERTIES, ["id"]),
        {"type": "ACTIVATE_VERSION", "stream": "orders", "version": 7},
        {**record_message("orders", {"id": 1, "amount": "1.00"}), "version": 7},
        {"type": "ACTIVATE_VERSION", "stream": "orders", "version": 7},
    ]
    result = run_target({"destination": str(lake), "source_name": "s"}, messages, tmp_path)
    assert result.returncode == 0, result.stderr
    rows = rows_of(lake, "s/orders/*/*.parquet")
    assert rows[0]["_sdc_table_version"] == 7
    (manifest_file,) = lake.glob("_meta/manifests/source=s/stream=orders/*.jsonl")
    manifest = json.loads(manifest_file.read_text())
    assert manifest["activated_versions"] == [7, 7]
    assert manifest["status"] == "complete" and manifest["total_rows"] == 1
    for listed in manifest["files"]:
        data = Path(listed["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == listed["sha256"]
        assert len(data) == listed["bytes"]
    summary = (
        duckdb.connect()
        .execute(
            "select stream, status, total_rows, len(files) from read_json_auto("
            f"'{lake}/_meta/manifests/**/*.jsonl')"
        )
        .fetchall()
    )
    assert summary == [("orders", "complete", 1, 1)]


def test_stream_maps_take_the_sdk_path_and_still_type_every_column(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    messages = [schema_message("orders", PROPERTIES, ["id"])]
    for i in range(1, 6):
        record = {"id": i, "amount": f"{i}.05", "order_date": "2026-01-02T03:04:05.000006Z"}
        messages.append(record_message("orders", record))
    config = {
        "destination": str(lake),
        "source_name": "s",
        "stream_maps": {"orders": {"__filter__": "id % 2 == 1", "order_date": "__NULL__"}},
    }
    result = run_target(config, messages, tmp_path)
    assert result.returncode == 0, result.stderr
    rows = rows_of(lake, "s/orders/*/*.parquet")
    assert sorted(row["id"] for row in rows) == [1, 3, 5]
    assert {row["amount"] for row in rows} == {Decimal("1.05"), Decimal("3.05"), Decimal("5.05")}
    assert "order_date" not in rows[0]
    assert all(row["_sdc_extracted_at"] is not None for row in rows)
