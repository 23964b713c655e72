"""meltano.yml as Meltano reads it: include_paths files, cron aliases, legacy schedules."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from elt_project.meltano_yml import MeltanoYmlError, flat_tasks, read

from tests.conftest import REPO_ROOT

INCLUDED = """\
plugins:
  extractors:
    - name: tap-included
      namespace: tap_included
      pip_url: tap-included==0.0.1
jobs:
  - name: included-job
    tasks:
      - tap-stripe-custom target-snowflake
      - [elt-monitor:gate, dbt-duckdb:build]
schedules:
  - name: included-daily
    job: included-job
    interval: "@daily"
    env: {ELT_X: "1"}
  - name: legacy-pair
    extractor: tap-included
    loader: target-jsonl
    transform: skip
    interval: "@hourly"
"""


def project_with_include(root: Path) -> Path:
    """This repository's meltano.yml plus `include_paths` naming one more file."""
    root.mkdir(parents=True, exist_ok=True)
    text = (REPO_ROOT / "meltano.yml").read_text()
    (root / "meltano.yml").write_text("include_paths:\n  - ./extra/*.meltano.yml\n" + text)
    # the own plugins' definitions (lock files), without which Meltano asks the Hub
    (root / "plugins").symlink_to(REPO_ROOT / "plugins", target_is_directory=True)
    (root / "extra").mkdir()
    (root / "extra" / "jobs.meltano.yml").write_text(INCLUDED)
    return root


def test_jobs_schedules_and_plugins_of_include_paths_files_are_read(tmp_path) -> None:
    project = read(project_with_include(tmp_path / "p"))
    job = project.job("included-job")
    assert job is not None
    assert job.tasks == (
        "tap-stripe-custom target-snowflake",
        "elt-monitor:gate",
        "dbt-duckdb:build",
    )
    daily = project.schedule("included-daily")
    assert (daily.job, daily.cron, dict(daily.env)) == ("included-job", "0 0 * * *", {"ELT_X": "1"})
    legacy = project.schedule("legacy-pair")
    assert (legacy.job, legacy.extractor, legacy.loader) == (None, "tap-included", "target-jsonl")
    assert "tap-included" in project.plugin_names("extractors")
    # the main file's own entries are still there
    assert project.job("ecommerce-elt") is not None
    assert project.blocks_of(["included-job", "tap-x"]) == [
        "tap-stripe-custom",
        "target-snowflake",
        "elt-monitor:gate",
        "dbt-duckdb:build",
        "tap-x",
    ]


def test_a_directory_without_meltano_yml_is_named(tmp_path) -> None:
    with pytest.raises(MeltanoYmlError, match=str(tmp_path)):
        read(tmp_path)


def test_flat_tasks_accepts_meltanos_three_shapes() -> None:
    assert flat_tasks("a b") == ("a b",)
    assert flat_tasks(["a b", "c"]) == ("a b", "c")
    assert flat_tasks([["a b", "c"], "d"]) == ("a b", "c", "d")


def test_meltano_is_the_patch_series_the_reader_was_written_against() -> None:
    """`meltano.core` is not a public API: an upgrade past 4.4.x must be deliberate
    (re-run these tests, then move the pin in elt-project/pyproject.toml)."""
    assert version("meltano").startswith("4.4.")
    from meltano.core.project import Project
    from meltano.core.schedule import ELTSchedule, JobSchedule  # noqa: F401

    manifest = Project(REPO_ROOT).meltano
    assert hasattr(manifest, "jobs") and hasattr(manifest, "schedules")
    kind, plugins = next(iter(manifest.plugins))
    assert kind.value == "extractors" and plugins[0].name
