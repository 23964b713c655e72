"""Run `scripts/run_job.py` from an op: its output kept with the run, read as it streams.

stdout is inherited and stderr (where Meltano logs, plugin output included) is copied
byte for byte to the op's own stderr, so Dagster's compute log manager keeps both with
the run (the step's stdout/stderr in the UI), exactly as an inherited descriptor would;
each stderr line is also handed to a reader (elt-monitor's verdicts). A run cancelled in
Dagster sends SIGINT to the job, then SIGKILL to its process group after a grace period.

Not Dagster Pipes: Meltano does not speak the Pipes protocol, so a Pipes session only
polled an empty message file (up to 1 s more per attempt) and warned on every run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import IO

from dagster import DagsterExecutionInterruptedError, OpExecutionContext

TERMINATION_GRACE_SECONDS = 20
STDERR = 2


def run_streaming(
    context: OpExecutionContext,
    command: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    on_stderr_line: Callable[[bytes], None],
) -> int:
    """Run `command` to its end and return its exit code."""
    process = subprocess.Popen(command, cwd=cwd, env=dict(env), stderr=subprocess.PIPE)
    assert process.stderr is not None
    copier = threading.Thread(
        target=_copy_lines, args=(process.stderr, on_stderr_line), daemon=True
    )
    copier.start()
    try:
        return process.wait()
    except DagsterExecutionInterruptedError:
        context.log.info(f"run interrupted: SIGINT to {command[-1]!r} (pid {process.pid})")
        _terminate(process)
        raise
    finally:
        # Output a surviving grandchild still holds open must not hold the op.
        copier.join(timeout=10)


def _copy_lines(stream: IO[bytes], on_line: Callable[[bytes], None]) -> None:
    with stream:
        for line in iter(stream.readline, b""):
            view = memoryview(line)
            while view:
                view = view[os.write(STDERR, view) :]
            on_line(line)


def _terminate(process: subprocess.Popen) -> None:
    """SIGINT (Meltano stops its plugins), then SIGKILL to the group run_job leads."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=TERMINATION_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # run_job made itself the group leader
        process.kill()
        process.wait()
