"""Run the real tap-csv-marketing process."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.singer import run_singer

TAP = str(Path(sys.executable).parent / "tap-csv-marketing")


def run_csv_tap(config: dict, tmp_path: Path, state: dict | None = None, check: bool = True):
    """(records by stream, STATE values, completed process)."""
    run = run_singer(TAP, config, tmp_path, state=state, check=check)
    return run.records, run.states, run.result
