"""The dbt models over LOG_BASED bronze, on every engine: deleted keys leave the current
state, the latest change wins by change order (not by load order alone), and the marts
reconcile. The lake and the expected state are in tests/e2e/change_lake.py.

`dbt build` runs the seed, every model and every data test; each engine's marts are then
checked against the same expected keys, values and money sums.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.e2e.change_lake import (
    CHANGE_STREAMS,
    CHARGES,
    CURRENT_CITIES,
    CURRENT_CUSTOMERS,
    CURRENT_ITEMS,
    CURRENT_ORDERS,
    DELETED_ORDERS,
    GENERATION,
    ITEMS_TOTAL,
    LSN,
    ORDERS_TOTAL,
    RUNS,
    ChangeLake,
    runs,
    write_runs,
)
from tests.transform.bronze import BronzeLake, baseline
from tests.transform.conftest import DbtProject, output, run_dbt
from tests.transform_engines.engines import SparkProject

# fakesnow's server in its own venv, one per module (the fixture of the engine tests)
from tests.transform_engines.test_snowflake import (  # noqa: F401 (fixture)
    SCHEMA,
    connect,
    dbt_settings,
    fakesnow_port,
)

pytestmark = pytest.mark.slow
# Databases of their own: fakesnow's server is per module, but names should not collide
CDC_RAW_DATABASE, CDC_DATABASE = "CDC_RAW", "CDC_ANALYTICS"

NOT_MONITOR = ("--exclude", "source:monitor+", "rpt_ingestion_runs+")
# The marts `check_marts` reads with every model upstream of them; a test joins in only
# when all its parents are built (a relationships test from an unbuilt model would find
# no table in Spark's in-memory session).
CHANGE_CAPTURE_MARTS = (
    "--select",
    "+dim_customers",
    "+fct_orders",
    "+fct_order_items",
    "+fct_payments",
    "--indirect-selection",
    "cautious",
)
Query = Callable[[str], list[tuple]]
Relation = Callable[[str], str]


def check_marts(query: Query, rel: Relation, staging: bool = True) -> None:
    """The expected current state in one engine's marts (and staging views, where the
    engine keeps them), read through `query`; `rel` names a model's relation."""
    assert dict(query(f"select customer_id, city from {rel('dim_customers')}")) == (
        CURRENT_CUSTOMERS
    )
    orders = dict(query(f"select order_id, order_status from {rel('fct_orders')}"))
    assert orders == CURRENT_ORDERS
    items = {row[0] for row in query(f"select order_item_id from {rel('fct_order_items')}")}
    assert items == CURRENT_ITEMS
    [(orders_total, order_count)] = query(
        f"select sum(total_amount), count(*) from {rel('fct_orders')}"
    )
    [(items_total,)] = query(f"select sum(line_total) from {rel('fct_order_items')}")
    assert (Decimal(orders_total), order_count) == (ORDERS_TOTAL, len(CURRENT_ORDERS))
    assert Decimal(items_total) == ITEMS_TOTAL
    payments = dict(query(f"select charge_id, is_order_deleted from {rel('fct_payments')}"))
    assert set(payments) == CHARGES  # the charge of a deleted order stays
    assert {charge for charge, deleted in payments.items() if deleted} == {"ch_3", "ch_4"}
    if staging:
        cities = dict(query(f"select order_id, shipping_city from {rel('stg_shop__orders')}"))
        assert cities == CURRENT_CITIES
        deleted = query(f"select order_id from {rel('stg_shop__deleted_orders')}")
        assert {row[0] for row in deleted} == DELETED_ORDERS


