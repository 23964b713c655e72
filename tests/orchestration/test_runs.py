"""Dagster runs the real Meltano jobs against the sandbox: the daily job end to end (the
e2e reference runner's second night, `second_clean_night`: this module shares its worker,
`SHARED_SESSION_GROUPS`), a SIGKILLed attempt retried by the op's RetryPolicy through
scripts/run_job.py, and a critical elt-monitor finding failing the run with the finding
in its metadata."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterEventType
from elt_sandbox.stripe_api.data import StripeData

from scripts import run_job
from tests.conftest import REPO_ROOT, TEST_SCALE
from tests.e2e.conftest import MeltanoRunner, SecondNight, local_lake_runner, project_copy
from tests.e2e.install import E2E_PLUGINS
from tests.e2e.test_pipeline import source_shop_facts
from tests.e2e.test_recovery import mart_totals, namespace_of, running_rows
from tests.orchestration import dagster_runs
from tests.orchestration.dagster_runs import captured_output

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def project_root(meltano_installed, tmp_path_factory) -> Path:
    """The repository's Meltano project with its own `.meltano/run`.

    Meltano keeps a tap's catalog and state files in `.meltano/run/<plugin>/`, one set per
    project directory: runs of the same tap at once (other engineers' tests on this shared
    machine) overwrite each other's. The copy shares the installed plugin venvs, the
    plugin sources, scripts/ and the dbt project by symlink, and nothing else. Runs use
    `--no-install`: Meltano would otherwise "reinstall" the shared venvs for the copy's
    path (its fingerprint includes `$MELTANO_PROJECT_ROOT`).
    """
    root = project_copy(
        tmp_path_factory.mktemp("orchestrated") / "project",
        [*E2E_PLUGINS, "scripts", "transform"],
    )
    for name in ("elt-monitor", "scripts", "transform"):
        if not (root / name).exists():
            (root / name).symlink_to(REPO_ROOT / name, target_is_directory=True)
    (root / ".meltano").mkdir()
    for kind in ("extractors", "loaders", "utilities"):
        (root / ".meltano" / kind).symlink_to(REPO_ROOT / ".meltano" / kind)
    return root


_PYTEST_CAPTURE: dict[str, object] = {}


@pytest.fixture(scope="module", autouse=True)
def _pytest_capture_manager(pytestconfig: pytest.Config) -> None:
    _PYTEST_CAPTURE["manager"] = pytestconfig.pluginmanager.getplugin("capturemanager")


def execute(runner: MeltanoRunner, dagster_job: str, instance, project: Path, **env: str):
    """`dagster_runs.execute` with this module's pytest capture manager."""
    return dagster_runs.execute(
        runner, dagster_job, instance, project, _PYTEST_CAPTURE.get("manager"), **env
    )


def step_events(result, event_type: DagsterEventType) -> list:
    return [event for event in result.all_events if event.event_type == event_type]


@pytest.fixture(scope="module")
def daily_run(second_clean_night: SecondNight):
    """ecommerce-elt run once through Dagster: the e2e reference runner's second night
    (tests/conftest.py), (runner, result, captured output, seconds)."""
    daily = second_clean_night.daily
    return second_clean_night.runner, daily.result, daily.output, daily.seconds


def test_the_daily_job_runs_ecommerce_elt_and_the_marts_hold_every_row(daily_run, pg_conn) -> None:
    runner, result, output, seconds = daily_run
    assert result.success, output[-5000:]
    facts = source_shop_facts(pg_conn)
    with duckdb.connect(str(runner.warehouse), read_only=True) as conn:
        orders, orders_total = conn.execute(
            "select count(*), sum(total_amount) from fct_orders"
        ).fetchone()
        items_total = conn.execute("select sum(line_total) from fct_order_items").fetchone()[0]
    assert (orders, orders_total) == (facts["orders"], facts["orders_total"])
    assert items_total == facts["items_total"]
    stripe = StripeData(TEST_SCALE)
    with duckdb.connect() as conn:
        charges = conn.execute(
            f"select count(distinct id) from read_parquet('{runner.lake_root}"
            "/tap_stripe_custom/charges/*/*.parquet')"
        ).fetchone()[0]
    assert charges == len(stripe.lists["charges"].entries)
    # Meltano's own log is kept with the run (compute logs), not lost with the subprocess.
    assert "Running job with name 'ecommerce-elt'" in output or "ecommerce-elt" in output
    assert "Block run completed" in output
    metadata = step_metadata(result, "ecommerce_elt__meltano_run")
    # attempt 1 unless the shared machine made one fail (the retry policy then ran)
    assert metadata["meltano_job"] == "ecommerce-elt"
    assert metadata["attempt"] == 1 + len(step_events(result, DagsterEventType.STEP_UP_FOR_RETRY))
    # elt-monitor's verdict is the job's own (its gate and finish tasks), read from the
    # JSON file they wrote: no second elt-monitor process judged the run again.
    assert metadata["elt_monitor_severity"] in ("ok", "warning")
    assert metadata["elt_monitor_source"].startswith("the job's own elt-monitor finish")
    assert "job ecommerce-elt" in metadata["elt_monitor_source"]
    print(f"\ndagster run {seconds:.1f} s, of which meltano run {metadata['seconds']} s")
    # the run wrote elt-monitor's HTML report (run_job, after the job's own last check)
    report = runner.workdir / "elt-monitor-report.html"
    assert report.is_file() and "ecommerce-elt" in report.read_text()


