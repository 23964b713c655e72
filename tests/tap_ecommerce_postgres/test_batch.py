"""Full loads as Parquet BATCH files, committed by the real target with exact types."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb

from tests.tap_ecommerce_postgres.conftest import TAP

TARGET = str(Path(sys.executable).parent / "target-minio-parquet")


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
    pipe = subprocess.run(
        f"{TAP} --config {tmp_path / 'tap.json'} | {TARGET} --config {tmp_path / 'target.json'}",
        shell=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pipe.returncode == 0, pipe.stderr[-2000:]
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
