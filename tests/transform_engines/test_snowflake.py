"""The Snowflake SQL of every model, run as far as this machine allows: `dbt build` (seed,
models, every test) on the `snowflake` target against fakesnow's local server, which
speaks Snowflake's wire protocol and runs the SQL, translated, on DuckDB. The raw tables
are shaped as target-snowflake creates them (tests/transform_engines/snowflake_raw.py).

What this proves: the project renders for Snowflake (sources switch to the raw schemas,
every dispatch macro has a Snowflake branch) and the rendered SQL is accepted by
Snowflake's grammar as fakesnow parses it and computes the expected results on the
awkward rows. What it does not: Snowflake's own planner, types and functions (fakesnow
translates them to DuckDB's), privileges, warehouses or cost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import snowflake.connector

from tests.transform.ad_feed import ad_performance, budget_vs_actual
from tests.transform.conftest import output, run_dbt
from tests.transform.test_marts import FAR_ORDER, NEW_YEAR_ORDER, edge_lake
from tests.transform_engines.fakesnow_venv import fakesnow_executable
from tests.transform_engines.snowflake_raw import load

pytestmark = pytest.mark.slow

RAW_DATABASE = "ECOMMERCE_RAW"
DATABASE, SCHEMA = "ECOMMERCE_ANALYTICS", "ANALYTICS"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"fakesnow exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"fakesnow did not listen on {port} in {seconds} s")


@pytest.fixture(scope="module")
def fakesnow_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """fakesnow's server (from its own virtualenv: tests/transform_engines/fakesnow_venv.py)
    on a free local port, stopped after the module."""
    workdir = tmp_path_factory.mktemp("fakesnow")
    fakesnow = fakesnow_executable()
    port = free_port()
    with (workdir / "fakesnow.log").open("wb") as log:
        process = subprocess.Popen(
            [str(fakesnow), "-s", "--host", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    try:
        wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def connect(port: int) -> snowflake.connector.SnowflakeConnection:
    return snowflake.connector.connect(
        account="fakesnow",
        user="fake",
        password="snow",
        host="127.0.0.1",
        port=port,
        protocol="http",
    )


def dbt_settings(port: int, raw_database: str, database: str, workdir: Path) -> dict:
    """The dbt project's settings for the snowflake target on fakesnow's server."""
    return {
        "DBT_TARGET": "snowflake",
        "SNOWFLAKE_ACCOUNT": "fakesnow",
        "SNOWFLAKE_USER": "fake",
        "SNOWFLAKE_PASSWORD": "snow",
        "SNOWFLAKE_HOST": "127.0.0.1",
        "SNOWFLAKE_PORT": str(port),
        "SNOWFLAKE_PROTOCOL": "http",
        "SNOWFLAKE_RAW_DATABASE": raw_database,
        "SNOWFLAKE_ANALYTICS_DATABASE": database,
        "SNOWFLAKE_ANALYTICS_SCHEMA": SCHEMA,
        "DBT_SNOWFLAKE_THREADS": "1",
        # Parsed by the DuckDB-only monitor source; nothing on Snowflake reads it.
        "LAKE_ROOT": str(workdir / "no-lake"),
    }


@pytest.fixture(scope="module")
def build(fakesnow_port: int, tmp_path_factory: pytest.TempPathFactory) -> dict:
    streams = edge_lake()
    with connect(fakesnow_port) as conn:
        load(conn.cursor(), RAW_DATABASE, streams)
        conn.cursor().execute(f"create database if not exists {DATABASE}")
    workdir = tmp_path_factory.mktemp("dbt-snowflake")
    settings = dbt_settings(fakesnow_port, RAW_DATABASE, DATABASE, workdir)
    result = run_dbt(workdir, ["build"], settings, tz=os.environ.get("TZ"), timeout=900)
    return {
        "result": result,
        "streams": streams,
        "port": fakesnow_port,
        "target": workdir / "dbt-target",
    }


def query(build: dict, sql: str) -> list[tuple]:
    with connect(build["port"]) as conn:
        return conn.cursor().execute(sql).fetchall()


def test_every_model_seed_and_test_builds_on_snowflake_sql(build: dict) -> None:
    result = build["result"]
    assert result.returncode == 0, output(result)
    # The seed, every model and every data test ran and passed (dbt's own record).
    data = json.loads((build["target"] / "run_results.json").read_text())
    statuses = {r["unique_id"]: r["status"] for r in data["results"]}
    assert set(statuses.values()) == {"success", "pass"}
    assert sum(uid.startswith("model.") for uid in statuses) >= 22
    assert sum(uid.startswith("test.") for uid in statuses) > 50


def test_staging_reads_the_raw_schemas_target_snowflake_loads(build: dict) -> None:
    assert build["result"].returncode == 0, output(build["result"])
    orders = {o["order_id"] for o in build["streams"]["orders"]}
    rows = query(build, f"select order_id from {DATABASE}.{SCHEMA}.stg_shop__orders")
    assert {row[0] for row in rows} == orders


def test_marts_are_exact_on_the_awkward_rows(build: dict) -> None:
    assert build["result"].returncode == 0, output(build["result"])
    marts = f"{DATABASE}.{SCHEMA}"
    written = sum(o["total_amount"] for o in build["streams"]["orders"])
    [(total,)] = query(build, f"select sum(total_amount) from {marts}.fct_orders")
    assert Decimal(total) == written
    # A 02:00Z order on New Year's day is dated 2025-01-01 (UTC), its key the md5 of the day.
    [(key,)] = query(
        build, f"select order_date_key from {marts}.fct_orders where order_id = {NEW_YEAR_ORDER}"
    )
    assert key == hashlib.md5(b"2025-01-01").hexdigest()
    # The spine: from January 1st of the first fact's year to the end of the year after
    # the last (an order in 2029), one row a day, ISO weekdays named in English.
    [(first, last, days)] = query(
        build, f"select min(date_day), max(date_day), count(*) from {marts}.dim_date"
    )
    assert (first, last) == (dt.date(2025, 1, 1), dt.date(2030, 12, 31))
    assert days == (last - first).days + 1
    [(name, dow, week)] = query(
        build,
        f"select day_name, iso_day_of_week, iso_year_week from {marts}.dim_date"
        " where date_day = '2025-12-31'",
    )
    assert (name, dow, week) == ("Wednesday", 3, 202601)
    far = query(build, f"select has_payment from {marts}.fct_orders where order_id = {FAR_ORDER}")
    assert far == [(True,)]
    # Net paid: the refund recorded against the failed retry of order 2 nets nothing.
    [(net,)] = query(
        build, f"select net_amount from {marts}.fct_payments where charge_id = 'ch_2f'"
    )
    assert Decimal(net) == 0


def test_ad_feed_marts_are_exact_on_snowflake_sql(build: dict) -> None:
    """The ad feed's marts from target-snowflake's raw tables (attributes as VARIANT, the
    re-read versions told apart by `_sdc_batched_at` alone) equal the Python ones."""
    assert build["result"].returncode == 0, output(build["result"])
    marts = f"{DATABASE}.{SCHEMA}"
    measures = ("event_count", "impressions", "clicks", "cost", "click_through_rate",
                "cost_per_click", "cost_per_mille")  # fmt: skip
    rows = query(
        build,
        f"select performance_date, channel, campaign_id, {', '.join(measures)}"
        f" from {marts}.fct_ad_performance",
    )
    got = {row[:3]: dict(zip(measures, row[3:], strict=True)) for row in rows}
    assert got == ad_performance(build["streams"])
    measures = ("is_planned", "planned_budget", "ad_platform_cost", "exported_spend",
                "ad_cost_over_plan", "plan_used_ratio")  # fmt: skip
    rows = query(
        build,
        f"select budget_date, channel, {', '.join(measures)} from {marts}.rpt_budget_vs_actual",
    )
    got = {row[:2]: dict(zip(measures, row[2:], strict=True)) for row in rows}
    assert got == budget_vs_actual(build["streams"])
    placements = query(
        build,
        f"select event_id, placement from {marts}.stg_marketing__ad_events"
        " where event_id in ('EV-20250301-CMP-008', 'EV-20250302-CMP-003') order by 1",
    )
    assert placements == [("EV-20250301-CMP-008", "inbox"), ("EV-20250302-CMP-003", None)]
