"""Running the project's Dagster jobs in a test process, as a run worker runs them.

Shared by tests/orchestration/test_runs.py and the e2e reference runner's second night
(`second_clean_night`, tests/conftest.py), which runs through the daily Dagster job.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import Backoff, RetryPolicy

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import MeltanoRunner

# The default policy waits 30 s+; the tests keep its shape with a 1 s first wait.
FAST_RETRY = RetryPolicy(max_retries=2, delay=1, backoff=Backoff.EXPONENTIAL)


def execute(
    runner: MeltanoRunner,
    dagster_job: str,
    instance: Any,
    project: Path,
    capture_manager: Any = None,
    **env: str,
):
    """Run a Dagster job in process with pytest's own output capture suspended.

    Dagster's compute-log manager keeps a step's subprocess output (Meltano's log) by
    redirecting file descriptors 1 and 2, as in a run worker; pytest's fd capture holds
    those same descriptors, and with it active the child's output bypassed Dagster (seen
    in CI; `-s` hid it). `capture_manager`: pytest's ("capturemanager" plugin)."""
    from elt_orchestration.definitions import build_definitions

    env = {**runner.env, **env, "MELTANO_PROJECT_ROOT": str(project)}
    defs = build_definitions(project, env=env, retry_policy=FAST_RETRY, install_plugins=False)
    suspended = (
        capture_manager.global_and_fixture_disabled()
        if capture_manager
        else contextlib.nullcontext()
    )
    with suspended:
        return defs.resolve_job_def(dagster_job).execute_in_process(
            instance=instance, raise_on_error=False
        )


def captured_output(dagster_home: Path) -> str:
    """Everything the run's steps wrote to stdout/stderr (Dagster's compute logs)."""
    return "".join(
        path.read_text(errors="replace")
        for path in dagster_home.rglob("*")
        if path.suffix in (".err", ".out") and path.is_file()
    )


@dataclass(frozen=True)
class DailyRun:
    """One run of the daily job (`ecommerce_elt`) through Dagster."""

    result: Any  # dagster's ExecuteInProcessResult
    output: str  # captured_output of the run's steps
    seconds: float
    report: Path  # elt-monitor's HTML report the run wrote


def run_daily_job(runner: MeltanoRunner, home: Path, capture_manager: Any) -> DailyRun:
    """`ecommerce_elt` as the daily schedule runs it (scripts/run_job.py from the op),
    on `runner`'s system database, lake and warehouse, in the repository's project; its
    HTML report in the runner's directory."""
    from dagster import DagsterInstance

    from tests.orchestration.conftest import write_dagster_home

    report = runner.workdir / "elt-monitor-report.html"
    write_dagster_home(home)
    with DagsterInstance.from_config(str(home)) as instance:
        started = time.monotonic()
        result = execute(
            runner,
            "ecommerce_elt",
            instance,
            REPO_ROOT,
            capture_manager,
            ELT_MONITOR_REPORT_PATH=str(report),
        )
        seconds = time.monotonic() - started
    return DailyRun(result, captured_output(home), seconds, report)
