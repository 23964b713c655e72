"""The code location generated from meltano.yml: it loads, equals Meltano's own listing,
follows meltano.yml edits, and its schedules fire the right runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from dagster import Backoff, build_schedule_context, in_process_executor
from elt_orchestration.definitions import build_definitions
from elt_orchestration.meltano_project import MeltanoProjectError
from elt_orchestration.run_policy import (
    DEFAULT_RETRY_POLICY,
    JOB_TAG,
    PLUGIN_TAG_PREFIX,
    SCHEDULE_TAG,
)

from tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent


def meltano_json(*args: str) -> dict:
    done = subprocess.run(
        [str(BIN / "meltano"), *args, "--format=json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)


def project_with(tmp_path: Path, jobs: list[dict], schedules: list[dict]) -> Path:
    """A copy of the repository's meltano.yml with extra jobs and schedules."""
    manifest = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
    manifest["jobs"] = [*manifest["jobs"], *jobs]
    manifest["schedules"] = [*manifest["schedules"], *schedules]
    (tmp_path / "meltano.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    # the own plugins' definitions (variant lock files) come with the project
    (tmp_path / "plugins").symlink_to(REPO_ROOT / "plugins")
    return tmp_path


def test_the_code_location_validates() -> None:
    done = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-m", "elt_orchestration.definitions"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_jobs_and_schedules_equal_meltanos_own_listing() -> None:
    defs = build_definitions(REPO_ROOT)
    meltano_jobs = {job["job_name"] for job in meltano_json("job", "list")["jobs"]}
    listed = meltano_json("schedule", "list")
    meltano_schedules = {s["name"]: s for s in listed["schedules"]["job"]}
    assert listed["schedules"]["elt"] == []
    # Dagster's own implicit asset job (`__ASSET_JOB`) is not one of meltano.yml's
    dagster_jobs = {
        job.tags[JOB_TAG]: job
        for job in defs.resolve_all_job_defs()
        if not job.name.startswith("__")
    }
    assert set(dagster_jobs) == meltano_jobs
    schedules = {s.tags[SCHEDULE_TAG]: s for s in defs.schedules}
    assert set(schedules) == set(meltano_schedules) == {"daily-ecommerce-elt", "hourly-crm"}
    for name, schedule in schedules.items():
        assert schedule.cron_schedule == meltano_schedules[name]["cron_interval"]
        assert dagster_jobs[meltano_schedules[name]["job"]["name"]].name == schedule.job_name
    assert schedules["daily-ecommerce-elt"].cron_schedule == "0 0 * * *"
    assert schedules["hourly-crm"].cron_schedule == "0 * * * *"


def test_a_job_and_schedules_added_to_meltano_yml_appear(tmp_path: Path) -> None:
    root = project_with(
        tmp_path,
        jobs=[{"name": "csv-to-jsonl", "tasks": ["tap-csv-marketing target-jsonl"]}],
        schedules=[
            {"name": "weekly-csv", "interval": "@weekly", "job": "csv-to-jsonl"},
            {
                "name": "monday-csv",
                "interval": "15 3 * * 1",
                "job": "csv-to-jsonl",
                "env": {"TAP_CSV_MARKETING_CURRENCY": "EUR"},
            },
            {"name": "manual-csv", "interval": "@manual", "job": "csv-to-jsonl"},
        ],
    )
    defs = build_definitions(root)
    job = defs.resolve_job_def("csv_to_jsonl")
    assert job.tags[JOB_TAG] == "csv-to-jsonl"
    # target-jsonl does not write the lake: no elt-monitor step.
    assert [node.name for node in job.nodes] == ["csv_to_jsonl__meltano_run"]
    schedules = {s.name: s for s in defs.schedules}
    assert schedules["weekly_csv"].cron_schedule == "0 0 * * 0"
    assert schedules["monday_csv"].cron_schedule == "15 3 * * 1"
    assert "manual_csv" not in schedules  # no cron: launched by hand
    # A schedule's env reaches its runs.
    tick = schedules["monday_csv"].evaluate_tick(
        build_schedule_context(scheduled_execution_time=datetime(2026, 12, 7, 3, 15, tzinfo=UTC))
    )
    (request,) = tick.run_requests
    assert request.run_config == {
        "ops": {
            "csv_to_jsonl__meltano_run": {"config": {"env": {"TAP_CSV_MARKETING_CURRENCY": "EUR"}}}
        }
    }


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"name": "orphan", "interval": "@daily", "job": "no-such-job"}, "'no-such-job'"),
        (
            {
                "name": "legacy",
                "interval": "@daily",
                "extractor": "tap-csv-marketing",
                "loader": "target-jsonl",
                "transform": "skip",
            },
            "schedule 'legacy' runs an extractor/loader pair",
        ),
    ],
)
def test_a_schedule_dagster_cannot_run_as_declared_fails_the_load(
    tmp_path: Path, schedule: dict, message: str
) -> None:
    root = project_with(tmp_path, jobs=[], schedules=[schedule])
    with pytest.raises(MeltanoProjectError, match=message):
        build_definitions(root)


