"""CRM simulators with chosen faults, and a runner for the real tap process."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elt_sandbox.crm_api.__main__ import DEFAULT_TOKEN
from elt_sandbox.crm_api.data import build
from elt_sandbox.runtime import SandboxHome, stop_pid
from elt_sandbox.services.crm_api import start_crm_server

from tests.conftest import TEST_SCALE

TAP = str(Path(sys.executable).parent / "tap-legacy-crm")


@pytest.fixture(scope="session")
def crm_expected_ids() -> list[int]:
    return build(TEST_SCALE).distinct_ids


@pytest.fixture()
def crm_server(sandbox_home: SandboxHome) -> Iterator:
    started: list[int] = []

    def start(*args: str) -> str:
        pid, port = start_crm_server(
            sandbox_home, f"crm-test-{uuid.uuid4().hex[:6]}", TEST_SCALE, args
        )
        started.append(pid)
        return f"http://127.0.0.1:{port}"

    yield start
    for pid in started:
        stop_pid(pid)


def crm_config(api_url: str, **extra) -> dict:
    return {
        "api_url": api_url,
        "api_token": DEFAULT_TOKEN,
        "per_page": 100,
        "request_timeout": 2,
        "max_retries": 6,
        "backoff_base_seconds": 0.02,
        "backoff_max_seconds": 0.2,
        **extra,
    }


def run_crm_tap(config: dict, tmp_path: Path, state: dict | None = None, check: bool = True):
    config_file = tmp_path / f"crm-{uuid.uuid4().hex[:6]}.json"
    config_file.write_text(json.dumps(config))
    argv = [TAP, "--config", str(config_file)]
    if state is not None:
        state_file = tmp_path / f"state-{uuid.uuid4().hex[:6]}.json"
        state_file.write_text(json.dumps(state))
        argv += ["--state", str(state_file)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    records, states = [], []
    for line in result.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            records.append(message["record"])
        elif message["type"] == "STATE":
            states.append(message["value"])
    return records, states, result
