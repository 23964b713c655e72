"""`elt-monitor check` and `elt-monitor report` over a full ledger: 90 job runs x 20
streams (the default bound).

The ledger is written as the monitor writes it, one Parquet file per job run, into a
temporary local lake, each stream run with the column profile the target records (made
by the target's own profiler: half the streams incremental, a year of event dates in
their first load and one new day a run after it; half full snapshots), and one verdict
per job run. Then the real CLI (a fresh process: import, read 90 files, judge; for the
report also read 90 verdicts and write the page) is timed, best of 3, and the in-process
read + judge alone. Target: check under 2 s on this 2-core machine.
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
from elt_monitor import ledger, rules, verdict
from elt_monitor.lake import Lake
from elt_monitor.settings import MonitorSettings
from target_minio_parquet.profile import RunProfiler

MONITOR = str(Path(sys.executable).parent / "elt-monitor")


def _profile(rng: random.Random, days: list[dt.date], per_day: int) -> str:
    """A run's profile by the target's profiler, of `per_day` rows on each of `days`."""
    count = per_day * len(days)
    times = [
        dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60)), dt.UTC)
        for day in days
        for _ in range(per_day)
    ]
    table = pa.table(
        {
            "id": pa.array(range(count), pa.int64()),
            "created_at": pa.array(times, pa.timestamp("us", tz="UTC")),
            "amount": pa.array(
                [Decimal(rng.randrange(100, 20_000)) / 100 for _ in range(count)],
                pa.decimal128(12, 2),
            ),
            "quantity": pa.array([rng.randrange(1, 6) for _ in range(count)], pa.int64()),
            "status": pa.array([rng.choice(["paid", "open", "void"]) for _ in range(count)]),
            "channel": pa.array([rng.choice(["web", "app", None]) for _ in range(count)]),
            "note": pa.array([f"n{rng.randrange(10**6)}" for _ in range(count)]),
        }
    )
    profiler = RunProfiler("created_at", ["id"], track_keys=True)
    profiler.observe(table)
    return json.dumps(profiler.summary())


def _verdict(settings: MonitorSettings, lake: Lake, job_run_id: str, run: int) -> None:
    """One stored verdict per job run; every tenth night a warning on a column."""
    findings = []
    if run % 10 == 9:
        findings.append(
            rules.Finding(
                "NULL_SHARE",
                "warning",
                "source0/stream0",
                "column channel: 60% NULL in this run, 33.0% before",
                {"column": "channel", "share": 0.6, "expected": 0.33},
            )
        )
    result = verdict.build(
        job=settings.job,
        job_run_id=job_run_id,
        environment="bench",
        lake_uri=lake.uri(""),
        stage="finish",
        findings=findings,
        acks=[],
        before=verdict.previous(lake, settings.job, job_run_id),
    )
    verdict.write(lake, result | {"fail_on": "critical", "exit_code": 0})


def build(lake_root: Path, runs: int, streams: int) -> None:
    settings = MonitorSettings.from_env({"ELT_MONITOR_LAKE_ROOT": str(lake_root)})
    lake = Lake(settings)
    rng = random.Random(20260101)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    history = [start.date() - dt.timedelta(days=d) for d in range(365, 0, -1)]
    snapshot = _profile(rng, history[-30:], 10)  # full streams: one snapshot's profile
    for run in range(runs):
        at = start + dt.timedelta(days=run)
        job_run_id = f"{at:%Y%m%dT%H%M%S}Z-{run:08x}"
        rows = []
        for index in range(streams):
            incremental = index % 2 == 0
            if incremental:
                days = history if run == 0 else [(at - dt.timedelta(days=1)).date()]
                profile = _profile(rng, days, 20 + rng.randrange(-4, 5))
                count = json.loads(profile)["rows"]
                kind = "initial" if run == 0 else "incremental"
            else:
                profile = snapshot
                count = 10_000 + (run * 37 + index * 101) % 500
                kind = "initial" if run == 0 else "full"
            rows.append(
                dict.fromkeys(ledger.SCHEMA.names)
                | {
                    "job_run_id": job_run_id,
                    "run_id": f"{job_run_id}-{index}",
                    "job": "adhoc",
                    "source": f"source{index % 4}",
                    "stream": f"stream{index}",
                    "status": "success",
                    "run_kind": kind,
                    "incremental": incremental,
                    "started_at": at,
                    "finished_at": at + dt.timedelta(seconds=30),
                    "recorded_at": at + dt.timedelta(seconds=31),
                    "tap_rows": count,
                    "target_received_rows": count,
                    "target_rows": count,
                    "files": 1,
                    "bytes": count * 50,
                    "checksums": [f"{run:064x}"],
                    "replication_key": "created_at" if incremental else None,
                    "profile": profile,
                }
            )
        rows.append(ledger.job_row(settings, job_run_id, rows, at + dt.timedelta(seconds=31)))
        ledger.write(lake, rows, job_run_id)
        _verdict(settings, lake, job_run_id, run)


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
        report = []
        page = Path(tmp) / "report.html"
        for _ in range(3):
            started = time.perf_counter()
            result = subprocess.run(
                [MONITOR, "report", "--output", str(page)], env=env, capture_output=True, text=True
            )
            report.append(time.perf_counter() - started)
            assert result.returncode == 0, result.stdout + result.stderr
        size = page.stat().st_size
        settings = MonitorSettings.from_env(env)
        started = time.perf_counter()
        rows = ledger.read(Lake(settings))
        findings = rules.evaluate(settings, rows)
        judge = time.perf_counter() - started
    print(f"ledger: {args.runs} job runs x {args.streams} streams ({len(rows)} rows, profiles)")
    print(f"elt-monitor check (CLI, fresh process): best {min(cli):.2f} s of 3")
    print(f"read + judge in process: {judge:.2f} s, {len(findings)} findings")
    print(f"elt-monitor report (CLI, fresh process): best {min(report):.2f} s of 3, {size:,} bytes")
    return 0 if min(cli) < 2.0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
