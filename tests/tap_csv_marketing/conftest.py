"""Run the real tap-csv-marketing process and sort its output by stream."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import defaultdict
from pathlib import Path

TAP = str(Path(sys.executable).parent / "tap-csv-marketing")


def run_csv_tap(
    config: dict, tmp_path: Path, state: dict | None = None, check: bool = True
) -> tuple[dict[str, list[dict]], list[dict], subprocess.CompletedProcess]:
    config_file = tmp_path / f"csv-{uuid.uuid4().hex[:6]}.json"
    config_file.write_text(json.dumps(config))
    argv = [TAP, "--config", str(config_file)]
    if state is not None:
        state_file = tmp_path / f"state-{uuid.uuid4().hex[:6]}.json"
        state_file.write_text(json.dumps(state))
        argv += ["--state", str(state_file)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    by_stream: dict[str, list[dict]] = defaultdict(list)
    states = []
    for line in result.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            by_stream[message["stream"]].append(message["record"])
        elif message["type"] == "STATE":
            states.append(message["value"])
    return by_stream, states, result
