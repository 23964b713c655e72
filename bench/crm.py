"""100,000 CRM records through faults: all distinct records delivered, wall time versus the
ideal (fault-free transfer time + the waits the faults force), for a few fault rates."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
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
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
