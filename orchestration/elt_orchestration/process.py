"""Run `scripts/run_job.py` from an op, its output kept with the run.

stdout and stderr (where Meltano logs, plugin output included) are inherited, so
Dagster's compute log manager keeps both with the run (the step's stdout/stderr in the
UI). Nothing reads the log: elt-monitor's verdict comes as a JSON file (monitor.py).

An interrupted run worker (the run cancelled in the UI, or SIGTERM to `dagster dev`'s
process group) sends SIGINT to the job's process group, SIGKILL after a grace period, and
fails the step without retries. Dagster turns an interrupt inside an op with a RetryPolicy
into a retry (`op_execution_error_boundary`): the run worker then started a new attempt,
in run_job's own process group that the group's SIGTERM never reached, 30 s later, and
`dagster dev` waited for it (seen: over 90 s to stop).

Not Dagster Pipes: Meltano does not speak the Pipes protocol, so a Pipes session only
polled an empty message file (up to 1 s more per attempt) and warned on every run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence

from dagster import DagsterExecutionInterruptedError, Failure, OpExecutionContext

# Meltano stops its block on SIGINT in ~1 s; 8 s keeps `dagster dev`'s whole stop under 15 s.
TERMINATION_GRACE_SECONDS = 8


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
        context.log.info(
            f"run interrupted: SIGINT to {' '.join(command[1:])!r} (pid {process.pid})"
        )
        _terminate(process)
        # not retried: an interrupt is a stop (cancel, shutdown), not a failure to cure
        shown = " ".join(command[1:])
        raise Failure(
            description=f"interrupted: {shown!r} stopped (exit {process.returncode})",
            allow_retries=False,
        ) from None


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
