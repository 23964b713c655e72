"""Run the real dbt project (transform/) on real DuckDB over a bronze lake in a temp dir.

dbt runs as a subprocess of the venv's `dbt`, with the project's own profiles.yml; the
lake, warehouse, target and log paths are the same environment variables Meltano sets
from the dbt-duckdb utility's settings (LAKE_ROOT, DBT_DUCKDB_PATH), so nothing touches
`output/` or `transform/target`.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
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
PARTIAL_PARSE = "partial_parse.msgpack"
# The profile's 2 threads build the sandbox's lake at scale 1 about 7% sooner; on the
# tests' small lakes they only add CPU (measured, a DuckDB build of the whole project:
# 7.6 s of CPU with 2 threads, 7.1 s with 1, the same 6.9 s of wall time), and the suite
# runs on every core already. The Meltano runs keep the profile's 2.
ONE_DBT_THREAD = {"DBT_THREADS": "1"}


def run_dbt(
    workdir: Path,
    args: Sequence[str],
    settings: Mapping[str, str],
    tz: str | None = None,
    timeout: int = 600,
    cwd: Path = PROJECT_DIR,
) -> subprocess.CompletedProcess:
    """`dbt <args>` on the project's own profiles, its target and log paths under `workdir`;
    `settings` are the profile's environment variables (target, lake, warehouse...), `tz`
    the process time zone dbt and the engine see (the caller's TZ is never inherited),
    `cwd` what relative paths in `settings` are relative to."""
    env = {
        **os.environ,
        **settings,
        "DBT_TARGET_PATH": str(workdir / "dbt-target"),
        "DBT_LOG_PATH": str(workdir / "dbt-logs"),
        **ONE_DBT_THREAD,
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
        cwd=cwd,
    )


class ParseCarrier:
    """dbt's partial-parse file, carried from one DbtProject to the next in this process.

    dbt parses the whole project (~2 s of CPU) on a target directory's first command, and
    only checks for changes when the directory holds the file of an earlier parse whose
    settings match: the profile's connection (the warehouse path), the project's
    environment variables (the lake root), the command line's --vars. DbtProject names its
    lake and warehouse relative to its work directory, where dbt runs, so those read the
    same in every project, and a project's first command starts from the last project's
    file. dbt's own checks still decide: other vars or changed files mean a full parse."""

    def __init__(self) -> None:
        self._saved: Path | None = None

    def bring(self, target: Path) -> None:
        if self._saved is not None and not (target / PARTIAL_PARSE).exists():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self._saved, target / PARTIAL_PARSE)

    def keep(self, target: Path) -> None:
        if not (target / PARTIAL_PARSE).exists():
            return
        if self._saved is None:
            directory = tempfile.mkdtemp(prefix="dbt-parse-")
            atexit.register(shutil.rmtree, directory, True)
            self._saved = Path(directory) / PARTIAL_PARSE
        shutil.copyfile(target / PARTIAL_PARSE, self._saved)


PARSES = ParseCarrier()


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
        """Run `dbt <args>` in the work directory; `tz` sets the process time zone (TZ)
        dbt and DuckDB see. The lake and warehouse are named relative to the work
        directory, so that one project's parse serves the next (`ParseCarrier`)."""
        target = self.workdir / "dbt-target"
        PARSES.bring(target)
        settings = {"LAKE_ROOT": "lake", "DBT_DUCKDB_PATH": self.warehouse.name}
        result = run_dbt(self.workdir, args, settings, tz=tz, timeout=timeout, cwd=self.workdir)
        PARSES.keep(target)
        return result

    def results(self) -> dict[str, str]:
        """Status of every node of the last run (`not_null_fct_orders_customer_key` ->
        'fail'), from dbt's own run_results.json."""
        data = json.loads((self.workdir / "dbt-target" / "run_results.json").read_text())
        return {result["unique_id"].split(".")[2]: result["status"] for result in data["results"]}

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        """`sql` on the warehouse; its views name the lake relative to the work directory
        (`dbt`), which DuckDB's file_search_path resolves them against."""
        with duckdb.connect(str(self.warehouse), read_only=True) as conn:
            conn.execute(f"set file_search_path = '{self.workdir}'")
            return conn.execute(sql, params or []).fetchall()


def output(result: subprocess.CompletedProcess) -> str:
    return f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def dbt_project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """A fresh project workdir per test module (each module writes its own lake)."""
    return DbtProject(tmp_path_factory.mktemp("dbt"))
