"""The demo's progress lines and its choice of plugins to install (scripts/demo.py), read
from logs in Meltano's own format."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts import demo

INSTALL_LOG = """\
2026-12-06T06:15:55.862714Z [info     ] meltano      Installing 7 plugins
2026-12-06T06:15:56.171737Z [info     ] meltano      Installing extractor 'tap-ecommerce-postgres'
2026-12-06T06:16:17.905993Z [info     ] meltano      Installed extractor 'tap-stripe-custom'
2026-12-06T06:16:54.083022Z [info     ] meltano      Installed utility 'dbt-duckdb'
2026-12-06T06:17:13.214286Z [info     ] meltano      Installed 2/7 plugins
"""

RUN_LOG = """\
2026-12-06T06:17:52.470847Z [info     ] meltano      Running job with name 'dev:tap-ecommerce-postgres-to-target-minio-parquet' and run ID '01a2'
2026-12-06T06:18:49.620554Z [info     ] target-minio-parquet stream public-customers: committed 50000 rows to /lake/a.parquet
2026-12-06T06:18:50.913373Z [info     ] target-minio-parquet stream public-order_items: committed 1200 rows to /lake/b.parquet
2026-12-06T06:18:51.134316Z [info     ] meltano      Block run completed
2026-12-06T06:18:52.363326Z [info     ] elt-monitor  INFO elt_monitor: recorded 15 stream runs
"""  # noqa: E501


def test_install_progress_counts_plugins_not_the_summary_line(tmp_path: Path) -> None:
    log = tmp_path / "install.log"
    log.write_text(INSTALL_LOG)
    assert demo.install_progress(log, 7) == "2 of 7 plugins installed"


def test_run_progress_sums_committed_rows_and_counts_steps(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text(RUN_LOG)
    assert demo.run_progress(log) == (
        "51,200 rows committed to the lake, 1 steps done; last line from elt-monitor"
    )
    assert demo.run_progress(tmp_path / "not-yet.log").startswith("0 rows committed")


def test_only_plugins_without_an_install_or_with_a_newer_package_are_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "ROOT", tmp_path)
    monkeypatch.setattr(demo, "PLUGINS", ["tap-a", "tap-b", "dbt-c", "tap-d"])
    for kind, name in (("extractors", "tap-a"), ("extractors", "tap-b"), ("utilities", "dbt-c")):
        venv = tmp_path / ".meltano" / kind / name / "venv"
        venv.mkdir(parents=True)
        (venv / ".meltano_plugin_fingerprint").write_text("x")
        os.utime(venv / ".meltano_plugin_fingerprint", (1_000, 1_000))
    for name, mtime in (("tap-a", 500), ("tap-b", 2_000)):  # tap-b's package changed since
        (tmp_path / name).mkdir()
        (tmp_path / name / "pyproject.toml").write_text("[project]\n")
        os.utime(tmp_path / name / "pyproject.toml", (mtime, mtime))
    # tap-d was never installed; dbt-c has no local package (its pip_url is Meltano's)
    assert demo.plugins_to_install() == ["tap-b", "tap-d"]
