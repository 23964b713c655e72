"""Shared measurement: run a shell pipeline, sample the peak RSS of its process tree."""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass

import psutil


@dataclass
class Measurement:
    name: str
    rows: int
    seconds: float
    peak_rss_mb: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def run_measured(name: str, command: str, rows: int, env: dict | None = None) -> Measurement:
    """Run `command` (shell), return wall time and the peak summed RSS of its tree."""
    # stderr goes to a file: a pipe nobody reads would stall a chatty process
    with tempfile.TemporaryFile(mode="w+") as log:
        started = time.monotonic()
        # pipefail: a failing tap must fail the measurement, not hide behind its target
        process = subprocess.Popen(["bash", "-o", "pipefail", "-c", command], env=env,
                                   stdout=subprocess.DEVNULL, stderr=log, text=True)  # fmt: skip
        peak = 0
        parent = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)
        seconds = time.monotonic() - started
        if process.returncode != 0:
            log.seek(0)
            raise RuntimeError(f"{name} failed: {log.read()[-2000:]}")
    return Measurement(name, rows, seconds, peak / 1024 / 1024)


def print_table(results: list[Measurement], baseline: str | None = None) -> None:
    base = next((r for r in results if r.name == baseline), None)
    print(f"{'run':<44}{'rows':>10}{'seconds':>9}{'rows/s':>11}{'x limit':>9}{'peak MB':>9}")
    for r in results:
        ratio = f"{r.seconds / base.seconds:>9.2f}" if base else f"{'':>9}"
        print(
            f"{r.name:<44}{r.rows:>10,}{r.seconds:>9.2f}{r.rows_per_second:>11,.0f}{ratio}{r.peak_rss_mb:>9.0f}"
        )
