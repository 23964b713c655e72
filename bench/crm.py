"""100,000 CRM records through faults: all distinct records delivered, wall time versus the
ideal (fault-free transfer time + the waits the faults force), for a few fault rates.

`--raw-payloads on` keeps every body (the tap's `raw_payloads`) in a temporary lake;
`--raw-payloads compare` measures the fault-free extract alternately without and with
it (`--repeat` pairs) and prints the medians and the overhead."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from elt_sandbox.crm_api.__main__ import DEFAULT_TOKEN
from elt_sandbox.crm_api.data import build
from elt_sandbox.runtime import SandboxHome, stop_pid
from elt_sandbox.services.crm_api import start_crm_server

BIN = Path(sys.executable).parent
PROFILES = {
    "no faults": [],
    "5% 5xx, 2% 429": ["--rate-5xx", "0.05", "--rate-429", "0.02", "--retry-after", "0.1"],
    "10% 5xx, 5% 429, 1% bad/dropped": ["--rate-5xx", "0.10", "--rate-429", "0.05", "--retry-after", "0.1",
                                        "--rate-malformed", "0.005", "--rate-drop", "0.005"],
}  # fmt: skip


def checksum(ids) -> str:
    return hashlib.sha256(",".join(str(i) for i in sorted(ids)).encode()).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--raw-payloads", choices=["off", "on", "compare"], default="off")
    parser.add_argument("--repeat", type=int, default=3, help="pairs of runs for compare")
    args = parser.parse_args()
    if args.raw_payloads == "compare":
        compare_raw_payloads(args)
        return
    expected = build(args.scale).distinct_ids
    work = Path(tempfile.mkdtemp(prefix="bench-crm-"))
    baseline = None
    print(
        f"{'profile':<36}{'records':>9}{'ids ok':>8}{'wall s':>8}{'waits s':>9}{'ideal s':>9}{'ratio':>7}"
    )
    for name, faults in PROFILES.items():
        pid, port = start_crm_server(
            SandboxHome(work), f"crm-bench-{len(name)}", args.scale, faults
        )
        config = {"api_url": f"http://127.0.0.1:{port}", "api_token": DEFAULT_TOKEN, "per_page": 500,
                  "backoff_base_seconds": 0.05, "backoff_max_seconds": 1, "max_retries": 10}  # fmt: skip
        if args.raw_payloads == "on":
            config |= {"raw_payloads": True, "raw_payloads_location": str(work / "lake")}
        (work / "config.json").write_text(json.dumps(config))
        started = time.monotonic()
        result = subprocess.run(
            [BIN / "tap-legacy-crm", "--config", work / "config.json"],
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - started
        stop_pid(pid)
        ids = [
            json.loads(line)["record"]["id"]
            for line in result.stdout.splitlines()
            if '"RECORD"' in line
        ]
        waits = sum(float(w) for w in re.findall(r"waiting ([0-9.]+)s\)", result.stderr))
        baseline = baseline if baseline is not None else wall
        ideal = baseline + waits
        ok = len(ids) == len(set(ids)) == len(expected) and checksum(ids) == checksum(expected)
        print(
            f"{name:<36}{len(ids):>9,}{'yes' if ok else 'NO':>8}{wall:>8.1f}{waits:>9.1f}{ideal:>9.1f}{wall / ideal:>7.2f}"
        )


def compare_raw_payloads(args: argparse.Namespace) -> None:
    """The fault-free extract without and with raw payloads, alternately (the machine's
    load drifts; alternating spreads it over both), checked and timed."""
    expected = build(args.scale).distinct_ids
    work = Path(tempfile.mkdtemp(prefix="bench-crm-raw-"))
    pid, port = start_crm_server(SandboxHome(work), "crm-bench-raw", args.scale, [])
    walls: dict[str, list[float]] = {"off": [], "on": []}
    cpus: dict[str, list[float]] = {"off": [], "on": []}  # the tap's own CPU: steadier
    kept = ""
    try:
        for attempt in range(args.repeat):
            for mode in ("off", "on"):
                lake = work / f"lake-{attempt}"
                config = {"api_url": f"http://127.0.0.1:{port}", "api_token": DEFAULT_TOKEN,
                          "per_page": 500, "raw_payloads": mode == "on",
                          "raw_payloads_location": str(lake)}  # fmt: skip
                (work / "config.json").write_text(json.dumps(config))
                started, before = time.monotonic(), cpu_of_children()
                result = subprocess.run([BIN / "tap-legacy-crm", "--config", work / "config.json"],
                                        capture_output=True, text=True, check=True)  # fmt: skip
                walls[mode].append(time.monotonic() - started)
                cpus[mode].append(cpu_of_children() - before)
                ids = [json.loads(line)["record"]["id"] for line in result.stdout.splitlines()
                       if '"RECORD"' in line]  # fmt: skip
                if checksum(ids) != checksum(expected) or len(ids) != len(expected):
                    raise SystemExit(f"raw_payloads {mode}: the records differ from the sandbox's")
                if mode == "on":
                    files = list(lake.rglob("*.json.gz"))
                    kept = f"{len(files)} payloads, {sum(f.stat().st_size for f in files) / 1e6:.1f} MB gzip"
                    shutil.rmtree(lake)
    finally:
        stop_pid(pid)
        shutil.rmtree(work, ignore_errors=True)
    off, on = statistics.median(walls["off"]), statistics.median(walls["on"])
    print(f"raw_payloads off: {' '.join(f'{w:.1f}' for w in walls['off'])} s (median {off:.1f})")
    print(
        f"raw_payloads on:  {' '.join(f'{w:.1f}' for w in walls['on'])} s (median {on:.1f}); kept {kept}"
    )
    cpu_off, cpu_on = statistics.median(cpus["off"]), statistics.median(cpus["on"])
    print(f"overhead {100 * (on / off - 1):+.1f}% wall ({len(expected):,} records); tap CPU "
          f"median {cpu_off:.2f} s off, {cpu_on:.2f} s on: {100 * (cpu_on / cpu_off - 1):+.1f}%")  # fmt: skip


def cpu_of_children() -> float:
    """User + system seconds of the finished child processes (the tap; the server is
    not a child of this process)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