@pytest.fixture(scope="module")
def duckdb_build(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = DbtProject(tmp_path_factory.mktemp("cdc-duckdb"))
    write_runs(ChangeLake(project.workdir / "lake"))
    result = project.dbt("build", *NOT_MONITOR)
    assert result.returncode == 0, output(result)
    return project


def test_duckdb_marts_hold_the_current_state(duckdb_build: DbtProject) -> None:
    check_marts(duckdb_build.query, lambda name: name)


def test_deleted_orders_carry_their_delete_time(duckdb_build: DbtProject) -> None:
    rows = dict(duckdb_build.query("select order_id, deleted_at from stg_shop__deleted_orders"))
    assert rows[3] == dt.datetime(2025, 6, 1, 20, 0, tzinfo=dt.UTC)


def test_bronze_keeps_every_change(duckdb_build: DbtProject) -> None:
    """The history stays in bronze: every record of every run, deletes included."""
    lake = duckdb_build.workdir / "lake" / "tap_ecommerce_postgres"
    records = [row for streams in runs() for s in CHANGE_STREAMS for row in streams.get(s, [])]
    with duckdb.connect() as conn:
        [(rows, deletes)] = conn.execute(
            "select count(*), count(_sdc_deleted_at) from read_parquet(?, union_by_name = true)",
            [[f"{lake}/public-{stream}/*/*.parquet" for stream in CHANGE_STREAMS]],
        ).fetchall()
    assert rows == len(records)
    assert deletes == sum(1 for row in records if row.get("_sdc_deleted_at")) > 0


def test_a_lake_without_change_capture_is_read_as_before(tmp_path: Path) -> None:
    """No `_sdc_lsn` in bronze (streams read by replication key): `latest_version`, and
    no deleted orders."""
    project = DbtProject(tmp_path)
    BronzeLake(tmp_path / "lake").write_all(baseline())
    for args in (["seed"], ["run", "--select", "stg_shop__orders", "stg_shop__deleted_orders"]):
        result = project.dbt(*args)
        assert result.returncode == 0, output(result)
    assert project.query("select count(*) from stg_shop__orders") == [(3,)]
    assert project.query("select count(*) from stg_shop__deleted_orders") == [(0,)]


@pytest.mark.spark
def test_spark_marts_hold_the_current_state(
    duckdb_build: DbtProject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The same lake on a local Spark session: the marts `check_marts` reads, every model
    upstream of them and every test on those; their Parquet (the session's staging views
    are gone with it) holds the same state. The whole project (every model and test) on
    Spark is the engine tests' one build (tests/transform_engines/conftest.py); here
    Spark proves the change-capture semantics of these marts, in about half the nodes.
    A plain `dbt build`, as `dbt-spark:build` runs it (staging and intermediate as views;
    `wap` builds them as tables): the suite's one Spark build of views, kept for that,
    though views cost more there (the sandbox lake's whole build: 85 s, 46 s as tables)."""
    spark = SparkProject(tmp_path_factory.mktemp("cdc-spark"), duckdb_build.workdir / "lake")
    result = spark.dbt("build", *CHANGE_CAPTURE_MARTS, *NOT_MONITOR)
    assert result.returncode == 0, output(result)
    results = json.loads((spark.workdir / "dbt-target" / "run_results.json").read_text())
    assert {r["status"] for r in results["results"]} == {"success", "pass"}
    ran = [r["unique_id"] for r in results["results"]]
    models = {node.rsplit(".", 1)[-1] for node in ran if node.startswith("model.")}
    assert {"dim_customers", "fct_orders", "fct_order_items", "fct_payments"} <= models
    assert sum(node.startswith("test.") for node in ran) >= 20, ran
    with duckdb.connect() as conn:
        conn.execute("set TimeZone = 'UTC'")
        check_marts(
            lambda sql: conn.execute(sql).fetchall(),
            lambda name: f"read_parquet('{spark.mart_files(name)}')",
            staging=False,
        )


# -- Snowflake (fakesnow) ----------------------------------------------------------------


def load_snowflake_runs(cursor: Any, database: str) -> None:
    """The lake's runs as target-snowflake loads them: one raw table per stream, rows of
    later runs batched later, `_SDC_LSN` on the LOG_BASED streams."""
    from tests.transform_engines.snowflake_raw import raw_table, sql_literal

    cursor.execute(f"create database if not exists {database}")
    created: set[str] = set()
    sequence = 0
    for batched_at, streams in zip(RUNS, runs(), strict=True):
        stamp = batched_at.replace(tzinfo=None)
        for stream, rows in streams.items():
            schema, table, columns = raw_table(stream)
            columns = {**columns, "_sdc_deleted_at": "timestamp_ntz"}
            if stream in CHANGE_STREAMS:
                columns[LSN] = "number(38, 0)"
                columns[GENERATION] = "number(38, 0)"
            name = f"{database}.{schema}.{table}"
            if name not in created:
                cursor.execute(f"create schema if not exists {database}.{schema}")
                ddl = ", ".join(f"{column} {kind}" for column, kind in columns.items())
                cursor.execute(f"create or replace table {name} ({ddl})")
                created.add(name)
            for row in rows:
                sequence += 1
                values: Mapping[str, Any] = {
                    "_sdc_extracted_at": stamp,
                    "_sdc_received_at": stamp,
                    "_sdc_batched_at": stamp,
                    "_sdc_sequence": sequence,
                    **row,
                }
                literals = ", ".join(
                    sql_literal(values.get(column), kind) for column, kind in columns.items()
                )
                cursor.execute(f"insert into {name} ({', '.join(columns)}) select {literals}")


def test_snowflake_marts_hold_the_current_state(
    fakesnow_port: int,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Raw tables shaped like target-snowflake's (no file tiebreak there: the `_sdc_*`
    columns and `_sdc_lsn` decide), `dbt build` on the snowflake target via fakesnow."""
    with connect(fakesnow_port) as conn:
        load_snowflake_runs(conn.cursor(), CDC_RAW_DATABASE)
        conn.cursor().execute(f"create database if not exists {CDC_DATABASE}")
    settings = dbt_settings(fakesnow_port, CDC_RAW_DATABASE, CDC_DATABASE, tmp_path)
    result = run_dbt(tmp_path, ["build"], settings, tz=os.environ.get("TZ"), timeout=900)
    assert result.returncode == 0, output(result)
    with connect(fakesnow_port) as conn:
        check_marts(
            lambda sql: conn.cursor().execute(sql).fetchall(),
            lambda name: f"{CDC_DATABASE}.{SCHEMA}.{name}",
        )
