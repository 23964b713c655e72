"""`elt-monitor check` over a full ledger: 90 job runs x 20 streams (the default bound).

The ledger is written as the monitor writes it, one Parquet file per job run, into a
temporary local lake; every stream is incremental and every row carries a column profile
made by the target's own profiler (12 columns, a night's rows by event date and hour), so
all data rules run. Then the real CLI (`elt-monitor check`, a fresh process: import, read
90 files, judge, write the verdict) is timed, best of 3, and the in-process read + judge
alone. Target: under 2 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
from elt_monitor import ledger, rules
from elt_monitor.lake import Lake
from elt_monitor.settings import MonitorSettings
from target_minio_parquet.profile import RunProfiler

MONITOR = str(Path(sys.executable).parent / "elt-monitor")


def night_profile(rng: random.Random, day: dt.date, rows: int) -> str:
    """A night's profile as the target writes it: 12 columns of a table like orders."""
    times = [
        dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60)), dt.UTC)
        for _ in range(rows)
    ]
    columns = {
        "id": pa.array(range(rows), pa.int64()),
        "created_at": pa.array(times, pa.timestamp("us", tz="UTC")),
        "status": [rng.choice(["paid", "pending", "shipped"]) for _ in range(rows)],
        "currency": ["usd"] * rows,
    }
    for n in range(4):
        columns[f"amount_{n}"] = pa.array(
            [Decimal(rng.randrange(100, 99_999)) / 100 for _ in range(rows)], pa.decimal128(12, 2)
        )
        columns[f"note_{n}"] = [f"n{rng.randrange(10_000)}" for _ in range(rows)]
    profiler = RunProfiler("created_at", ["id"], track_keys=True)
    profiler.observe(pa.table(columns))
    return json.dumps(profiler.summary())


def build(lake_root: Path, runs: int, streams: int) -> None:
    settings = MonitorSettings.from_env({"ELT_MONITOR_LAKE_ROOT": str(lake_root)})
    lake = Lake(settings)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rng = random.Random(1)
    for run in range(runs):
        at = start + dt.timedelta(days=run)
        job_run_id = f"{at:%Y%m%dT%H%M%S}Z-{run:08x}"
        rows = []
        for index in range(streams):
            count = 200 + (run * 37 + index * 101) % 50
            rows.append(
                dict.fromkeys(ledger.SCHEMA.names)
                | {
                    "job_run_id": job_run_id,
                    "run_id": f"{job_run_id}-{index}",
                    "job": "adhoc",
                    "source": f"source{index % 4}",
                    "stream": f"stream{index}",
                    "status": "success",
                    "run_kind": "initial" if run == 0 else "incremental",
                    "incremental": True,
                    "started_at": at,
                    "finished_at": at + dt.timedelta(seconds=30),
                    "recorded_at": at + dt.timedelta(seconds=31),
                    "tap_rows": count,
                    "target_received_rows": count,
                    "target_rows": count,
                    "files": 1,
                    "bytes": count * 50,
                    "checksums": [f"{run:064x}"],
                    "profile": night_profile(rng, (at - dt.timedelta(days=1)).date(), count),
                }
            )
        rows.append(ledger.job_row(settings, job_run_id, rows, at + dt.timedelta(seconds=31)))
        ledger.write(lake, rows, job_run_id)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=90)
    parser.add_argument("--streams", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        lake_root = Path(tmp) / "lake"
        build(lake_root, args.runs, args.streams)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ELT_MONITOR_")}
        env.pop("TARGET_MINIO_PARQUET_DESTINATION", None)
        env["ELT_MONITOR_LAKE_ROOT"] = str(lake_root)
        cli = []
        for _ in range(3):
            started = time.perf_counter()
            result = subprocess.run([MONITOR, "check"], env=env, capture_output=True, text=True)
            cli.append(time.perf_counter() - started)
            assert result.returncode == 0, result.stdout + result.stderr
        settings = MonitorSettings.from_env(env)
        started = time.perf_counter()
        rows = ledger.read(Lake(settings))
        findings = rules.evaluate(settings, rows)
        judge = time.perf_counter() - started
    print(f"ledger: {args.runs} job runs x {args.streams} streams ({len(rows)} rows)")
    print(f"elt-monitor check (CLI, fresh process): best {min(cli):.2f} s of 3")
    print(f"read + judge in process: {judge:.2f} s, {len(findings)} findings")
    return 0 if min(cli) < 2.0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
