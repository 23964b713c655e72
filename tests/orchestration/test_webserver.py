"""The webserver that `./dev.sh orchestrate` starts (`python -m elt_orchestration.serve`)
serves the UI on 127.0.0.1 and answers its GraphQL API with both schedules, running, and
their next ticks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

SCHEDULES_QUERY = """
{
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes {
        schedules {
          name
          cronSchedule
          executionTimezone
          scheduleState { status }
          futureTicks(limit: 2) { results { timestamp } }
        }
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture()
def orchestrator(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`serve --no-sandbox` (the webserver and daemon) on a free port; stopped after."""
    port = free_port()
    home = tmp_path / "dagster-home"
    log = tmp_path / "orchestrate.log"
    env = {**os.environ, "DAGSTER_HOME": str(home), "MELTANO_PROJECT_ROOT": str(REPO_ROOT)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "elt_orchestration.serve", "--no-sandbox", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, log.read_text()[-5000:]
            try:
                if graphql(url, "{ version }").get("data"):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, log.read_text()[-5000:]
            time.sleep(1)
        yield url, home
    finally:
        process.send_signal(signal.SIGTERM)  # dagster dev stops its webserver and daemon
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # anything of its group left behind (code server, daemon)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def test_the_webserver_shows_both_schedules_running_with_their_next_ticks(orchestrator) -> None:
    url, home = orchestrator
    with urllib.request.urlopen(url, timeout=30) as response:  # the UI itself
        assert response.status == 200
        assert b"<html" in response.read(2000).lower()
    # Only on loopback: the address it listens on is 127.0.0.1.
    assert url.startswith("http://127.0.0.1:")
    answer = graphql(url, SCHEDULES_QUERY)
    (repository,) = answer["data"]["repositoriesOrError"]["nodes"]
    schedules = {s["name"]: s for s in repository["schedules"]}
    assert set(schedules) == {"daily_ecommerce_elt", "hourly_crm"}
    now = datetime.now(UTC).timestamp()
    for name, cron, step in (
        ("daily_ecommerce_elt", "0 0 * * *", 86400),
        ("hourly_crm", "0 * * * *", 3600),
    ):
        schedule = schedules[name]
        assert schedule["cronSchedule"] == cron
        assert schedule["executionTimezone"] == "UTC"
        assert schedule["scheduleState"]["status"] == "RUNNING"
        ticks = [t["timestamp"] for t in schedule["futureTicks"]["results"]]
        assert len(ticks) == 2 and now < ticks[0] <= now + step
        assert ticks[1] - ticks[0] == step
        assert ticks[0] % step == 0  # on the hour / at midnight UTC
    # The instance settings the webserver and daemon run with are the project's.
    settings = (home / "dagster.yaml").read_text()
    assert "meltano/job" in settings and "meltano/plugin-tap-legacy-crm" in settings
