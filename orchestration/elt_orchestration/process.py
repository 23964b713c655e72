"""Run `scripts/run_job.py` from an op, its output kept with the run.

stdout and stderr (where Meltano logs, plugin output included) are inherited, so
Dagster's compute log manager keeps both with the run (the step's stdout/stderr in the
UI). Nothing reads the log: elt-monitor's verdict comes as a JSON file (monitor.py). A run
cancelled in Dagster sends SIGINT to the job's process group, then SIGKILL after a grace
period.

Not Dagster Pipes: Meltano does not speak the Pipes protocol, so a Pipes session only
polled an empty message file (up to 1 s more per attempt) and warned on every run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence

from dagster import DagsterExecutionInterruptedError, OpExecutionContext

TERMINATION_GRACE_SECONDS = 20


def run_streaming(
    context: OpExecutionContext,
    command: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
) -> int:
    """Run `command` to its end and return its exit code. Its output goes to the op's
    own stdout and stderr, which Dagster captures as the run's compute logs."""
    process = subprocess.Popen(command, cwd=cwd, env=dict(env))
    try:
        return process.wait()
    except DagsterExecutionInterruptedError:
        context.log.info(f"run interrupted: SIGINT to {command[-1]!r} (pid {process.pid})")
        _terminate(process)
        raise


def _terminate(process: subprocess.Popen) -> None:
    """SIGINT to the group run_job leads (Meltano stops its plugins; run_job itself
    ignores it), then SIGKILL to the group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=TERMINATION_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # run_job made itself the group leader
        process.kill()
        process.wait()
