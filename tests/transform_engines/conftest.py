"""The one Spark build the engine tests share.

A Spark `dbt build` of the test lake takes 2-3 minutes on the test machine; the
cross-engine comparison (test_cross_engine.py) and write-audit-publish on Spark
(test_wap_spark.py) used to build the same lake twice, once plain and once through
`wap`. The write-audit-publish build runs the same `dbt build` (seeds, models, every
test) into the staging database and publishes it, so its marts, read through the
published link, are what both modules compare with one DuckDB build of the same lake.
Both modules only read the result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from subprocess import CompletedProcess
from typing import Any

import pytest

from tests.transform.conftest import DbtProject, output
from tests.transform.wap import run_wap, state
from tests.transform_engines.engines import SPARK_SCHEMA, SparkProject


@dataclass(frozen=True)
class EngineBuilds:
    """One lake built plainly on DuckDB and through write-audit-publish on Spark."""

    streams: dict[str, list[dict]]
    duck: DbtProject
    duck_result: CompletedProcess
    spark: SparkProject
    # an attempt dbt refused before starting Spark, and its attempt record
    refused: CompletedProcess
    refused_attempt: dict[str, Any]
    published: CompletedProcess


@pytest.fixture(scope="session")
def engine_builds(tmp_path_factory: pytest.TempPathFactory) -> EngineBuilds:
    from tests.transform_engines.test_cross_engine import NOT_MONITOR, write_lake

    duck = DbtProject(tmp_path_factory.mktemp("duckdb"))
    streams = write_lake(duck)
    started = time.monotonic()
    duck_result = duck.dbt("build", *NOT_MONITOR)
    duck_seconds = time.monotonic() - started
    assert duck_result.returncode == 0, output(duck_result)
    spark = SparkProject(tmp_path_factory.mktemp("spark"), lake_root=duck.workdir / "lake")
    # What a plain `dbt build` left before WAP, and a killed attempt's staging database.
    legacy = spark.warehouse / f"{SPARK_SCHEMA}.db" / "fct_orders"
    legacy.mkdir(parents=True)
    (legacy / "part-0.parquet").write_bytes(b"yesterday")
    leftover = spark.warehouse / f"{SPARK_SCHEMA}__wap.db" / "fct_orders"
    leftover.mkdir(parents=True)
    refused = run_wap("spark", spark.workdir, spark.settings(), "run-0", "--no-such-option")
    refused_attempt = state(spark.workdir, "attempt.json")
    started = time.monotonic()
    published = run_wap("spark", spark.workdir, spark.settings(), "run-1", *NOT_MONITOR)
    spark_seconds = time.monotonic() - started
    print(
        f"\ndbt build: DuckDB {duck_seconds:.1f} s, Spark write-audit-publish {spark_seconds:.1f} s"
    )
    return EngineBuilds(
        streams=streams,
        duck=duck,
        duck_result=duck_result,
        spark=spark,
        refused=refused,
        refused_attempt=refused_attempt,
        published=published,
    )
