"""The same job on the `minio` environment (lake and Meltano state on S3), and a Unix pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from elt_sandbox.stripe_api.data import StripeData

from scripts.pipeline_report import warehouse_counts
from tests.conftest import REPO_ROOT, TEST_SCALE
from tests.e2e.conftest import MeltanoRunner, ledger_job_rows, local_lake_runner

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

    bucket = minio_runner.env["LAKE_BUCKET"]
    keys = [
        o["Key"]
        for page in s3_client(s3_env).get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    ]
    assert any(k.startswith("bronze/tap_ecommerce_postgres/public-orders/") for k in keys)
    assert any(k.startswith("state/") for k in keys), "Meltano's S3 state backend wrote nothing"
    state = minio_runner.run("state", "list").stdout
    assert "tap-ecommerce-postgres-to-target-minio-parquet" in state
    # the gate and finish judged this environment's lake: its ledger is there, not in dev's
    runs = ledger_job_rows(minio_runner.env, minio_runner.lake_root)
    assert runs and {(r["environment"], r["status"]) for r in runs} == {("minio", "success")}


@pytest.fixture(scope="module")
def own_runner(all_sources_env, meltano_installed, tmp_path_factory) -> MeltanoRunner:
    """A `dev` runner of this module's own: the session's `dev_runner` is the one
    `clean_run` and its nights fill, and a load here would add to the lake and ledger
    those modules count (it did, when this module shared their worker)."""
    return local_lake_runner(all_sources_env, tmp_path_factory.mktemp("e2e-environments"))


def test_a_unix_pipe_lands_the_same_rows_as_meltano(
    own_runner: MeltanoRunner, pg_env, tmp_path
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
    own_runner.run("run", "postgres-to-lake")
    conn = duckdb.connect()
    query = (
        "select distinct order_id, customer_id, order_date, status, total_amount, updated_at"
        " from read_parquet('{root}/tap_ecommerce_postgres/public-orders/*/*.parquet',"
        " union_by_name = true)"
        # LOG_BASED under Meltano: a complete snapshot ends with a keyless end record
        " where order_id is not null order by order_id"
    )
    piped = conn.execute(query.format(root=lake)).fetchall()
    via_meltano = conn.execute(query.format(root=own_runner.lake_root)).fetchall()
    assert piped and piped == via_meltano


def test_target_jsonl_is_a_second_working_loader(own_runner: MeltanoRunner, tmp_path) -> None:
    out = tmp_path / "jsonl"
    out.mkdir()
    runner = MeltanoRunner({**own_runner.env, "TARGET_JSONL_DESTINATION_PATH": str(out)}, tmp_path)
    runner.run("run", "tap-csv-marketing", "target-jsonl")
    lines = (out / "marketing_spend.jsonl").read_text().splitlines()
    assert len(lines) == 365
    assert {"date", "spend", "_sdc_source_file"} <= set(json.loads(lines[0]))


ENVIRONMENTS = ("dev", "minio", "prod", "spark")
# What a user's shell holds for each environment (values only need to differ).
USER_VARIABLES = {
    "LAKE_BUCKET": "lake-bucket",
    "LAKE_URL": "s3://prod-lake/bronze",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
    "LAKE_S3_ENDPOINT_URL": "https://s3.example",
    "WAREHOUSE_DUCKDB_PATH": "/srv/warehouse.duckdb",
}


def resolved_settings(environment: str, plugin_name: str) -> dict:
    """A plugin's settings as `meltano --environment=<environment> run` resolves them."""
    from meltano.core.plugin.settings_service import PluginSettingsService
    from meltano.core.project import Project

    project = Project(REPO_ROOT)
    project.activate_environment(environment)
    plugin = project.plugins.find_plugin(plugin_name)
    return PluginSettingsService(project, plugin).as_dict()


@pytest.fixture()
def user_shell(monkeypatch, tmp_path) -> None:
    """Only what a user sets: no test overrides of the lakes."""
    for name in list(os.environ):
        if name.startswith(("TARGET_", "DBT_", "ELT_MONITOR_", "MELTANO_")):
            monkeypatch.delenv(name)
    for name, value in USER_VARIABLES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MELTANO_DATABASE_URI", f"sqlite:///{tmp_path / 'meltano.db'}")


def places(environment: str) -> dict[str, dict]:
    dbt = "dbt-spark" if environment == "spark" else "dbt-duckdb"
    return {
        "target": resolved_settings(environment, "target-minio-parquet"),
        "dbt": resolved_settings(environment, dbt),
        "monitor": resolved_settings(environment, "elt-monitor"),
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_judges_and_models_the_lake_it_loads(environment: str, user_shell) -> None:
    """The loader's destination, the dbt utility's lake_root and elt-monitor's lake_root
    are one place per environment (a monitor left to its default judged the dev lake after
    a load to S3), and the monitor reads the publication its dbt utility writes."""
    found = places(environment)
    lake = found["target"]["destination"]
    assert lake and found["dbt"]["lake_root"] == lake == found["monitor"]["lake_root"]
    assert found["monitor"]["wap_state_dir"] == found["dbt"]["wap_state_dir"]
    if lake.startswith("s3://"):
        assert found["monitor"]["s3_endpoint_url"] in (
            USER_VARIABLES["AWS_ENDPOINT_URL"],
            USER_VARIABLES["LAKE_S3_ENDPOINT_URL"],
        )


def test_no_two_environments_share_a_lake_a_publication_or_a_report(user_shell) -> None:
    found = {environment: places(environment) for environment in ENVIRONMENTS}
    for plugin, setting in (
        ("target", "destination"),
        ("monitor", "wap_state_dir"),
        ("monitor", "report_path"),
    ):
        values = [found[environment][plugin][setting] for environment in ENVIRONMENTS]
        assert len(set(values)) == len(values), (setting, values)
