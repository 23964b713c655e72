"""Run the real dbt project (transform/) on real DuckDB over a bronze lake in a temp dir.

dbt runs as a subprocess of the venv's `dbt`, with the project's own profiles.yml; the
lake, warehouse, target and log paths are the same environment variables Meltano sets
from the dbt-duckdb utility's settings (LAKE_ROOT, DBT_DUCKDB_PATH), so nothing touches
`output/` or `transform/target`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import REPO_ROOT
from tests.transform.bronze import BronzeLake

DBT = str(Path(sys.executable).parent / "dbt")
PROJECT_DIR = REPO_ROOT / "transform"


def run_dbt(
    workdir: Path,
    args: Sequence[str],
    settings: Mapping[str, str],
    tz: str | None = None,
    timeout: int = 600,
) -> subprocess.CompletedProcess:
    """`dbt <args>` on the project's own profiles, its target and log paths under `workdir`;
    `settings` are the profile's environment variables (target, lake, warehouse...), `tz`
    the process time zone dbt and the engine see (the caller's TZ is never inherited)."""
    env = {
        **os.environ,
        **settings,
        "DBT_TARGET_PATH": str(workdir / "dbt-target"),
        "DBT_LOG_PATH": str(workdir / "dbt-logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    env.pop("TZ", None)
    if tz:
        env["TZ"] = tz
    return subprocess.run(
        [
            DBT,
            *args,
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR / "profiles"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT_DIR,
    )


@dataclass(frozen=True)
class DbtProject:
    """One lake, one warehouse and one dbt target directory."""

    workdir: Path

    @property
    def lake(self) -> BronzeLake:
        return BronzeLake(self.workdir / "lake")

    @property
    def warehouse(self) -> Path:
        return self.workdir / "warehouse.duckdb"

    def dbt(self, *args: str, tz: str | None = None, timeout: int = 600):
        """Run `dbt <args>`; `tz` sets the process time zone (TZ) dbt and DuckDB see."""
        settings = {"LAKE_ROOT": str(self.workdir / "lake"), "DBT_DUCKDB_PATH": str(self.warehouse)}
        return run_dbt(self.workdir, args, settings, tz=tz, timeout=timeout)

    def results(self) -> dict[str, str]:
        """Status of every node of the last run (`not_null_fct_orders_customer_key` ->
        'fail'), from dbt's own run_results.json."""
        data = json.loads((self.workdir / "dbt-target" / "run_results.json").read_text())
        return {result["unique_id"].split(".")[2]: result["status"] for result in data["results"]}

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as conn:
            return conn.execute(sql, params or []).fetchall()


def output(result: subprocess.CompletedProcess) -> str:
    return f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def dbt_project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """A fresh project workdir per test module (each module writes its own lake)."""
    return DbtProject(tmp_path_factory.mktemp("dbt"))
