"""The README's first command: the whole pipeline end to end on embedded defaults.

Starts the sandbox (Postgres, S3, Stripe, CRM, CSV exports), installs the Meltano plugins,
runs the `ecommerce-elt` job (four taps into the Parquet lake, then dbt), prints a
verification table from source to staging, then runs the job again to show that the
second run is incremental: few rows move and the modelled counts do not change.
Demo outputs live under `output/` and are reset at the start of each demo.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from elt_sandbox import api
from elt_sandbox.runtime import SandboxHome

from scripts.pipeline_report import (
    bronze_counts,
    duckdb_for_lake,
    format_table,
    source_counts,
    warehouse_counts,
)

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "output"
MELTANO = str(Path(sys.executable).parent / "meltano")
# The run ledger's mart gains rows with every ingestion run, by design.
GROWS_EVERY_RUN = {"rpt_ingestion_runs"}
PLUGINS = [
    "tap-ecommerce-postgres",
    "tap-stripe-custom",
    "tap-legacy-crm",
    "tap-csv-marketing",
    "target-minio-parquet",
    "dbt-duckdb",
    "elt-monitor",
]


def step(message: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {message}", flush=True)


def meltano_env(sandbox_env: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        **sandbox_env,
        "MELTANO_ENVIRONMENT": "dev",
        "MELTANO_DATABASE_URI": f"sqlite:///{OUTPUT / 'meltano-demo.db'}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_DUCKDB_LAKE_ROOT": str(OUTPUT / "lake"),
        "DBT_DUCKDB_DUCKDB_PATH": str(OUTPUT / "warehouse.duckdb"),
    }


def run_logged(argv: list[str], env: dict[str, str], log: Path, heartbeat: bool = False) -> None:
    """Run a command with its output in a log file; print lake progress while it runs."""
    stop = threading.Event()

    def report_progress() -> None:
        started = time.monotonic()
        while not stop.wait(10):
            files = len(list((OUTPUT / "lake").glob("*/*/*/*.parquet")))
            step(f"  ... {time.monotonic() - started:4.0f}s, {files} Parquet files in the lake")

    thread = threading.Thread(target=report_progress, daemon=True)
    if heartbeat:
        thread.start()
    with log.open("a") as handle:
        result = subprocess.run(argv, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
    stop.set()
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        raise SystemExit(
            f"{' '.join(argv[1:3])} failed (exit {result.returncode}); log {log}:\n{tail}"
        )


def layer_counts() -> tuple[dict[str, int], dict[str, int]]:
    conn = duckdb_for_lake(str(OUTPUT / "lake"))
    bronze = bronze_counts(conn, str(OUTPUT / "lake"))
    staging = warehouse_counts(OUTPUT / "warehouse.duckdb", ("stg_", "dim_", "fct_", "rpt_"))
    return bronze, staging


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="sandbox data scale")
    args = parser.parse_args()
    started = time.monotonic()

    step(f"starting the sandbox at scale {args.scale} (Postgres, S3, Stripe, CRM, CSV)")
    sandbox_env = api.up(SandboxHome.default(), scale=args.scale)
    shutil.rmtree(OUTPUT, ignore_errors=True)
    (OUTPUT / "logs").mkdir(parents=True)
    env = meltano_env(sandbox_env)

    step("installing the Meltano plugins (log: output/logs/meltano-install.log)")
    run_logged([MELTANO, "install", *PLUGINS], env, OUTPUT / "logs" / "meltano-install.log")

    pipeline_started = time.monotonic()
    step("run 1: meltano run ecommerce-elt (log: output/logs/run-1.log)")
    run_logged([MELTANO, "run", "ecommerce-elt"], env, OUTPUT / "logs" / "run-1.log", True)
    first_run = time.monotonic() - pipeline_started
    bronze_1, staging_1 = layer_counts()
    print()
    print(format_table("source", source_counts(sandbox_env)))
    print()
    print(format_table("bronze stream (lake)", bronze_1))
    print()
    print(format_table("staging model / mart", staging_1))
    print()

    step("run 2: the same job again, incremental (log: output/logs/run-2.log)")
    second_started = time.monotonic()
    run_logged([MELTANO, "run", "ecommerce-elt"], env, OUTPUT / "logs" / "run-2.log", True)
    second_run = time.monotonic() - second_started
    bronze_2, staging_2 = layer_counts()
    print()
    print(format_table("bronze stream after run 2", bronze_2, bronze_1))
    print()
    print(format_table("staging model / mart after run 2", staging_2, staging_1))
    print()
    changed = {
        name
        for name in staging_2
        if staging_2[name] != staging_1.get(name) and name not in GROWS_EVERY_RUN
    }
    step(
        f"run 1 took {first_run:.0f}s, run 2 {second_run:.0f}s; staging counts "
        + ("unchanged" if not changed else f"CHANGED for {sorted(changed)}")
    )
    step("run ledger and data-quality check of run 2 (elt-monitor status / report)")
    for command in ("elt-monitor:status", "elt-monitor:report"):
        subprocess.run([MELTANO, "invoke", command], env=env, cwd=ROOT, check=True)
    step(f"demo finished in {time.monotonic() - started:.0f}s; warehouse: output/warehouse.duckdb")
    return 1 if changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
