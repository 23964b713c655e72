"""Run every benchmark in bench/ one after another (`./dev.sh bench [names...]`).

Each bench script prints its own table of rows/s (or wall time) and peak RSS side by side
with the peers it compares against; this runner only sequences them so that they never
compete for the two cores.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    scripts = sorted(
        path
        for path in BENCH_DIR.glob("*.py")
        if path.name != "run.py"
        and not path.name.startswith("_")
        and (not wanted or path.stem in wanted)
    )
    failures = 0
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(script)], cwd=BENCH_DIR.parent)
        print(f"=== {script.stem}: exit {result.returncode} in {time.monotonic() - started:.0f}s")
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
