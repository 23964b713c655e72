"""The README's first command: the whole pipeline end to end on embedded defaults.

Starts the sandbox (Postgres, S3, Stripe, CRM, CSV exports) while it installs the Meltano
plugins that are missing or whose package changed, runs the `ecommerce-elt` job (four taps
into the Parquet lake, then dbt), prints a verification table from source to staging,
then runs the job again to show that the second run is incremental: few rows move and the
modelled counts do not change. Demo outputs live under `output/` and are reset at the
start of each demo. Long steps print a line of progress every 10 s (plugins installed;
rows committed, steps done).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
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


def plugins_to_install() -> list[str]:
    """The demo's plugins without a finished install (Meltano writes the venv's
    fingerprint last), or whose local package's pyproject.toml changed since. A changed
    `pip_url` is Meltano's to see: `meltano run` reinstalls it (auto_install)."""
    stale = []
    for name in PLUGINS:
        fingerprints = list((ROOT / ".meltano").glob(f"*/{name}/venv/.meltano_plugin_fingerprint"))
        pyproject = ROOT / name / "pyproject.toml"
        if not fingerprints or (
            pyproject.exists() and pyproject.stat().st_mtime > fingerprints[0].stat().st_mtime
        ):
            stale.append(name)
    return stale


def install_progress(log: Path, total: int) -> str:
    """`3 of 7 plugins installed`, from Meltano's install log."""
    done = sum(bool(INSTALLED.search(line)) for line in read_lines(log))
    return f"{done} of {total} plugins installed"


def run_progress(log: Path) -> str:
    """Rows committed to the lake so far, the job's steps done, and the plugin that wrote
    the log's last line (a tap, the target, elt-monitor's gate, dbt), from the run's log."""
    plugin, rows, steps = "meltano", 0, 0
    for line in read_lines(log):
        if match := LOG_LINE.match(line):
            plugin = match.group(1)
        if match := COMMITTED.search(line):
            rows += int(match.group(1))
        steps += "Block run completed" in line
    return f"{rows:,} rows committed to the lake, {steps} steps done; last line from {plugin}"


def read_lines(log: Path) -> list[str]:
    try:
        return log.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return []


# `2026-12-06T06:18:41Z [info     ] tap-ecommerce-postgres Beginning sync of ...`
LOG_LINE = re.compile(r"\S+ \[[^\]]*\] (\S+) ")
INSTALLED = re.compile(r" Installed \w+ '")
COMMITTED = re.compile(r"committed (\d+) rows")


class Logged:
    """A command running with its output in a log file; a line of progress every 10 s
    (what `progress(log)` reads from the log) until it ends."""

    def __init__(
        self, argv: list[str], env: dict[str, str], log: Path, progress: Callable[[Path], str]
    ) -> None:
        self.argv, self.log = argv, log
        self.started = time.monotonic()
        with log.open("a") as handle:
            self.process = subprocess.Popen(
                argv, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT
            )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.report, args=(progress,), daemon=True)
        self.thread.start()

    def report(self, progress: Callable[[Path], str]) -> None:
        while not self.stop.wait(10):
            step(f"  ... {time.monotonic() - self.started:4.0f}s, {progress(self.log)}")

    def wait(self) -> float:
        """Wait for the command; its seconds. Exits with the log's tail if it failed."""
        code = self.process.wait()
        self.stop.set()
        if code != 0:
            tail = "\n".join(read_lines(self.log)[-40:])
            raise SystemExit(
                f"{' '.join(self.argv[1:3])} failed (exit {code}); log {self.log}:\n{tail}"
            )
        return time.monotonic() - self.started


def run_logged(argv: list[str], env: dict[str, str], log: Path) -> float:
    """Run a Meltano job with its output in a log file and its progress on the console."""
    return Logged(argv, env, log, run_progress).wait()


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

    shutil.rmtree(OUTPUT, ignore_errors=True)
    (OUTPUT / "logs").mkdir(parents=True)
    # The plugins install while the sandbox starts and seeds its data: neither needs
    # the other, and both wait on the disk part of the time.
    stale = plugins_to_install()
    install_log = OUTPUT / "logs" / "meltano-install.log"
    if stale:
        step(f"installing {len(stale)} Meltano plugins (log: output/logs/meltano-install.log)")
        # `meltano install`, then bytecode for what the plugins import (not every file)
        install = Logged(
            [sys.executable, "-m", "scripts.install_plugins", *stale],
            meltano_env({}),
            install_log,
            lambda log: install_progress(log, len(stale)),
        )
    else:
        step("the Meltano plugins are installed (`meltano install` reinstalls them)")
    step(f"starting the sandbox at scale {args.scale} (Postgres, S3, Stripe, CRM, CSV)")
    try:
        sandbox_env = api.up(SandboxHome.default(), scale=args.scale)
    except BaseException:
        if stale:
            install.process.terminate()
        raise
    step(f"sandbox up after {time.monotonic() - started:.0f}s")
    if stale:
        install.wait()
    env = meltano_env(sandbox_env)

    step("run 1: meltano run ecommerce-elt (log: output/logs/run-1.log)")
    first_run = run_logged([MELTANO, "run", "ecommerce-elt"], env, OUTPUT / "logs" / "run-1.log")
    bronze_1, staging_1 = layer_counts()
    print()
    print(format_table("source", source_counts(sandbox_env)))
    print()
    print(format_table("bronze stream (lake)", bronze_1))
    print()
    print(format_table("staging model / mart", staging_1))
    print()

    step("run 2: the same job again, incremental (log: output/logs/run-2.log)")
    second_run = run_logged([MELTANO, "run", "ecommerce-elt"], env, OUTPUT / "logs" / "run-2.log")
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
