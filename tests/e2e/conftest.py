"""Fixtures for end-to-end runs of the real Meltano project and dbt.

The repository's own meltano.yml is used as it is; each test run gets its own system
database, lake directory and warehouse through Meltano's environment-variable overrides,
so tests never touch the demo's `output/`. The runners that modules of several directories
share (the reference `clean_run` and its second night) are fixtures of tests/conftest.py;
the helpers they use are here.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from elt_sandbox.shop.publications import drop_publications, drop_slots, ensure_publications

from tests.conftest import REPO_ROOT
from tests.e2e.install import (
    MELTANO,
    PLUGIN_DIRS,
    SYS_DIR,
    project_lock,
)

# Start of every test runner's LOG_BASED slot prefix (dropped at the end of the session).
TEST_SLOT_PREFIX = "e2e_"
# Marts that record the runs themselves (the elt-monitor ledger): they grow with every run
# by design, so "the same data gives the same marts" comparisons leave them out.
RUN_LEDGER_MARTS = frozenset({"rpt_ingestion_runs"})


def business_marts(conn) -> list[str]:
    """dim_/fct_/rpt_ tables of a DuckDB warehouse, without the run ledger."""
    return [
        row[0]
        for row in conn.execute("select table_name from information_schema.tables").fetchall()
        if row[0].startswith(("dim_", "fct_", "rpt_")) and row[0] not in RUN_LEDGER_MARTS
    ]


@dataclass(frozen=True)
class MeltanoRunner:
    """Runs `meltano` in the repository with one isolated state DB, lake and warehouse."""

    env: Mapping[str, str]
    workdir: Path

    @property
    def warehouse(self) -> Path:
        return Path(self.env["DBT_DUCKDB_DUCKDB_PATH"])

    @property
    def lake_root(self) -> str:
        """The runner's lake: its override, else the `minio` environment's."""
        return self.env.get("DBT_DUCKDB_LAKE_ROOT") or f"s3://{self.env['LAKE_BUCKET']}/bronze"

    def run(self, *args: str, check: bool = True, timeout: int = 600):
        with project_lock(exclusive=False):
            result = subprocess.run(
                [MELTANO, *args],
                cwd=REPO_ROOT,
                env=dict(self.env),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        if check and result.returncode != 0:
            raise AssertionError(
                f"meltano {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
            )
        return result


def project_copy(root: Path, plugins: list[str]) -> Path:
    """A Meltano project in `root` with this repository's meltano.yml and the named plugin
    directories linked in, so `$MELTANO_PROJECT_ROOT` (outputs, `-e` pip_urls) is `root`.
    The caller installs the plugins it runs into `root/.meltano`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "meltano.yml").write_text((REPO_ROOT / "meltano.yml").read_text())
    # the own plugins' definitions (lock files): Meltano would look for them on the Hub
    (root / "plugins").symlink_to(REPO_ROOT / "plugins", target_is_directory=True)
    for name in plugins:
        if (REPO_ROOT / name).is_dir():
            (root / name).symlink_to(REPO_ROOT / name, target_is_directory=True)
    return root


def private_sys_dir(workdir: Path) -> Path:
    """A Meltano system directory of this runner's own, sharing the installed plugins.

    Meltano keeps each run's config and catalog files in `.meltano/run/<plugin>/`, the
    catalog under one name per tap (`tap.properties.json`): two runs of one tap in one
    project delete each other's files, and `meltano install` empties the directory.
    Test sessions run side by side, so each runner gets its own `run/` and `logs/` and
    links to the repository's installed plugin venvs.
    """
    sys_dir = workdir / ".meltano"
    sys_dir.mkdir(parents=True, exist_ok=True)
    for kind in PLUGIN_DIRS:
        link = sys_dir / kind
        if not link.exists():
            link.symlink_to(SYS_DIR / kind, target_is_directory=True)
    return sys_dir


def base_env(sandbox_env: Mapping[str, str], workdir: Path, environment: str) -> dict[str, str]:
    return {
        **os.environ,
        **sandbox_env,
        "MELTANO_SYS_DIR_ROOT": str(private_sys_dir(workdir)),
        "MELTANO_ENVIRONMENT": environment,
        "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        # Meltano reads overrides as <NAMESPACE>_<SETTING>; it passes them to dbt under
        # the setting's own `env` name (DBT_DUCKDB_PATH, LAKE_ROOT).
        "DBT_DUCKDB_DUCKDB_PATH": str(workdir / "warehouse.duckdb"),
        # dbt-duckdb:wap's publication facts (output/wap/duckdb is the demo's).
        "DBT_DUCKDB_WAP_STATE_DIR": str(workdir / "wap"),
        # ... which elt-monitor's finish reads (meltano.yml points both at the same place)
        "ELT_MONITOR_WAP_STATE_DIR": str(workdir / "wap"),
        "DBT_TARGET_PATH": str(workdir / "dbt-target"),
        "DBT_LOG_PATH": str(workdir / "dbt-logs"),
    }


