"""Full extract of charges and refunds at scale 1 against a Stripe stand-in that enforces
100 requests/s and injects 5% 429s; wall time versus the rate-limit bound.

`--faults "--rate-replay 0.03 --rate-gateway 0.05" --compare-clean` measures other faults
and the same extract without faults; each run checks records = distinct ids = the
sandbox's own count.

`--raw-payloads on` keeps every body (the tap's `raw_payloads`) in a temporary lake;
`--raw-payloads compare` runs the extract alternately without and with it (`--repeat`
pairs) and prints the medians and the overhead (use a high `--rps` and no faults to
measure the tap's own cost rather than the rate limit's).

`--streams charges,refunds,customers,payment_intents,balance_transactions,disputes
--start-date 2024-01-01T00:00:00Z --rps 1000 --faults ""` measures the tap's output path over every stream: records per
second of the tap's CPU."""

from __future__ import annotations

import argparse
import json
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from elt_sandbox.runtime import SandboxHome, stop_pid
from elt_sandbox.services.stripe_api import start_stripe_server
from elt_sandbox.stripe_api.__main__ import DEFAULT_API_KEY

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--rps", type=float, default=100)
    parser.add_argument("--faults", default="--rate-429 0.05", help="stand-in fault flags")
    parser.add_argument("--compare-clean", action="store_true", help="also run without faults")
    parser.add_argument("--raw-payloads", choices=["off", "on", "compare"], default="off")
    parser.add_argument("--repeat", type=int, default=3, help="pairs of runs for compare")
    parser.add_argument(
        "--streams", default="charges,refunds", help="streams to select (comma-separated)"
    )
    parser.add_argument(
        "--start-date",
        default="2024-12-01T00:00:00Z",
        help="the tap's start_date (2024-01-01T00:00:00Z, as in the dev environment, "
        "reaches every seeded customer)",
    )
    args = parser.parse_args()
    if args.raw_payloads == "compare":
        walls: dict[bool, list[float]] = {False: [], True: []}
        cpus: dict[bool, list[float]] = {False: [], True: []}  # the tap's own CPU: steadier
        for _ in range(args.repeat):
            for raw in (False, True):
                wall, cpu = run(args, args.faults, raw)
                walls[raw].append(wall)
                cpus[raw].append(cpu)
        off, on = statistics.median(walls[False]), statistics.median(walls[True])
        cpu_off, cpu_on = statistics.median(cpus[False]), statistics.median(cpus[True])
        print(
            f"raw_payloads off: {' '.join(f'{w:.1f}' for w in walls[False])} s (median {off:.1f})"
        )
        print(f"raw_payloads on:  {' '.join(f'{w:.1f}' for w in walls[True])} s (median {on:.1f})")
        print(f"overhead {100 * (on / off - 1):+.1f}% wall; tap CPU median "
              f"{cpu_off:.2f} s off, {cpu_on:.2f} s on: {100 * (cpu_on / cpu_off - 1):+.1f}%")  # fmt: skip
        return
    runs = [args.faults, ""] if args.compare_clean else [args.faults]
    walls = [run(args, faults, args.raw_payloads == "on")[0] for faults in runs]
    if args.compare_clean:
        print(f"faults cost {walls[0] / walls[1]:.2f}x the fault-free wall time")


def run(args: argparse.Namespace, faults: str, raw: bool = False) -> tuple[float, float]:
    """One extract; prints its figures and returns its wall time and the tap's CPU."""
    work = Path(tempfile.mkdtemp(prefix="bench-stripe-"))
    pid, port = start_stripe_server(SandboxHome(work), "stripe-bench", args.scale,
                                    ["--max-rps", str(args.rps), *shlex.split(faults)])  # fmt: skip
    try:
        config = {"api_key": DEFAULT_API_KEY, "api_base": f"http://127.0.0.1:{port}",
                  "start_date": args.start_date, "max_requests_per_second": args.rps,
                  "window_days": 400, "backoff_base_seconds": 0.01, "backoff_max_seconds": 2}  # fmt: skip
        if raw:
            config |= {"raw_payloads": True, "raw_payloads_location": str(work / "lake")}
        (work / "config.json").write_text(json.dumps(config))
        catalog = json.loads(
            subprocess.run(
                [BIN / "tap-stripe-custom", "--config", work / "config.json", "--discover"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        selected = args.streams.split(",")
        for stream in catalog["streams"]:
            for entry in stream["metadata"]:
                if not entry["breadcrumb"]:
                    entry["metadata"]["selected"] = stream["tap_stream_id"] in selected
        (work / "catalog.json").write_text(json.dumps(catalog))
        started, cpu_before = time.monotonic(), cpu_of_children()
        result = subprocess.run([BIN / "tap-stripe-custom", "--config", work / "config.json", "--catalog", work / "catalog.json"],
                                capture_output=True, text=True, check=True)  # fmt: skip
        wall, cpu = time.monotonic() - started, cpu_of_children() - cpu_before
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/stats") as response:
            stats = json.loads(response.read())
        kept = list((work / "lake").rglob("*.json.gz"))
        if raw:
            print(
                f"raw payloads kept: {len(kept)}, {sum(f.stat().st_size for f in kept) / 1e6:.1f} MB gzip"
            )
    finally:
        stop_pid(pid)
        shutil.rmtree(work, ignore_errors=True)
    ids = [
        (message["stream"], message["record"]["id"])
        for line in result.stdout.splitlines()
        if (message := json.loads(line))["type"] == "RECORD"
    ]
    records, distinct = len(ids), len(set(ids))
    source = sum(stats["objects"][name] for name in args.streams.split(","))
    report = re.search(
        r"Stripe run report: (\d+) requests, retries by cause (\{.*?\})", result.stderr
    )
    requests = int(report.group(1)) if report else 0
    retries = sum(int(n) for n in re.findall(r": (\d+)", report.group(2))) if report else 0
    pages = requests - retries
    bound = pages / args.rps
    print(f"faults [{faults or 'none'}] injected {stats['faults']}")
    print(
        f"scale {args.scale}: {records:,} records ({args.streams}), {distinct:,} distinct ids, "
        f"sandbox {source:,}, duplicates {records - distinct}; {requests} requests, retries {report.group(2) if report else '?'}"
    )
    if not records == distinct == source:
        raise SystemExit("records, distinct ids and the sandbox's count differ")
    print(f"tap CPU {cpu:.1f}s: {records / cpu:,.0f} records per CPU second")
    print(
        f"wall {wall:.1f}s; rate-limit bound {bound:.1f}s ({pages} pages / {args.rps:g} per s); ratio {wall / bound:.2f}"
    )
    return wall, cpu


def cpu_of_children() -> float:
    """User + system seconds of the finished (reaped) child processes: taken around the
    tap's run only, as the stand-in server is reaped when it stops."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
