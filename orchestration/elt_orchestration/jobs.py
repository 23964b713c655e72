"""One Dagster job per Meltano job: one op that runs `meltano run <job>` (through
scripts/run_job.py) and, for a job that loads the lake, takes elt-monitor's verdict.

The job runs in the run worker's own process (in-process executor): it has one op, and
that op starts Meltano as a subprocess anyway, so a step process of its own would only
import Dagster and the code location a second time (seconds per run).

No `from __future__ import annotations` here: Dagster reads the ops' annotations (config
class, resources) at definition time, and string annotations inside a closure do not resolve.
"""

import tempfile
import time
from pathlib import Path

from dagster import (
    Config,
    ExecutorDefinition,
    Failure,
    JobDefinition,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    RetryPolicy,
    in_process_executor,
    job,
    op,
)
from pydantic import Field

from elt_orchestration import monitor
from elt_orchestration.meltano_project import MeltanoJob, dagster_name
from elt_orchestration.process import run_streaming
from elt_orchestration.resources import MeltanoProject
from elt_orchestration.run_policy import run_tags


class MeltanoRunConfig(Config):
    """Per-run settings; a schedule fills `env` from its meltano.yml `env:`."""

    env: dict[str, str] = Field(
        default_factory=dict, description="Variables added for this run (a schedule's env)."
    )


def build_job(
    meltano_job: MeltanoJob,
    retry_policy: RetryPolicy,
    executor: ExecutorDefinition = in_process_executor,
) -> JobDefinition:
    """The Dagster job of one Meltano job (named `dagster_name(meltano_job.name)`).

    A job that gates itself (an `elt-monitor:` task, e.g. `elt-monitor:gate` before dbt)
    is judged by its own last verdict, read from its output: critical fails the run for
    good with the findings (an attempt that exits 1 on the gate is not retried); an
    attempt that fails without a failing verdict (a kill, a tap error) is retried. A job
    that loads the lake without a gate is judged by `elt-monitor check --record` in the
    same op once it succeeded.
    """
    name = dagster_name(meltano_job.name)
    tasks = "\n".join(f"- {task}" for task in meltano_job.tasks)
    gated = monitor.MONITOR_UTILITY in meltano_job.plugins
    monitored = gated or monitor.LAKE_LOADER in meltano_job.plugins

    @op(
        name=f"{name}__meltano_run",
        description=f"`meltano run {meltano_job.name}` via scripts/run_job.py:\n{tasks}",
        retry_policy=retry_policy,
        out=Out(Nothing),
    )
    def meltano_run(context: OpExecutionContext, config: MeltanoRunConfig, meltano: MeltanoProject):
        command = meltano.run_job_command(meltano_job.name)
        attempt = context.retry_number + 1
        context.log.info(f"attempt {attempt}: {' '.join(command[1:])}")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="elt-verdict-") as scratch:
            verdict_file = Path(scratch) / "verdict.json"
            env = {**config.env, monitor.VERDICT_FILE_ENV: str(verdict_file)}
            code = run_streaming(
                context, command, cwd=meltano.project_root, env=meltano.environment(env)
            )
            # only a verdict this attempt wrote counts: the file is new for each attempt
            verdict = monitor.read_verdict(verdict_file)
        metadata = {
            "meltano_job": meltano_job.name,
            "attempt": attempt,
            "seconds": round(time.monotonic() - started, 2),
        }
        if code != 0:
            if gated and verdict is not None and verdict.is_gate_verdict:
                raise verdict.failure(meltano_job.name)
            raise Failure(
                description=f"meltano run {meltano_job.name} failed: exit code {code}",
                metadata={**metadata, "exit_code": code},
            )
        if monitored:
            report = verdict if gated else None
            if report is None:  # no gate, or it printed no verdict: ask elt-monitor
                report = monitor.check(meltano, meltano_job.name, not gated, config.env)
            if report.failed:
                raise report.failure(meltano_job.name)
            for line in report.lines():
                context.log.warning(line)
            metadata |= report.metadata()
        yield Output(None, metadata=metadata)

    @job(
        name=name,
        tags=run_tags(meltano_job),
        description=_description(meltano_job),
        executor_def=executor,
    )
    def meltano_job_def():
        meltano_run()

    return meltano_job_def


def _description(meltano_job: MeltanoJob) -> str:
    return (
        f"Meltano job `{meltano_job.name}` ({len(meltano_job.tasks)} task sets), from meltano.yml."
    )