def test_the_daily_run_materializes_every_asset_and_records_the_checks(daily_run) -> None:
    """The run materialized each bronze stream of meltano.yml, the ledger and every dbt
    model of the manifest, and recorded elt-monitor's gate check of each stream."""
    from tests.orchestration.test_assets import dbt_nodes, lake_streams_of_meltano_yml

    _, result, output, _ = daily_run
    assert result.success, output[-5000:]
    streams = lake_streams_of_meltano_yml()
    materialized = {
        event.asset_key.to_user_string() for event in result.get_asset_materialization_events()
    }
    assert materialized == {f"bronze/{s}" for s in streams} | {"elt_monitor/ledger"} | set(
        dbt_nodes()
    )
    checks = {
        e.asset_key.to_user_string(): e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "elt_monitor_gate"
    }
    assert set(checks) == {f"bronze/{s}" for s in streams} | {"elt_monitor/ledger"}
    assert checks["elt_monitor/ledger"].passed  # the verdict let the run through
    for stream in streams:
        check = checks[f"bronze/{stream}"]
        findings = check.metadata["findings"].value
        assert all(f["stream"] == stream for f in findings)
        # a stream passes exactly when elt-monitor found nothing on it; warnings are WARN
        assert check.passed == (findings == [])
        assert all(f["severity"] != "critical" for f in findings)
        assert check.metadata["code"].value == (", ".join(f["code"] for f in findings) or "none")


def step_metadata(result, step: str) -> dict:
    """Output metadata a step reported (its last attempt)."""
    return {
        key: value.value
        for event in step_events(result, DagsterEventType.STEP_OUTPUT)
        if event.step_key == step
        for key, value in event.event_specific_data.metadata.items()
    }


class KillFirstLoadingBlock(threading.Thread):
    """SIGKILLs the first run_job attempt seen loading: its process group (Meltano, tap and
    target), found through the trigger run_job writes on Meltano's RUNNING row."""

    def __init__(self, runner: MeltanoRunner) -> None:
        super().__init__(daemon=True)
        self.runner = runner
        self.stop = threading.Event()
        self.killed: str | None = None

    def run(self) -> None:
        database, lake = self.runner.workdir / "meltano.db", self.runner.workdir / "lake"
        while not self.stop.is_set():
            for state_id, trigger in running_rows(database):
                owner = run_job.RunOwner.from_trigger(trigger)
                if owner and any((lake / namespace_of(state_id)).rglob("*.parquet")):
                    os.killpg(owner.pgid, signal.SIGKILL)
                    self.killed = state_id
                    return
            self.stop.wait(0.05)


def comparable_marts(warehouse: Path) -> dict[str, tuple]:
    """Row counts and money sums of every mart but the ledger's own (it counts attempts)."""
    totals = mart_totals(warehouse)
    totals.pop("rpt_ingestion_runs", None)
    return totals


