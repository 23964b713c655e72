"""Fixtures for the Dagster code location: a Dagster instance in a temp DAGSTER_HOME with
the project's dagster.yaml, and Meltano runs isolated as in tests/e2e (own system DB, lake
and warehouse). Nothing starts at import time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from elt_orchestration import meltano_project
from elt_orchestration.run_policy import instance_settings

from tests.conftest import REPO_ROOT


def write_dagster_home(home: Path) -> Path:
    """A DAGSTER_HOME holding the project's instance settings (run queue, retries), as
    `./dev.sh orchestrate` writes them."""
    home.mkdir(parents=True, exist_ok=True)
    settings = instance_settings(meltano_project.load(REPO_ROOT))
    (home / "dagster.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return home


@pytest.fixture()
def dagster_home(tmp_path: Path) -> Path:
    return write_dagster_home(tmp_path / "dagster-home")


@pytest.fixture()
def dagster_instance(dagster_home: Path) -> Iterator:
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        yield instance
