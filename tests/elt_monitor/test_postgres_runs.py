"""Real tap-ecommerce-postgres | target-minio-parquet runs, anomalies made at the source,
judged by the real `elt-monitor check`."""

from __future__ import annotations

import duckdb

from tests.elt_monitor.conftest import Pipeline, codes


def test_two_clean_runs_are_ok_and_the_ledger_reconciles(pg_pipeline: Pipeline) -> None:
    first = pg_pipeline.run_and_check()
    second = pg_pipeline.run_and_check()
    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.strip().endswith(": ok"), second.stdout
    ledger = duckdb.sql(
        f"select stream, run_kind, tap_rows, target_rows, files, len(checksums) c "
        f"from read_parquet('{pg_pipeline.lake}/_meta/ledger/*.parquet') "
        "where stream <> '*' order by recorded_at, stream"
    ).fetchall()
    schema = pg_pipeline.tap_config["schemas"][0]
    assert [row[:2] for row in ledger] == [
        (f"{schema}-customers", "initial"),
        (f"{schema}-orders", "initial"),
        (f"{schema}-customers", "full"),
        (f"{schema}-orders", "full"),
    ]
    assert all(row[2] == row[3] > 0 and row[4] == row[5] >= 1 for row in ledger)


def test_half_of_the_orders_deleted_is_critical(pg_pipeline: Pipeline, shop_copy, pg_conn) -> None:
    schema = shop_copy[0]
    for _ in range(2):
        assert pg_pipeline.run_and_check().returncode == 0
    pg_conn.execute(f"delete from {schema}.orders where order_id % 2 = 0")
    result = pg_pipeline.run_and_check()
    assert result.returncode == 1, result.stdout
    assert codes(result) == {("critical", "ROW_DROP_CRITICAL")}
    assert f"src/{schema}-orders" in result.stdout


def test_a_quarter_fewer_orders_is_a_warning_not_a_failure(
    pg_pipeline: Pipeline, shop_copy, pg_conn
) -> None:
    schema = shop_copy[0]
    assert pg_pipeline.run_and_check().returncode == 0
    pg_conn.execute(f"delete from {schema}.orders where order_id % 4 = 0")
    result = pg_pipeline.run_and_check()
    assert result.returncode == 0, result.stdout
    assert codes(result) == {("warning", "ROW_DROP_WARNING")}
    # the same run judged with fail_on=warning fails the gate
    assert pg_pipeline.monitor("check", fail_on="warning").returncode == 1


def test_an_emptied_table_is_a_critical_zero_row_snapshot(
    pg_pipeline: Pipeline, shop_copy, pg_conn
) -> None:
    assert pg_pipeline.run_and_check().returncode == 0
    pg_conn.execute(f"truncate {shop_copy[0]}.customers")
    result = pg_pipeline.run_and_check()
    assert result.returncode == 1
    assert ("critical", "ZERO_ROWS") in codes(result)


def test_a_deselected_stream_is_missing(pg_pipeline: Pipeline, shop_copy) -> None:
    assert pg_pipeline.run_and_check().returncode == 0
    catalog = pg_pipeline.discover()
    for stream in catalog["streams"]:
        if stream["tap_stream_id"].endswith("-customers"):
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = False
    result = pg_pipeline.run_and_check(catalog=catalog)
    assert result.returncode == 1
    assert codes(result) == {("critical", "STREAM_MISSING")}
    assert f"src/{shop_copy[0]}-customers" in result.stdout


def test_a_dropped_column_is_a_schema_warning(pg_pipeline: Pipeline, shop_copy, pg_conn) -> None:
    assert pg_pipeline.run_and_check().returncode == 0
    pg_conn.execute(f"alter table {shop_copy[0]}.orders drop column status")
    result = pg_pipeline.run_and_check()
    assert result.returncode == 0, result.stdout
    assert codes(result) == {("warning", "SCHEMA_COLUMN_REMOVED")}
    assert "status" in result.stdout


def test_rows_lost_between_tap_and_target_are_critical(pg_pipeline: Pipeline) -> None:
    assert pg_pipeline.run_and_check().returncode == 0
    # the target gets the tap's output cut short, as a broken pipe would leave it
    result = pg_pipeline.run_and_check(keep_lines=200)
    assert result.returncode == 1
    assert ("critical", "TAP_TARGET_MISMATCH") in codes(result)


def test_history_is_trimmed_at_the_bound(pg_pipeline: Pipeline) -> None:
    for _ in range(4):
        assert pg_pipeline.run_and_check(history_runs="2").returncode == 0
    runs = duckdb.sql(
        f"select count(distinct job_run_id), count(*) from "
        f"read_parquet('{pg_pipeline.lake}/_meta/ledger/*.parquet')"
    ).fetchall()[0]
    assert runs == (2, 2 * 3)  # two job runs: two streams and the job row each
    # trimmed runs are not recorded again from their manifests: a run that loaded
    # nothing records no stream, and the check says what is missing
    result = pg_pipeline.monitor("check", "--record", history_runs="2")
    assert codes(result) == {("critical", "STREAM_MISSING"), ("critical", "NO_STREAMS")}
    assert duckdb.sql(
        f"select count(*) from read_parquet('{pg_pipeline.lake}/_meta/ledger/*.parquet') "
        "where stream <> '*'"
    ).fetchall()[0] == (2,)


def test_a_row_deleted_behind_an_incremental_stream_is_a_warning(
    pg_pipeline: Pipeline, shop_copy, pg_conn
) -> None:
    """A replication key never sees a delete: the tap's count of the whole table after
    each INCREMENTAL read, against the distinct keys in the lake, does."""
    schema = shop_copy[0]
    pg_conn.execute(f"alter table {schema}.customers add primary key (customer_id)")
    pg_pipeline.tap_config["stream_options"] = {
        f"{schema}-customers": {
            "replication_method": "INCREMENTAL",
            "replication_key": "updated_at",
        }
    }
    pg_pipeline.carry_state = True
    for _ in range(2):
        result = pg_pipeline.run_and_check()
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SOURCE_ROWS_DELETED" not in result.stdout
    (customers,) = pg_conn.execute(f"select count(*) from {schema}.customers").fetchone()
    pg_conn.execute(
        f"delete from {schema}.customers where customer_id = "
        f"(select min(customer_id) from {schema}.customers)"
    )
    result = pg_pipeline.run_and_check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("warning", "SOURCE_ROWS_DELETED") in codes(result), result.stdout
    assert f"src/{schema}-customers" in result.stdout
    ledger = duckdb.sql(
        f"select source_rows, lake_keys from read_parquet("
        f"'{pg_pipeline.lake}/_meta/ledger/*.parquet', union_by_name => true) "
        f"where stream = '{schema}-customers' order by recorded_at"
    ).fetchall()
    assert ledger == [(customers, customers), (customers, customers), (customers - 1, customers)]
    # the snapshot stream (orders, FULL_TABLE) is not counted twice
    orders = duckdb.sql(
        f"select source_rows from read_parquet('{pg_pipeline.lake}/_meta/ledger/*.parquet', "
        f"union_by_name => true) where stream = '{schema}-orders'"
    ).fetchall()
    assert orders == [(None,)] * 3
