"""Stripe stand-ins with chosen faults, and a runner for the real tap process."""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from pathlib import Path

import pytest
from elt_sandbox.services.stripe_api import start_stripe_server
from elt_sandbox.stripe_api.__main__ import DEFAULT_API_KEY
from elt_sandbox.stripe_api.data import StripeData

from tests.conftest import TEST_SCALE
from tests.singer import run_singer

TAP = str(Path(sys.executable).parent / "tap-stripe-custom")


@pytest.fixture(scope="session")
def stripe_expected() -> StripeData:
    """The same deterministic data the sandbox server serves."""
    return StripeData(TEST_SCALE)


@pytest.fixture()
def stripe_server(server_factory):
    """Start a Stripe stand-in with extra CLI flags (faults); returns its base URL."""
    return lambda *args: server_factory(start_stripe_server, *args)


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
    """(records by stream, STATE values, completed process)."""
    run = run_singer(TAP, config, tmp_path, state=state, check=check)
    return run.records, run.states, run.result


def run_report(stderr: str) -> tuple[int, dict[str, int]]:
    """(requests, retries by cause) from the run report the tap logs at the end."""
    match = re.search(r"Stripe run report: (\d+) requests, retries by cause (\{.*?\})", stderr)
    assert match, "no run report in the tap's log"
    return int(match.group(1)), json.loads(match.group(2))


def sandbox_stats(base: str) -> dict:
    """The stand-in's object counts and the faults it injected."""
    with urllib.request.urlopen(f"{base}/_sandbox/stats") as response:
        return json.loads(response.read())


def post(url: str, fields: dict[str, str]) -> dict:
    body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST")) as response:
        assert response.status == 200
        return json.loads(response.read())


def expected_objects(data: StripeData, resource: str) -> list[dict]:
    collection = data.lists[resource]
    return [collection.render(object_id) for _, object_id in collection.entries]
