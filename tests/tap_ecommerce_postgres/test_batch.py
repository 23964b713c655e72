"""Full loads as Parquet BATCH files, committed by the real target with exact types."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tests.tap_ecommerce_postgres.catalogs import discover, selecting, write_catalog
from tests.tap_ecommerce_postgres.conftest import TAP, run_tap

TARGET = str(Path(sys.executable).parent / "target-minio-parquet")


def run_pipe(tap_config: Path, target_config: Path) -> None:
    """tap | target, both real processes; fails the test with the end of their logs."""
    pipe = subprocess.run(
        f"set -o pipefail; {TAP} --config {tap_config} | {TARGET} --config {target_config}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pipe.returncode == 0, pipe.stderr[-2000:]


def test_batch_files_land_every_row_with_exact_types(tap_config, scratch_conn, tmp_path) -> None:
    batches, lake = tmp_path / "batches", tmp_path / "lake"
    batches.mkdir()
    config = {
        **tap_config,
        "batch_config": {
            "encoding": {"format": "parquet", "compression": "none"},
            "storage": {"root": f"file://{batches}", "prefix": "shop-"},
            "batch_size": 300,
        },
    }
    (tmp_path / "tap.json").write_text(json.dumps(config))
    (tmp_path / "target.json").write_text(
        json.dumps({"destination": str(lake), "source_name": "shop"})
    )
    run_pipe(tmp_path / "tap.json", tmp_path / "target.json")
    assert len(list(batches.glob("shop-public-order_items-*.parquet"))) > 1  # several batches
    count, total, amount_type, date_type = (
        duckdb.connect()
        .execute(
            "select count(*), sum(total_amount), typeof(any_value(total_amount)),"
            " typeof(any_value(order_date))"
            f" from read_parquet('{lake}/shop/public-orders/*/*.parquet')"
        )
        .fetchone()
    )
    source_count, source_total = scratch_conn.execute(
        "select count(*), sum(total_amount) from orders"
    ).fetchone()
    assert (count, total) == (source_count, source_total)
    assert isinstance(total, Decimal)
    assert amount_type == "DECIMAL(12,2)" and date_type == "TIMESTAMP WITH TIME ZONE"
    items = (
        duckdb.connect()
        .execute(
            "select count(distinct order_item_id)"
            f" from read_parquet('{lake}/shop/public-order_items/*/*.parquet')"
        )
        .fetchone()[0]
    )
    assert items == scratch_conn.execute("select count(*) from order_items").fetchone()[0]


FLAT = """
drop table if exists flat_fidelity;
create table flat_fidelity (
    id int primary key,
    small smallint, big bigint, money_exact numeric(38, 10), free_numeric numeric,
    real_value real, double_value double precision, flag boolean,
    naive timestamp, zoned timestamptz, day date, clock time, uid uuid, raw bytea, note text
);
insert into flat_fidelity values
 (1, -32768, 9223372036854775807, 1234567890123456789012345678.0123456789, 0.000000000000000000001,
  1.5, 2.25, true, '2025-03-09 02:30:00.123456', '2025-11-28 23:59:59.999999-05', '2024-02-29',
  '23:59:59.999999', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\\\x00ff',
  E'Zoë 東京 🚀 "quoted", comma\\nnew line \\\\ back'),
 (2, null, null, 'NaN', 'NaN', 'NaN', '-Infinity', false, 'infinity', '-infinity', 'infinity',
  null, null, null, ''),
 (3, 0, 0, -0.0000000001, -1e-3, 0, 0, null, '0001-01-01 00:00:00', '9999-12-31 23:59:59.999999+00',
  '0001-01-01', '00:00:00', null, '\\\\x', null);
"""
VOLATILE = {
    "_sdc_received_at",
    "_sdc_batched_at",
    "_sdc_sequence",
    "_sdc_extracted_at",
    "_sdc_sync_started_at",  # each run's own start
}


def lake_rows(lake: Path, stream: str) -> list[dict]:
    table = duckdb.connect().execute(
        f"select * exclude ({', '.join(sorted(VOLATILE))})"
        f" from read_parquet('{lake}/shop/{stream}/*/*.parquet') order by 1"
    )
    names = [d[0] for d in table.description]
    return [dict(zip(names, row, strict=True)) for row in table.fetchall()]


def test_batch_files_hold_exactly_what_the_record_path_lands(
    tap_config, scratch_conn, tmp_path
) -> None:
    scratch_conn.execute(FLAT)
    batches = tmp_path / "batches"
    batches.mkdir()
    batch_config = {
        "encoding": {"format": "parquet", "compression": "none"},
        "storage": {"root": f"file://{batches}", "prefix": "flat-"},
        "batch_size": 2,
    }
    lakes = {}
    for mode, extra in (("records", {}), ("batch", {"batch_config": batch_config})):
        (tmp_path / f"{mode}.json").write_text(json.dumps({**tap_config, **extra}))
        lakes[mode] = tmp_path / f"lake-{mode}"
        (tmp_path / f"target-{mode}.json").write_text(
            json.dumps({"destination": str(lakes[mode]), "source_name": "shop"})
        )
        run_pipe(tmp_path / f"{mode}.json", tmp_path / f"target-{mode}.json")
    assert len(list(batches.glob("flat-public-flat_fidelity-*.parquet"))) == 2  # 2 + 1 rows
    from_records = lake_rows(lakes["records"], "public-flat_fidelity")
    from_batches = lake_rows(lakes["batch"], "public-flat_fidelity")
    assert len(from_records) == 3
    assert from_batches == from_records
    one = from_batches[0]
    assert one["money_exact"] == Decimal("1234567890123456789012345678.0123456789")
    assert one["note"] == 'Zoë 東京 🚀 "quoted", comma\nnew line \\ back'
    assert from_batches[1]["note"] == "" and from_batches[2]["note"] is None


def test_batch_files_hold_only_selected_columns(tap_config, scratch_conn, tmp_path) -> None:
    batches = tmp_path / "batches"
    batches.mkdir()
    config = {
        **tap_config,
        "batch_config": {
            "encoding": {"format": "parquet", "compression": "none"},
            "storage": {"root": f"file://{batches}", "prefix": "sel-"},
            "batch_size": 1000,
        },
    }
    catalog = selecting(discover(tap_config, tmp_path), {"public-customers": ["email", "phone"]})
    messages, _ = run_tap(config, tmp_path, extra=write_catalog(catalog, tmp_path))
    schema = next(m for m in messages if m["type"] == "SCHEMA")
    files = sorted(batches.glob("sel-public-customers-*.parquet"))
    assert files
    table = pa.concat_tables(pq.read_table(f) for f in files)
    assert set(table.column_names) == set(schema["schema"]["properties"])
    assert not {"email", "phone"} & set(table.column_names)
    assert table.num_rows == scratch_conn.execute("select count(*) from customers").fetchone()[0]
