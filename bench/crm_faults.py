"""tap-legacy-crm at scale 1 (~100,000 customers) against the sandbox CRM with its faults
turned up: 5xx, 429 (Retry-After in seconds and as an HTTP-date), pages answered with page
N-1's body, replayed responses, truncated bodies and a gateway's HTML 502s, on 5 seeds.

Pass: every id delivered (distinct, checksum equal) with exit 0, or a non-zero exit whose
error names the page. Wall time is compared with a fault-free run at the same scale
(goal: within 1.5x); the fault-free run is repeated at the end to show the machine's noise.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from elt_sandbox.crm_api.__main__ import DEFAULT_TOKEN
from elt_sandbox.crm_api.data import build
from elt_sandbox.runtime import SandboxHome, stop_pid
from elt_sandbox.services.crm_api import start_crm_server

BIN = Path(sys.executable).parent
SEEDS = (1, 2, 3, 4, 5)
FAULTS = ["--rate-5xx", "0.05", "--rate-429", "0.03", "--retry-after", "0.2",
          "--retry-after-style", "mixed", "--rate-wrong-page", "0.03", "--rate-replay", "0.03",
          "--rate-truncated", "0.02", "--rate-gateway", "0.02"]  # fmt: skip
CONFIG = {"api_token": DEFAULT_TOKEN, "per_page": 500, "request_timeout": 10,
          "backoff_base_seconds": 0.05, "backoff_max_seconds": 1, "max_retries": 10}  # fmt: skip


def checksum(ids) -> str:
    return hashlib.sha256(",".join(str(i) for i in sorted(ids)).encode()).hexdigest()[:12]


def run_tap(work: Path, scale: float, name: str, flags: list[str]) -> dict:
    pid, port = start_crm_server(SandboxHome(work), name, scale, flags)
    base = f"http://127.0.0.1:{port}"
    try:
        config = work / f"{name}.json"
        config.write_text(json.dumps({"api_url": base, **CONFIG}))
        started = time.monotonic()
        result = subprocess.run(
            [BIN / "tap-legacy-crm", "--config", config], capture_output=True, text=True
        )
        wall = time.monotonic() - started
        faults = requests.get(f"{base}/_sandbox/stats", timeout=10).json()["faults"]
    finally:
        stop_pid(pid)
    ids = [json.loads(line)["record"]["id"] for line in result.stdout.splitlines()
           if line.startswith('{"type":"RECORD"') or '"RECORD"' in line[:30]]  # fmt: skip
    causes = re.findall(r"retries_by_cause=(\{[^}]*\})", result.stderr)
    failure = re.findall(r"(page \d+ \(per_page.*|NOT RECONCILED.*)", result.stderr)
    return {
        "exit": result.returncode,
        "ids": ids,
        "wall": wall,
        "waits": sum(float(w) for w in re.findall(r"waiting ([0-9.]+)s\)", result.stderr)),
        "causes": ast.literal_eval(causes[-1]) if causes else {},
        "injected": {k: v for k, v in faults.items() if k != "requests"},
        "requests": faults.get("requests", 0),
        "failure": failure[-1] if failure else "",
        "reconciled": "reconciled=yes" in result.stderr,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seeds", type=int, nargs="*", default=list(SEEDS))
    args = parser.parse_args()
    expected = build(args.scale).distinct_ids
    work = Path(tempfile.mkdtemp(prefix="bench-crm-faults-"))
    ok_all = True
    try:
        baseline = run_tap(work, args.scale, "crm-clean", [])
        assert baseline["exit"] == 0 and checksum(baseline["ids"]) == checksum(expected)
        print(f"fault-free: {len(baseline['ids']):,} ids in {baseline['wall']:.1f}s")
        print(f"{'seed':<6}{'exit':>5}{'ids':>9}{'all ids':>8}{'recon':>6}{'requests':>9}"
              f"{'wall s':>8}{'waits s':>8}{'x clean':>8}  retries by cause / failure")  # fmt: skip
        for seed in args.seeds:
            run = run_tap(work, args.scale, f"crm-seed-{seed}", [*FAULTS, "--seed", str(seed)])
            complete = (
                run["exit"] == 0
                and len(run["ids"]) == len(set(run["ids"])) == len(expected)
                and checksum(run["ids"]) == checksum(expected)
                and run["reconciled"]
            )
            named = run["exit"] != 0 and re.search(r"page \d+", run["failure"])
            ok_all &= bool(complete or named)
            print(
                f"{seed:<6}{run['exit']:>5}{len(run['ids']):>9,}{'yes' if complete else 'NO':>8}"
                f"{'yes' if run['reconciled'] else 'no':>6}{run['requests']:>9}{run['wall']:>8.1f}"
                f"{run['waits']:>8.1f}{run['wall'] / baseline['wall']:>8.2f}  "
                f"{run['causes']} {run['failure']}"
            )
            print(f"{'':<6}injected: {run['injected']}")
        again = run_tap(work, args.scale, "crm-clean-again", [])
        print(
            f"fault-free again: {again['wall']:.1f}s (noise: {again['wall'] / baseline['wall']:.2f}x)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok_all else 1


if __name__ == "__main__":
    raise SystemExit(main())
