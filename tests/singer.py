"""Run a real Singer tap process and sort what it printed, for every plugin's tests."""

from __future__ import annotations

import json
import signal
import subprocess
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SingerRun:
    result: subprocess.CompletedProcess
    messages: list[dict] = field(default_factory=list)
    records: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    states: list[dict] = field(default_factory=list)


def run_singer(
    executable: str,
    config: dict,
    tmp_path: Path,
    state: dict | None = None,
    extra: list[str] | None = None,
    check: bool = True,
) -> SingerRun:
    """`<executable> --config c.json [--state s.json]`, parsed message by message."""
    config_file = tmp_path / f"config-{uuid.uuid4().hex[:8]}.json"
    config_file.write_text(json.dumps(config))
    argv = [executable, "--config", str(config_file), *(extra or [])]
    if state is not None:
        state_file = tmp_path / f"state-{uuid.uuid4().hex[:8]}.json"
        state_file.write_text(json.dumps(state))
        argv += ["--state", str(state_file)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    run = SingerRun(result)
    for line in result.stdout.splitlines():
        message = json.loads(line)
        run.messages.append(message)
        if message["type"] == "RECORD":
            run.records[message["stream"]].append(message["record"])
        elif message["type"] == "STATE":
            run.states.append(message["value"])
    return run


def kill_after_state(
    executable: str,
    config: dict,
    tmp_path: Path,
    stream: str,
    key: str,
    resumable: Callable[[dict], bool],
    min_records: int,
) -> tuple[set, dict | None]:
    """Run a tap, SIGKILL it at the first resumable STATE after `min_records` records of
    `stream`; returns the keys it emitted and the last resumable STATE it printed."""
    config_file = tmp_path / f"kill-{uuid.uuid4().hex[:8]}.json"
    config_file.write_text(json.dumps(config))
    process = subprocess.Popen(
        [executable, "--config", str(config_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seen: set = set()
    state = None
    assert process.stdout is not None
    for line in process.stdout:
        message = json.loads(line)
        if message["type"] == "RECORD" and message["stream"] == stream:
            seen.add(message["record"][key])
        bookmark = message.get("value", {}).get("bookmarks", {}).get(stream, {})
        if message["type"] == "STATE" and resumable(bookmark):
            state = message["value"]
            if len(seen) >= min_records:
                process.send_signal(signal.SIGKILL)
                break
    process.wait(timeout=30)
    return seen, state
