"""Write, audit, publish on local Spark: one real build into the staging database, then
`analytics.db` repointed at it. One Spark build serves this module and the cross-engine
comparison (it is slow: conftest.py); the attempt that must not publish is one that dbt
refuses before starting Spark.

The published marts are compared with a plain DuckDB build of the same lake (the
cross-engine proof), read through the `analytics.db` link as any Parquet reader would.
"""

from __future__ import annotations

import duckdb
import pytest

from tests.transform.conftest import output
from tests.transform.wap import state
from tests.transform_engines.conftest import EngineBuilds
from tests.transform_engines.engines import (
    SPARK_SCHEMA,
    SparkProject,
    read_duckdb_marts,
    read_spark_marts,
)

pytestmark = [pytest.mark.slow, pytest.mark.spark]


@pytest.fixture(scope="module")
def nights(engine_builds: EngineBuilds) -> dict:
    """The shared Spark build (conftest.py): a refused attempt, then run-1 published."""
    return {
        "duck": engine_builds.duck,
        "spark": engine_builds.spark,
        "refused": engine_builds.refused,
        "refused_attempt": engine_builds.refused_attempt,
        "published": engine_builds.published,
    }


def test_a_build_dbt_refuses_publishes_nothing(nights: dict) -> None:
    assert nights["refused"].returncode == 2, output(nights["refused"])
    attempt = nights["refused_attempt"]
    assert attempt["published"] is False and attempt["dbt_invocation_id"] is None
    assert attempt["marts_as_of"] is None
    # (the link is checked after the publication below: the old directory was kept)


def test_a_passing_build_repoints_the_published_database(nights: dict) -> None:
    spark: SparkProject = nights["spark"]
    assert nights["published"].returncode == 0, output(nights["published"])
    link = spark.warehouse / f"{SPARK_SCHEMA}.db"
    assert link.is_symlink()
    assert link.resolve() == (spark.warehouse / f"{SPARK_SCHEMA}.versions" / "run-1").resolve()
    # The pre-WAP marts were moved aside whole, not mixed in; the staging database is gone.
    before = spark.warehouse / f"{SPARK_SCHEMA}.versions" / "before-wap" / "fct_orders"
    assert (before / "part-0.parquet").read_bytes() == b"yesterday"
    assert not (spark.warehouse / f"{SPARK_SCHEMA}__wap.db").exists()
    with duckdb.connect() as conn:
        stamp = conn.execute(
            f"select run_id from read_parquet('{link}/marts_publication/*.parquet')"
        ).fetchall()
    assert stamp == [("run-1",)]
    publication = state(spark.workdir, "publication.json")
    assert (publication["engine"], publication["location"]) == ("spark", str(link))
    assert publication["counts"]["tests"] > 50 and publication["results"] == []
    assert state(spark.workdir, "attempt.json")["marts_as_of"]["run_id"] == "run-1"


def test_published_spark_marts_equal_the_duckdb_build(nights: dict) -> None:
    assert nights["published"].returncode == 0, output(nights["published"])
    duck = read_duckdb_marts(nights["duck"].warehouse)
    spark = read_spark_marts(nights["spark"])
    for mart, rows in duck.items():
        assert rows.rows, f"{mart} is empty: nothing compared"
        assert spark[mart].row_hashes() == rows.row_hashes(), mart


def test_staging_is_frozen_with_the_marts(nights: dict) -> None:
    """Staging and intermediate were built once, as Parquet tables in the published
    version (wap_freeze_layers), and hold what the DuckDB build's staging views hold."""
    spark: SparkProject = nights["spark"]
    link = spark.warehouse / f"{SPARK_SCHEMA}.db"
    frozen = {path.name for path in link.iterdir() if path.name.startswith(("stg_", "int_"))}
    assert {"stg_shop__orders", "stg_stripe__charges", "int_payments__by_order"} <= frozen
    with duckdb.connect() as conn:
        conn.execute("set TimeZone = 'UTC'")
        spark_orders = conn.execute(
            f"select order_id, total_amount from read_parquet('{link}/stg_shop__orders/*.parquet')"
            " order by order_id"
        ).fetchall()
    duck_orders = nights["duck"].query(
        "select order_id, total_amount from stg_shop__orders order by order_id"
    )
    assert spark_orders and spark_orders == duck_orders