def test_the_daily_tick_requests_a_run_of_ecommerce_elt() -> None:
    defs = build_definitions(REPO_ROOT)
    schedule = defs.resolve_schedule_def("daily_ecommerce_elt")
    assert schedule.execution_timezone == "UTC"
    tick_time = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    result = schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=tick_time))
    (request,) = result.run_requests
    assert schedule.job_name == "ecommerce_elt"
    assert request.tags[SCHEDULE_TAG] == "daily-ecommerce-elt"
    job = defs.resolve_job_def("ecommerce_elt")
    # The run carries the concurrency tag through its job.
    assert job.tags[JOB_TAG] == "ecommerce-elt"
    # One op, run in the run worker's process: the job's own gate judges it (no second
    # elt-monitor step) and no step process imports Dagster a second time.
    assert [n.name for n in job.nodes] == ["ecommerce_elt__meltano_run"]
    assert job.executor_def is in_process_executor


def test_the_instance_runs_one_run_per_job_and_per_tap_and_retries(dagster_instance) -> None:
    config = dagster_instance.get_concurrency_config().run_queue_config
    limits = config.tag_concurrency_limits
    assert {"key": JOB_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    # One limit per tap and utility of meltano.yml (they share `.meltano/run/<plugin>/`).
    plugin_limits = {
        limit["key"].removeprefix(PLUGIN_TAG_PREFIX)
        for limit in limits
        if limit["key"].startswith(PLUGIN_TAG_PREFIX) and limit["limit"] == 1
    }
    assert {"tap-legacy-crm", "tap-ecommerce-postgres", "dbt-duckdb"} <= plugin_limits
    assert "target-minio-parquet" not in plugin_limits  # one config file per invocation
    defs = build_definitions(REPO_ROOT)
    daily, hourly = defs.resolve_job_def("ecommerce_elt"), defs.resolve_job_def("crm_to_lake")
    shared = {k for k in daily.tags if k.startswith(PLUGIN_TAG_PREFIX)} & set(hourly.tags)
    assert shared == {f"{PLUGIN_TAG_PREFIX}tap-legacy-crm"}
    assert {k.removeprefix(PLUGIN_TAG_PREFIX) for k in daily.tags if k != JOB_TAG} <= plugin_limits
    assert dagster_instance.run_retries_enabled
    assert dagster_instance.run_monitoring_enabled
    # A queued run (a tick's, the UI's) is taken within a second, not Dagster's 5 s.
    assert dagster_instance.run_coordinator.dequeue_interval_seconds == 1
    assert DEFAULT_RETRY_POLICY.backoff == Backoff.EXPONENTIAL
    assert DEFAULT_RETRY_POLICY.max_retries >= 1


def test_run_jobs_settings_check_reads_the_active_environment() -> None:
    """Every Dagster attempt runs scripts/run_job.py, which checks the job's settings
    first: they must resolve as `meltano run` resolves them, through the environment
    (dev reads `host: $PGHOST`), or run_job refuses jobs that would run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MELTANO_", "TAP_", "PG"))}
    env |= {
        "MELTANO_ENVIRONMENT": "dev",
        "PGHOST": "127.0.0.1",
        "PGPORT": "5432",
        "TAP_PG_USER": "reader",
        "TAP_PG_PASSWORD": "not-printed",
        "PGDATABASE": "shop",
    }
    command = [sys.executable, "-m", "scripts.check_config", "postgres-to-lake"]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    del env["PGHOST"]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 1
    first = done.stderr.splitlines()[0]
    assert first == (
        "tap-ecommerce-postgres is missing required settings:"
        " host (set PGHOST or TAP_ECOMMERCE_POSTGRES_HOST)"
        "; or instead: sqlalchemy_url (set TAP_ECOMMERCE_POSTGRES_SQLALCHEMY_URL)"
    )


# The code location loaded as a code server loads it (initialization), and as a run worker
# does (reconstruction, from the load data Dagster stores with each run's plan).
LOAD = """
import json, sys
from pathlib import Path
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.definitions.repository_definition import RepositoryLoadData
from dagster._serdes import deserialize_value, serialize_value

stored = Path(sys.argv[2])
recon = ReconstructableRepository.for_module("elt_orchestration.definitions", "defs", None)
if sys.argv[1] == "reconstruct":
    recon = recon.with_repository_load_data(
        deserialize_value(stored.read_text(), RepositoryLoadData)
    )
repo = recon.get_definition()
if sys.argv[1] == "initialize":
    stored.write_text(serialize_value(repo.repository_load_data))
print(json.dumps({
    "meltano_imported": "meltano" in sys.modules,
    "jobs": sorted(job.name for job in repo.get_all_jobs()),
    "schedules": sorted(s.name for s in repo.schedule_defs),
}))
"""


def load_in_a_fresh_process(how: str, stored: Path, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", LOAD, how, str(stored)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_a_run_worker_rebuilds_the_jobs_without_meltanos_parser(tmp_path: Path) -> None:
    """The code server parses meltano.yml with Meltano; a run worker rebuilds the same jobs
    from what it stored, without importing Meltano, even when meltano.yml is gone by then."""
    root = project_with(tmp_path, jobs=[], schedules=[])
    env = {**os.environ, "MELTANO_PROJECT_ROOT": str(root)}
    stored = tmp_path / "repository-load-data.json"
    initialized = load_in_a_fresh_process("initialize", stored, env)
    assert initialized["meltano_imported"]  # the code server reads meltano.yml with Meltano
    assert "ecommerce_elt" in initialized["jobs"]
    (root / "meltano.yml").unlink()
    rebuilt = load_in_a_fresh_process("reconstruct", stored, env)
    assert not rebuilt["meltano_imported"]
    assert rebuilt["jobs"] == initialized["jobs"]
    assert rebuilt["schedules"] == initialized["schedules"] == ["daily_ecommerce_elt", "hourly_crm"]
