"""The same job on the `minio` environment (lake and Meltano state on S3), and a Unix pipe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from elt_sandbox.stripe_api.data import StripeData

from scripts.pipeline_report import warehouse_counts
from tests.conftest import TEST_SCALE
from tests.e2e.conftest import MeltanoRunner

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
BIN = Path(sys.executable).parent


def test_minio_environment_lands_the_lake_and_state_on_s3(
    minio_runner: MeltanoRunner, s3_env, pg_conn
) -> None:
    minio_runner.run("run", "ecommerce-elt")
    staging = warehouse_counts(minio_runner.warehouse, ("stg_",), s3_env)
    orders = pg_conn.execute("select count(*) from orders").fetchone()[0]
    assert staging["stg_shop__orders"] == orders
    assert staging["stg_stripe__charges"] == len(StripeData(TEST_SCALE).charges)
    assert staging["stg_marketing__spend"] == 365
    from elt_sandbox.services.s3 import s3_client

    bucket = s3_env["LAKE_BUCKET"]
    prefix = minio_runner.lake_root.removeprefix(f"s3://{bucket}/").removesuffix("/bronze")
    keys = [
        o["Key"]
        for o in s3_client(s3_env).list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    ]
    assert any("/bronze/tap_ecommerce_postgres/public-orders/" in k for k in keys)
    assert any("/state/" in k for k in keys), "Meltano's S3 state backend wrote nothing"
    state = minio_runner.run("state", "list").stdout
    assert "tap-ecommerce-postgres-to-target-minio-parquet" in state


def test_a_unix_pipe_lands_the_same_rows_as_meltano(
    dev_runner: MeltanoRunner, pg_env, tmp_path
) -> None:
    tap_config = tmp_path / "tap.json"
    tap_config.write_text(
        json.dumps(
            {
                "host": pg_env["PGHOST"],
                "port": int(pg_env["PGPORT"]),
                "user": pg_env["PGUSER"],
                "password": pg_env["PGPASSWORD"],
                "database": pg_env["PGDATABASE"],
                "schemas": ["public"],
            }
        )
    )
    lake = tmp_path / "pipe-lake"
    target_config = tmp_path / "target.json"
    target_config.write_text(
        json.dumps({"destination": str(lake), "source_name": "tap_ecommerce_postgres"})
    )
    pipeline = subprocess.run(
        f"{BIN / 'tap-ecommerce-postgres'} --config {tap_config}"
        f" | {BIN / 'target-minio-parquet'} --config {target_config}",
        shell=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pipeline.returncode == 0, pipeline.stderr[-2000:]
    dev_runner.run("run", "postgres-to-lake")
    conn = duckdb.connect()
    query = (
        "select distinct order_id, customer_id, order_date, status, total_amount, updated_at"
        " from read_parquet('{root}/tap_ecommerce_postgres/public-orders/*/*.parquet',"
        " union_by_name = true)"
        # LOG_BASED under Meltano: a complete snapshot ends with a keyless end record
        " where order_id is not null order by order_id"
    )
    piped = conn.execute(query.format(root=lake)).fetchall()
    via_meltano = conn.execute(query.format(root=dev_runner.lake_root)).fetchall()
    assert piped and piped == via_meltano


def test_target_jsonl_is_a_second_working_loader(dev_runner: MeltanoRunner, tmp_path) -> None:
    out = tmp_path / "jsonl"
    out.mkdir()
    runner = MeltanoRunner({**dev_runner.env, "TARGET_JSONL_DESTINATION_PATH": str(out)}, tmp_path)
    runner.run("run", "tap-csv-marketing", "target-jsonl")
    lines = (out / "marketing_spend.jsonl").read_text().splitlines()
    assert len(lines) == 365
    assert {"date", "spend", "_sdc_source_file"} <= set(json.loads(lines[0]))
