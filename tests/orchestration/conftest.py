"""Fixtures for the Dagster code location: a Dagster instance in a temp DAGSTER_HOME with
the project's dagster.yaml, and Meltano runs isolated as in tests/e2e (own system DB, lake
and warehouse). Nothing starts at import time."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest

# The e2e fixtures (sandbox services, `meltano install`) are shared, not copied.
from tests.e2e.conftest import all_sources_env, meltano_installed  # noqa: F401

DAGSTER_YAML = Path(str(files("elt_orchestration").joinpath("dagster.yaml")))


@pytest.fixture()
def dagster_home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME holding the project's instance settings (run queue, retries)."""
    home = tmp_path / "dagster-home"
    home.mkdir()
    shutil.copy(DAGSTER_YAML, home / "dagster.yaml")
    return home


@pytest.fixture()
def dagster_instance(dagster_home: Path) -> Iterator:
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        yield instance
