"""`./dev.sh orchestrate` (dagster dev) stops within 15 s of a SIGTERM to its process group,
with a run in progress: the run's Meltano job stops too and is not retried."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO_ROOT
from tests.orchestration.test_webserver import free_port, graphql

pytestmark = pytest.mark.slow

STOP_BUDGET_SECONDS = 15
NAP = "293"  # the job's `sleep` argument, to find its process among the machine's
# A Meltano project whose one job naps: a utility without pip_url is run from PATH.
MELTANO_YML = f"""
default_environment: dev
project_id: orchestration-shutdown-test
send_anonymous_usage_stats: false
environments:
  - name: dev
plugins:
  utilities:
    - name: napper
      namespace: napper
      executable: sleep
      commands:
        nap: {{args: "{NAP}", description: A job that runs until it is stopped.}}
jobs:
  - name: nap-job
    tasks: [napper:nap]
"""

LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) { __typename ... on PythonError { message } }
}
"""


@pytest.fixture()
def napping_project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "meltano.yml").write_text(MELTANO_YML)
    (root / ".meltano").mkdir()
    (root / "scripts").symlink_to(REPO_ROOT / "scripts", target_is_directory=True)
    return root


@pytest.fixture()
def orchestrate(napping_project: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster-home"),
        "MELTANO_PROJECT_ROOT": str(napping_project),
    }
    log = (tmp_path / "orchestrate.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "elt_orchestration.serve", "--no-sandbox", "--port", str(port)],
        cwd=napping_project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for nap in naps(napping_project):  # a run's job left behind (its own group)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(nap.pid), signal.SIGKILL)
        log.close()


def launch(url: str, job: str) -> dict:
    selector = {
        "repositoryLocationName": "elt_orchestration.definitions",
        "repositoryName": "__repository__",
        "jobName": job,
    }
    body = {"query": LAUNCH, "variables": {"params": {"selector": selector, "runConfigData": {}}}}
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def naps(project: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        if process.info["cmdline"] == ["sleep", NAP] and process.info["cwd"] == str(project):
            found.append(process)
    return found


def group_alive(pgid: int) -> list[str]:
    alive = []
    for process in psutil.process_iter(["pid", "status", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(" ".join(process.info["cmdline"] or [])[:100])
    return alive


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.5)


def test_sigterm_to_the_group_stops_dagster_dev_and_the_run_within_15_s(
    orchestrate, napping_project: Path
) -> None:
    process, url = orchestrate

    def answering() -> bool:
        assert process.poll() is None, "orchestrate exited"
        with contextlib.suppress(OSError):
            return bool(graphql(url, "{ version }").get("data"))
        return False

    wait_for(answering, 300, "UI")
    launched = launch(url, "nap_job")
    assert launched["data"]["launchRun"]["__typename"] == "LaunchRunSuccess", launched
    wait_for(lambda: naps(napping_project), 300, "running job")
    (nap,) = naps(napping_project)
    job_group = os.getpgid(nap.pid)  # run_job's own group: the group SIGTERM misses it
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGTERM)
    while group_alive(process.pid) or group_alive(job_group):
        assert time.monotonic() - started < 60, group_alive(process.pid) + group_alive(job_group)
        time.sleep(0.2)
    process.wait(timeout=5)
    seconds = time.monotonic() - started
    print(f"\norchestrate's group and the run's job gone {seconds:.1f} s after SIGTERM")
    assert seconds < STOP_BUDGET_SECONDS
