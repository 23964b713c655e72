"""tap-ecommerce-postgres > /dev/null: this checkout against a base checkout, interleaved.

    git worktree add /tmp/pg-base <commit>
    .venv/bin/python bench/postgres_ab.py --base /tmp/pg-base --runs 3

Both taps run with this venv's interpreter and libraries; the base's package is put first
on PYTHONPATH (checked: the script fails if the base would not be the one imported). Runs
alternate base / current so a noisy shared machine weighs on both alike; every run is
printed, then the medians. Uses the same sandbox home as postgres_pipeline.py and stops
it afterwards unless it was already running.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _measure import run_measured
from elt_sandbox import api
from elt_sandbox.runtime import SandboxHome
from elt_sandbox.shop.generate import expected_counts

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PACKAGE = "tap-ecommerce-postgres"


def imported_from(env: dict[str, str]) -> str:
    probe = "import tap_ecommerce_postgres.stream as s; print(s.__file__)"
    return subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, required=True, help="checkout to compare with")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    home = SandboxHome((ROOT / ".sandbox-bench").resolve())
    was_running = api.status(home).get("postgres", "").startswith("running")
    env = api.up(home, scale=args.scale, services=["postgres"])
    try:
        compare(args, env)
    finally:
        if not was_running:  # leave a shared machine as we found it
            api.down(home)


def compare(args: argparse.Namespace, env: dict[str, str]) -> None:
    rows = sum(expected_counts(args.scale).values())
    base_env = {**os.environ, "PYTHONPATH": str(args.base.resolve() / PACKAGE)}
    current_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if not imported_from(base_env).startswith(str(args.base.resolve())):
        raise SystemExit(f"the base package would not be imported from {args.base}")
    config = {"host": env["PGHOST"], "port": int(env["PGPORT"]), "user": env["PGUSER"],
              "password": env["PGPASSWORD"], "database": env["PGDATABASE"], "schemas": ["public"]}  # fmt: skip
    seconds: dict[str, list[float]] = {"base": [], "current": []}
    with tempfile.TemporaryDirectory(prefix="bench-pg-ab-") as work:
        config_file = Path(work) / "tap.json"
        config_file.write_text(json.dumps(config))
        command = f"{BIN}/tap-ecommerce-postgres --config {config_file} > /dev/null"
        for run in range(1, args.runs + 1):
            for name, run_env in (("base", base_env), ("current", current_env)):
                measured = run_measured(name, command, rows, run_env)
                seconds[name].append(measured.seconds)
                print(
                    f"run {run} {name:<8}{measured.seconds:>7.2f} s"
                    f"{measured.rows_per_second:>11,.0f} rows/s{measured.peak_rss_mb:>6.0f} MB",
                    flush=True,
                )
    base, current = (statistics.median(seconds[k]) for k in ("base", "current"))
    print(f"\nscale {args.scale}: {rows:,} rows; tap > /dev/null, median of {args.runs}")
    print(f"base    {base:.2f} s ({rows / base:,.0f} rows/s)")
    print(f"current {current:.2f} s ({rows / current:,.0f} rows/s), {current / base - 1:+.1%}")


if __name__ == "__main__":
    main()