def test_a_killed_attempt_is_retried_and_the_marts_equal_a_clean_run(
    daily_run, all_sources_env, project_root, tmp_path, dagster_home, dagster_instance
) -> None:
    clean_runner, clean_result, _, _ = daily_run
    assert clean_result.success
    (tmp_path / "killed").mkdir()
    base = local_lake_runner(all_sources_env, tmp_path / "killed")
    # Small buffers and a 1 s STATE cadence: the kill falls between commits.
    runner = MeltanoRunner(
        {
            **base.env,
            "TARGET_MINIO_PARQUET_MAX_BUFFER_ROWS": "200",
            "TARGET_MINIO_PARQUET_STATE_FLUSH_SECONDS": "1",
        },
        base.workdir,
    )
    killer = KillFirstLoadingBlock(runner)
    killer.start()
    try:
        result = execute(runner, "ecommerce_elt", dagster_instance, project_root)
    finally:
        killer.stop.set()
        killer.join()
    output = captured_output(dagster_home)
    assert killer.killed, "no block was loading to kill"
    assert result.success, output[-5000:]
    retries = step_events(result, DagsterEventType.STEP_UP_FOR_RETRY)
    assert retries and {event.step_key for event in retries} == {"ecommerce_elt__meltano_run"}
    assert step_metadata(result, "ecommerce_elt__meltano_run")["attempt"] == 1 + len(retries)
    # The retry did not wait out Meltano's stale-run lock: run_job failed the dead row.
    assert f"marked the killed run of {killer.killed} as failed" in output
    assert running_rows(runner.workdir / "meltano.db") == []
    expected = comparable_marts(clean_runner.warehouse)
    assert expected and comparable_marts(runner.warehouse) == expected


def test_a_critical_monitor_finding_fails_the_run_with_the_finding(
    all_sources_env, project_root, tmp_path, dagster_instance
) -> None:
    (tmp_path / "crm").mkdir()
    runner = local_lake_runner(all_sources_env, tmp_path / "crm")
    # A stream every run must load, which the CRM never has: STREAM_MISSING (critical).
    result = execute(
        runner,
        "crm_to_lake",
        dagster_instance,
        project_root,
        ELT_MONITOR_EXPECTED_STREAMS='["tap_legacy_crm/no_such_stream"]',
    )
    assert not result.success
    assert_critical_stream_missing(result, "crm_to_lake__meltano_run")


def assert_critical_stream_missing(result, step: str) -> dict:
    """The run failed on elt-monitor's critical STREAM_MISSING, with the finding in the
    failure's metadata and description, and was not retried."""
    failure = result.failure_data_for_node(step)
    metadata = {k: v.value for k, v in failure.user_failure_data.metadata.items()}
    assert metadata["elt_monitor_severity"] == "critical"
    codes = {(f["code"], f["stream"]) for f in metadata["elt_monitor_findings"]}
    assert ("STREAM_MISSING", "tap_legacy_crm/no_such_stream") in codes
    assert "tap_legacy_crm/no_such_stream" in failure.user_failure_data.description
    # Data findings are not retried: running the job again does not cure them.
    assert step_events(result, DagsterEventType.STEP_UP_FOR_RETRY) == []
    return metadata


def test_the_daily_jobs_own_gate_fails_the_run_with_its_finding(
    all_sources_env, project_root, tmp_path, dagster_home, dagster_instance
) -> None:
    """ecommerce-elt's `elt-monitor:gate` judges the loads before dbt; its critical verdict,
    read from the job's own output, fails the run for good, and dbt never ran."""
    (tmp_path / "gated").mkdir()
    runner = local_lake_runner(all_sources_env, tmp_path / "gated")
    result = execute(
        runner,
        "ecommerce_elt",
        dagster_instance,
        project_root,
        ELT_MONITOR_EXPECTED_STREAMS='["tap_legacy_crm/no_such_stream"]',
        # a report that cannot be written: a warning, the gate's verdict still decides
        ELT_MONITOR_REPORT_PATH="/dev/null/elt-monitor-report.html",
    )
    assert not result.success
    metadata = assert_critical_stream_missing(result, "ecommerce_elt__meltano_run")
    assert metadata["elt_monitor_source"].startswith("the job's own elt-monitor ")
    output = captured_output(dagster_home)
    assert "elt-monitor gate: job ecommerce-elt run" in output  # the gate's line, kept
    assert "run_job: warning: `meltano invoke elt-monitor report` exited" in output
    assert not runner.warehouse.exists()  # the gate stopped the job before dbt
    # The graph shows where: the loads materialized, the ledger's gate check failed with
    # the finding, and no dbt model was materialized.
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "bronze/tap_legacy_crm/customers" in materialized
    assert not any(key.startswith(("stg_", "int_", "fct_", "dim_")) for key in materialized)
    (ledger,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.to_user_string() == "elt_monitor/ledger"
    ]
    assert not ledger.passed and ledger.severity.value == "ERROR"
    assert "STREAM_MISSING" in ledger.metadata["code"].value
    assert "no_such_stream" in json.dumps(ledger.metadata["findings"].value)
