"""The proof that the models are portable: one bronze lake, the whole project built with
`dbt build` (seeds, models, every test) on DuckDB and on Spark, and the marts compared in
Python: the same rows (a hash of every normalised row of every mart) and the same money
sums to the cent.

The lake carries the awkward cases of tests/transform (an order at 02:00Z on New Year's
day, an order in 2029, a refund against a failed charge, versions tied on every
timestamp), so the engines must agree on date keys, the date spine, the net-paid rule and
the dedupe tiebreakers, not only on the easy rows. One Spark build serves the module and
test_wap_spark.py: write-audit-publish's (conftest.py), the same `dbt build` published.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.transform.ad_feed import ad_performance, budget_vs_actual
from tests.transform.conftest import DbtProject, output
from tests.transform.test_marts import edge_lake, tied_versions
from tests.transform_engines.conftest import EngineBuilds
from tests.transform_engines.engines import (
    MARTS,
    Mart,
    read_duckdb_marts,
    read_spark_marts,
)

pytestmark = [pytest.mark.slow, pytest.mark.spark]

# rpt_ingestion_runs models elt-monitor's ledger, not bronze, and is DuckDB-only.
NOT_MONITOR = ("--exclude", "source:monitor+", "rpt_ingestion_runs+")


def write_lake(project: DbtProject) -> dict[str, list[dict]]:
    streams = edge_lake()
    # A second campaign day pair, so ROAS and cost per click are long doubles, not 2.0.
    for row in streams["marketing_spend"]:
        row["spend"] = Decimal("12.37")
    streams["campaign_performance"][0]["revenue_attributed"] = Decimal("41.13")
    project.lake.write_all(streams)
    first, second = tied_versions()
    project.lake.write("customers", first, run_id="20250601T120000Z-aaaaaaaa")
    project.lake.write("customers", second, run_id="20250601T120000Z-bbbbbbbb")
    return streams


def node_statuses(target_dir: Path) -> dict[str, str]:
    data = json.loads((target_dir / "run_results.json").read_text())
    return {r["unique_id"]: r["status"] for r in data["results"]}


@pytest.fixture(scope="module")
def builds(engine_builds: EngineBuilds) -> dict:
    """Both engines built from the same lake: the DuckDB build and the Spark build that
    write-audit-publish published (one Spark build for the engine tests: conftest.py)."""
    return {
        "streams": engine_builds.streams,
        "duckdb": (engine_builds.duck, engine_builds.duck_result),
        "spark": (engine_builds.spark, engine_builds.published),
    }


@pytest.fixture(scope="module")
def marts(builds: dict) -> dict[str, dict[str, Mart]]:
    duck, duck_result = builds["duckdb"]
    spark, spark_result = builds["spark"]
    assert duck_result.returncode == 0, output(duck_result)
    assert spark_result.returncode == 0, output(spark_result)
    return {"duckdb": read_duckdb_marts(duck.warehouse), "spark": read_spark_marts(spark)}


def test_spark_build_runs_seeds_models_and_every_test(builds: dict) -> None:
    spark, result = builds["spark"]
    assert result.returncode == 0, output(result)
    statuses = node_statuses(spark.workdir / "dbt-target")
    duck, _ = builds["duckdb"]
    # The same nodes ran on both engines (seed, 27 models, every data test) and passed.
    assert statuses.keys() == node_statuses(duck.workdir / "dbt-target").keys()
    assert set(statuses.values()) == {"success", "pass"}
    assert sum(uid.startswith("test.") for uid in statuses) > 50
    assert "seed.ecommerce.us_states" in statuses


@pytest.mark.parametrize("mart", MARTS)
def test_mart_has_the_same_rows_on_both_engines(marts: dict, mart: str) -> None:
    duck, spark = marts["duckdb"][mart], marts["spark"][mart]
    assert duck.columns == spark.columns
    assert duck.rows, f"{mart} is empty: nothing was compared"
    if duck.row_hashes() != spark.row_hashes():
        only_duck = [r for r in duck.normalised() if r not in spark.normalised()]
        only_spark = [r for r in spark.normalised() if r not in duck.normalised()]
        pytest.fail(
            f"{mart} differs; columns {duck.columns}\n"
            f"DuckDB only: {only_duck[:5]}\nSpark only: {only_spark[:5]}"
        )


def test_money_sums_agree_to_the_cent(builds: dict, marts: dict) -> None:
    duck_sums = {m: marts["duckdb"][m].money_sums() for m in MARTS}
    spark_sums = {m: marts["spark"][m].money_sums() for m in MARTS}
    assert duck_sums == spark_sums
    # Anchored to the lake, not only to each other: order totals as written to bronze.
    written = sum(o["total_amount"] for o in builds["streams"]["orders"])
    assert spark_sums["fct_orders"]["total_amount"] == written
    # the ad feed: its cost and plan as the latest read of each key wrote them to bronze
    streams = builds["streams"]
    cost = sum(row["cost"] for row in ad_performance(streams).values())
    plan = sum(row["planned_budget"] for row in budget_vs_actual(streams).values())
    assert spark_sums["fct_ad_performance"]["cost"] == cost
    assert spark_sums["rpt_budget_vs_actual"]["ad_platform_cost"] == cost
    assert spark_sums["rpt_budget_vs_actual"]["planned_budget"] == plan
    assert spark_sums["fct_payments"]["net_amount"] > 0
