"""Run the one dbt project on a chosen engine (dbt target) and read its marts back.

The DuckDB run is the existing `tests.transform.conftest.DbtProject`'s; this module adds
the same for the `spark` target (a local pyspark session inside dbt, marts written as
Parquet under a warehouse directory) and the Python side of the comparison: every mart
read through one reader (DuckDB) and every value normalised, so a row hashes the same
whichever engine computed it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from tests.conftest import REPO_ROOT
from tests.transform.conftest import run_dbt

sys.path.insert(0, str(REPO_ROOT / "transform" / "scripts"))
from wap.spark_engine import SMALL_DATA_SETTINGS  # the script's package, beside wap_publish.py

MARTS = (
    "dim_customers",
    "dim_date",
    "dim_products",
    "fct_ad_performance",
    "fct_marketing_spend",
    "fct_order_items",
    "fct_orders",
    "fct_payments",
    "rpt_budget_vs_actual",
    "rpt_revenue_by_channel",
)
SPARK_SCHEMA = "analytics"
# The profile's small-data switches (see profiles.yml), as `dbt-spark:wap` sets them for a
# small lake: set here for every Spark build, `wap` or plain `dbt build`.
SMALL_DATA = SMALL_DATA_SETTINGS
# fct_marketing_spend's and rpt_revenue_by_channel's ratios (ROAS, CTR, cost per click)
# are doubles on both engines (the ad feed's marts have exact decimal ratios); the same double can
# print differently in its last digit after a different evaluation order.
FLOAT_DIGITS = 12


@dataclass(frozen=True)
class SparkProject:
    """One lake, one Spark warehouse directory and one dbt target directory."""

    workdir: Path
    lake_root: Path

    @property
    def warehouse(self) -> Path:
        return self.workdir / "spark-warehouse"

    def settings(self) -> dict[str, str]:
        """The `spark` target with one core and one shuffle partition: the data is tiny
        and the test machine is shared."""
        return {
            "DBT_TARGET": "spark",
            "LAKE_ROOT": str(self.lake_root),
            "DBT_SPARK_WAREHOUSE_DIR": str(self.warehouse),
            "DBT_SPARK_MASTER": "local[1]",
            "DBT_SPARK_SHUFFLE_PARTITIONS": "1",
            "DBT_SPARK_SCHEMA": SPARK_SCHEMA,
            **SMALL_DATA,
        }

    def dbt(self, *args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
        """`dbt <args>` on the `spark` target (`settings`)."""
        return run_dbt(
            self.workdir, args, self.settings(), tz=os.environ.get("TZ"), timeout=timeout
        )

    def mart_files(self, mart: str) -> str:
        """The Parquet files of one mart, as a glob any Parquet reader takes."""
        return str(self.warehouse / f"{SPARK_SCHEMA}.db" / mart / "*.parquet")


def normalise(value: Any) -> Any:
    """A value as engine-independent JSON: decimals without trailing zeros, doubles to
    FLOAT_DIGITS significant digits, instants in UTC, dates as ISO text."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "0") else text
    if isinstance(value, float):
        return f"{value:.{FLOAT_DIGITS}g}"
    if isinstance(value, dt.datetime):
        return (value.astimezone(dt.UTC) if value.tzinfo else value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Mart:
    """One mart's rows, read back from an engine's output."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    @classmethod
    def read(cls, conn: duckdb.DuckDBPyConnection, sql: str) -> Mart:
        cursor = conn.execute(sql)
        names = [column[0] for column in cursor.description]
        order = sorted(range(len(names)), key=lambda i: names[i])
        rows = tuple(tuple(row[i] for i in order) for row in cursor.fetchall())
        return cls(tuple(names[i] for i in order), rows)

    def row_hashes(self) -> Counter[str]:
        """md5 of each normalised row: equal multisets mean the same rows."""
        return Counter(
            hashlib.md5(json.dumps([normalise(v) for v in row]).encode()).hexdigest()
            for row in self.rows
        )

    def money_sums(self) -> dict[str, Decimal]:
        """The sum of every decimal column, to the cent."""
        sums: dict[str, Decimal] = {}
        for i, name in enumerate(self.columns):
            values = [row[i] for row in self.rows if row[i] is not None]
            if values and all(isinstance(v, Decimal) for v in values):
                sums[name] = sum(values, Decimal(0)).quantize(Decimal("0.01"))
        return sums

    def normalised(self) -> list[list[Any]]:
        return sorted([[normalise(v) for v in row] for row in self.rows], key=json.dumps)


def read_duckdb_marts(warehouse: Path) -> dict[str, Mart]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        conn.execute("set TimeZone = 'UTC'")
        return {mart: Mart.read(conn, f"select * from main.{mart}") for mart in MARTS}


def read_spark_marts(project: SparkProject) -> dict[str, Mart]:
    with duckdb.connect() as conn:
        conn.execute("set TimeZone = 'UTC'")
        return {
            mart: Mart.read(conn, f"select * from read_parquet('{project.mart_files(mart)}')")
            for mart in MARTS
        }