def admin_connection(env: Mapping[str, str], database: str | None = None) -> psycopg.Connection:
    """An autocommit connection as the sandbox's admin (PGUSER), the DBA of the tests."""
    return psycopg.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        password=env["PGPASSWORD"],
        dbname=database or env["PGDATABASE"],
        autocommit=True,
    )


def with_own_slots(env: dict[str, str], workdir: Path) -> dict[str, str]:
    """`env` with a LOG_BASED slot prefix of this runner's own, its publications created
    by the admin (the taps' role owns no table).

    Slots are per database and prefix, not per Meltano state: every runner has its own
    system database, so runners sharing one prefix would confirm the shared slots past
    each other's bookmarks (the tap then refuses the stale bookmark)."""
    prefix = f"{TEST_SLOT_PREFIX}{hashlib.sha256(str(workdir).encode()).hexdigest()[:10]}"
    with admin_connection(env) as conn:
        ensure_publications(conn, env["PGDATABASE"], [prefix])
    return {**env, "TAP_ECOMMERCE_POSTGRES_LOG_BASED_PREFIX": prefix}


def drop_test_slots(env: Mapping[str, str], database: str | None = None) -> None:
    """The runners' slots and publications in one database (slots keep WAL until dropped;
    a database that has slots cannot be dropped)."""
    with admin_connection(env, database) as conn:
        drop_slots(conn, TEST_SLOT_PREFIX)
        names = conn.execute(
            "select pubname from pg_publication where starts_with(pubname, %s)",
            [TEST_SLOT_PREFIX],
        ).fetchall()
        drop_publications(conn, [name for (name,) in names])


def local_lake_runner(sources_env: Mapping[str, str], workdir: Path) -> MeltanoRunner:
    """The `dev` environment with its own system database, local lake, warehouse and
    LOG_BASED slots."""
    env = with_own_slots(base_env(sources_env, workdir, "dev"), workdir)
    env["TARGET_MINIO_PARQUET_DESTINATION"] = str(workdir / "lake")
    env["DBT_DUCKDB_LAKE_ROOT"] = str(workdir / "lake")
    return MeltanoRunner(env, workdir)


def mart_fingerprint(warehouse) -> dict[str, str]:
    """md5 of each mart's full contents, ordered: equal fingerprints = identical marts."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        names = business_marts(conn)
        return {
            name: conn.execute(
                "select count(*) || ':' || coalesce(md5(string_agg(t::varchar, '|'"
                f" order by t::varchar)), '') from \"{name}\" as t"
            ).fetchone()[0]
            for name in names
        }


@dataclass(frozen=True)
class SecondNight:
    """`clean_run`'s runner after a second ok night with no change at the sources, run
    as the daily schedule runs it: the Dagster job (tests/orchestration/dagster_runs.py)."""

    runner: MeltanoRunner
    marts_after_first: dict[str, str]  # mart_fingerprint before the second night
    daily: Any  # tests.orchestration.dagster_runs.DailyRun


@pytest.fixture(scope="session")
def minio_runner(all_sources_env, meltano_installed, tmp_path_factory) -> MeltanoRunner:
    """The `minio` environment as the README gives it: its lake is `s3://$LAKE_BUCKET/bronze`
    (a bucket of this runner's own, so no lake override: the target, dbt and elt-monitor
    must all find it through meltano.yml), state in Meltano's S3 backend."""
    from elt_sandbox.services.s3 import s3_client

    workdir = tmp_path_factory.mktemp("e2e-minio")
    env = with_own_slots(base_env(all_sources_env, workdir, "minio"), workdir)
    bucket = f"e2e-{hashlib.sha256(str(workdir).encode()).hexdigest()[:12]}"
    s3_client(all_sources_env).create_bucket(Bucket=bucket)
    env["LAKE_BUCKET"] = bucket
    # Meltano's S3 state backend on the sandbox endpoint.
    env["MELTANO_STATE_BACKEND_URI"] = f"s3://{bucket}/state"
    env["MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID"] = all_sources_env["AWS_ACCESS_KEY_ID"]
    env["MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY"] = all_sources_env["AWS_SECRET_ACCESS_KEY"]
    env["MELTANO_STATE_BACKEND_S3_ENDPOINT_URL"] = all_sources_env["AWS_ENDPOINT_URL"]
    return MeltanoRunner(env, workdir)


def ledger_job_rows(env: Mapping[str, str], lake_root: str) -> list[dict]:
    """The job-level rows of the elt-monitor ledger in one lake (local or on S3)."""
    from elt_monitor import ledger
    from elt_monitor.lake import Lake
    from elt_monitor.settings import MonitorSettings

    settings = MonitorSettings.from_env(
        {key: value for key, value in env.items() if key.startswith("AWS_")},
        lake_root=lake_root,
    )
    return [row for row in ledger.read(Lake(settings)) if row["stream"] == ledger.JOB_ROW]
