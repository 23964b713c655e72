"""Stripe stand-ins with chosen faults, and a runner for the real tap process."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from elt_sandbox.runtime import SandboxHome, stop_pid
from elt_sandbox.services.stripe_api import start_stripe_server
from elt_sandbox.stripe_api.__main__ import DEFAULT_API_KEY
from elt_sandbox.stripe_api.data import StripeData

from tests.conftest import TEST_SCALE

TAP = str(Path(sys.executable).parent / "tap-stripe-custom")


@pytest.fixture(scope="session")
def stripe_expected() -> StripeData:
    """The same deterministic data the sandbox server serves."""
    return StripeData(TEST_SCALE)


@pytest.fixture()
def stripe_server(sandbox_home: SandboxHome) -> Iterator:
    """Factory: start a Stripe stand-in with extra CLI args; all stopped at teardown."""
    started: list[int] = []

    def start(*args: str) -> str:
        pid, port = start_stripe_server(
            sandbox_home, f"stripe-test-{uuid.uuid4().hex[:6]}", TEST_SCALE, args
        )
        started.append(pid)
        return f"http://127.0.0.1:{port}"

    yield start
    for pid in started:
        stop_pid(pid)


def tap_config(api_base: str, **extra) -> dict:
    return {
        "api_key": DEFAULT_API_KEY,
        "api_base": api_base,
        "start_date": "2024-01-01T00:00:00Z",
        "max_requests_per_second": 1000,
        "backoff_base_seconds": 0.01,
        "backoff_max_seconds": 0.2,
        **extra,
    }


def run_stripe_tap(config: dict, tmp_path: Path, state: dict | None = None, check: bool = True):
    config_file = tmp_path / f"stripe-{uuid.uuid4().hex[:6]}.json"
    config_file.write_text(json.dumps(config))
    argv = [TAP, "--config", str(config_file)]
    if state is not None:
        state_file = tmp_path / f"state-{uuid.uuid4().hex[:6]}.json"
        state_file.write_text(json.dumps(state))
        argv += ["--state", str(state_file)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    by_stream: dict[str, list[dict]] = defaultdict(list)
    states = []
    for line in result.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            by_stream[message["stream"]].append(message["record"])
        elif message["type"] == "STATE":
            states.append(message["value"])
    return by_stream, states, result
