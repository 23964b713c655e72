"""When write-audit-publish turns Spark's small-data settings on: a small local lake and
no choice of the user's. (Spark with them is compared with DuckDB row for row in
tests/transform_engines; the README's Spark block runs this choice on the sandbox lake.)"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "transform" / "scripts"))
from wap import spark_engine  # the script's package, beside wap_publish.py


def lake(root: Path, size: int) -> Path:
    folder = root / "tap_x" / "stream" / "20250101"
    folder.mkdir(parents=True)
    (folder / "part.parquet").write_bytes(b"\0" * size)
    (folder / "notes.txt").write_bytes(b"\0" * spark_engine.SMALL_LAKE_BYTES)  # not Parquet
    return root


def test_a_small_local_lake_gets_the_small_data_settings(tmp_path: Path) -> None:
    env = {"LAKE_ROOT": str(lake(tmp_path, 1000))}
    settings = spark_engine.small_data_settings(env)
    assert settings == spark_engine.SMALL_DATA_SETTINGS
    # the session time zone option stays in the JVM options it replaces
    assert "-Duser.timezone=UTC" in settings["DBT_SPARK_DRIVER_JAVA_OPTIONS"]
    engine = spark_engine.SparkEngine.from_env(env, "run-1")
    assert engine.dbt_overrides() == {"DBT_SPARK_SCHEMA": "analytics__wap", **settings}


def test_a_large_lake_keeps_sparks_defaults(tmp_path: Path) -> None:
    env = {"LAKE_ROOT": str(lake(tmp_path, spark_engine.SMALL_LAKE_BYTES))}
    assert spark_engine.small_data_settings(env) == {}


def test_a_choice_of_the_users_or_a_remote_lake_is_left_alone(tmp_path: Path) -> None:
    small = str(lake(tmp_path, 1000))
    assert spark_engine.small_data_settings({"LAKE_ROOT": small, "DBT_SPARK_CODEGEN": "true"}) == {}
    assert spark_engine.small_data_settings({"LAKE_ROOT": "s3a://bucket/bronze"}) == {}
    assert spark_engine.small_data_settings({"LAKE_ROOT": str(tmp_path / "missing")}) == {}
    assert spark_engine.small_data_settings({}) == {}
