"""`rpt_ingestion_runs`: the ledger as a dbt source, built by real dbt on DuckDB."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.conftest import REPO_ROOT
from tests.elt_monitor.conftest import Pipeline

DBT = str(Path(sys.executable).parent / "dbt")


def dbt_build(lake: Path, workdir: Path) -> Path:
    warehouse = workdir / "warehouse.duckdb"
    env = {
        **os.environ,
        "LAKE_ROOT": str(lake),
        "DBT_DUCKDB_PATH": str(warehouse),
        "DBT_TARGET_PATH": str(workdir / "dbt-target"),
        "DBT_LOG_PATH": str(workdir / "dbt-logs"),
    }
    transform = REPO_ROOT / "transform"
    result = subprocess.run(
        [DBT, "build", "--select", "rpt_ingestion_runs", "--project-dir", str(transform),
         "--profiles-dir", str(transform / "profiles")],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    return warehouse


def test_rpt_ingestion_runs_reconciles_every_run(pg_pipeline: Pipeline, tmp_path: Path) -> None:
    empty = dbt_build(tmp_path / "no-lake-yet", tmp_path / "empty")
    with duckdb.connect(str(empty), read_only=True) as con:
        assert con.sql("select count(*) from rpt_ingestion_runs").fetchall() == [(0,)]
    for _ in range(2):
        assert pg_pipeline.run_and_check().returncode == 0
    warehouse = dbt_build(pg_pipeline.lake, tmp_path / "built")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.sql(
            "select run_kind, status, tap_target_reconciled, tap_rows = target_rows, "
            "duration_seconds >= 0 from rpt_ingestion_runs order by started_at, stream"
        ).fetchall()
    assert [row[0] for row in rows] == ["initial", "initial", "full", "full"]
    assert all(row[1:] == ("success", True, True, True) for row in rows)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        verdicts = con.sql(
            "select distinct job_run_id, run_verdict, finding_codes from rpt_ingestion_runs"
        ).fetchall()
    assert len(verdicts) == 2 and all(v[1:] == ("ok", None) for v in verdicts), verdicts
