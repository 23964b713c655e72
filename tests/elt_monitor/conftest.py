"""Real runs for the monitor: a real tap piped into the real target, the tap's stderr
saved as its log, then the real `elt-monitor` CLI on the lake they wrote.

Each test gets its own Postgres schema (a copy of the shop's tables) or its own copy of
the CSV exports, its own lake and its own job name, so anomalies made at the source touch
nothing shared.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
TAP_PG = str(BIN / "tap-ecommerce-postgres")
TAP_CSV = str(BIN / "tap-csv-marketing")
TARGET = str(BIN / "target-minio-parquet")
MONITOR = str(BIN / "elt-monitor")


@dataclass
class Pipeline:
    """`tap | target` runs into one lake, each followed by `elt-monitor check --record`."""

    tap: str
    tap_config: dict
    workdir: Path
    monitor_env: dict[str, str] = field(default_factory=dict)
    # extra target settings (event_time_fields, ...)
    target_settings: dict = field(default_factory=dict)
    # carry the target's last state into the next tap run, as Meltano does (bookmarks)
    carry_state: bool = False
    state: dict | None = None
    runs: int = 0

    @property
    def lake(self) -> Path:
        return self.workdir / "lake"

    def env(self, **settings: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("ELT_MONITOR_", "MELTANO_"))
        }
        env.pop("TARGET_MINIO_PARQUET_DESTINATION", None)
        env |= {"ELT_MONITOR_LAKE_ROOT": str(self.lake), "ELT_MONITOR_JOB": "test-job"}
        env |= self.monitor_env
        env |= {f"ELT_MONITOR_{k.upper()}": v for k, v in settings.items()}
        return env

    def load(self, catalog: dict | None = None, keep_lines: int | None = None) -> Path:
        """One tap run into the lake; returns the tap's log. `keep_lines` cuts the tap's
        output after that many lines (a pipe that lost messages)."""
        self.runs += 1
        run_dir = self.workdir / f"run{self.runs}"
        run_dir.mkdir()
        (run_dir / "tap.json").write_text(json.dumps(self.tap_config))
        target_config = {"destination": str(self.lake), "source_name": "src"}
        target_config |= self.target_settings
        (run_dir / "target.json").write_text(json.dumps(target_config))
        argv = [self.tap, "--config", str(run_dir / "tap.json")]
        if catalog is not None:
            (run_dir / "catalog.json").write_text(json.dumps(catalog))
            argv += ["--catalog", str(run_dir / "catalog.json")]
        if self.carry_state and self.state is not None:
            (run_dir / "state.json").write_text(json.dumps(self.state))
            argv += ["--state", str(run_dir / "state.json")]
        log = run_dir / "tap.log"
        tap = subprocess.run(argv, capture_output=True, timeout=300)
        log.write_bytes(tap.stderr)
        assert tap.returncode == 0, tap.stderr.decode()[-3000:]
        output = tap.stdout
        if keep_lines is not None:
            output = b"".join(output.splitlines(keepends=True)[:keep_lines])
        target = subprocess.run(
            [TARGET, "--config", str(run_dir / "target.json")],
            input=output,
            capture_output=True,
            timeout=300,
        )
        assert target.returncode == 0, target.stderr.decode()[-3000:]
        if self.carry_state and target.stdout.strip():
            self.state = json.loads(target.stdout.splitlines()[-1])
        return log

    def monitor(self, *args: str, **settings: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [MONITOR, *args], env=self.env(**settings), capture_output=True, text=True, timeout=120
        )

    def run_and_check(self, catalog: dict | None = None, keep_lines: int | None = None, **settings):
        log = self.load(catalog, keep_lines)
        return self.monitor("check", "--record", "--tap-log", str(log), **settings)

    def discover(self) -> dict:
        (self.workdir / "discover.json").write_text(json.dumps(self.tap_config))
        result = subprocess.run(
            [self.tap, "--config", str(self.workdir / "discover.json"), "--discover"],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        return json.loads(result.stdout)


def codes(result: subprocess.CompletedProcess) -> set[tuple[str, str]]:
    """(severity, code) of every finding line the check printed."""
    found = set()
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("WARNING", "CRITICAL"):
            found.add((parts[0].lower(), parts[1]))
    return found


@pytest.fixture()
def shop_copy(pg_env: dict[str, str], pg_conn) -> Iterator[tuple[str, dict]]:
    """A schema holding copies of the shop's orders and customers; (schema, tap config)."""
    schema = f"mon_{uuid.uuid4().hex[:8]}"
    pg_conn.execute(f"create schema {schema}")
    for table in ("orders", "customers"):
        pg_conn.execute(f"create table {schema}.{table} as select * from public.{table}")
    config = {
        "host": pg_env["PGHOST"],
        "port": int(pg_env["PGPORT"]),
        "user": pg_env["PGUSER"],
        "password": pg_env["PGPASSWORD"],
        "database": pg_env["PGDATABASE"],
        "schemas": [schema],
    }
    yield schema, config
    pg_conn.execute(f"drop schema {schema} cascade")


@pytest.fixture()
def pg_pipeline(shop_copy, tmp_path: Path) -> Pipeline:
    return Pipeline(TAP_PG, shop_copy[1], tmp_path)


@pytest.fixture()
def csv_pipeline(csv_env: dict[str, str], tmp_path: Path) -> Pipeline:
    exports = tmp_path / "exports"
    shutil.copytree(csv_env["SANDBOX_CSV_DIR"], exports)
    return Pipeline(TAP_CSV, {"source": str(exports)}, tmp_path)
