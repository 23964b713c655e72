"""CRM simulators with chosen faults, and a runner for the real tap process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from elt_sandbox.crm_api.__main__ import DEFAULT_TOKEN
from elt_sandbox.crm_api.data import build
from elt_sandbox.services.crm_api import start_crm_server

from tests.conftest import TEST_SCALE
from tests.singer import run_singer

TAP = str(Path(sys.executable).parent / "tap-legacy-crm")


@pytest.fixture(scope="session")
def crm_expected_ids() -> list[int]:
    return build(TEST_SCALE).distinct_ids


@pytest.fixture()
def crm_server(server_factory):
    """Start a CRM simulator with extra CLI flags (faults); returns its base URL."""
    return lambda *args: server_factory(start_crm_server, *args)


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
    """(customers records, STATE values, completed process)."""
    run = run_singer(TAP, config, tmp_path, state=state, check=check)
    return run.records["customers"], run.states, run.result
