"""One Dagster job per Meltano job: `meltano run <job>` through Dagster Pipes, then, for a
job that loads the lake, `elt-monitor check` of what it loaded.

No `from __future__ import annotations` here: Dagster reads the ops' annotations (config
class, resources) at definition time, and string annotations inside a closure do not resolve.
"""

import re
import time

from dagster import (
    Config,
    Failure,
    In,
    JobDefinition,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    PipesSubprocessClient,
    RetryPolicy,
    job,
    op,
)
from dagster._core.errors import DagsterPipesExecutionError
from pydantic import Field

from elt_orchestration import monitor
from elt_orchestration.meltano_project import MeltanoJob, dagster_name
from elt_orchestration.resources import MeltanoProject
from elt_orchestration.run_policy import run_tags


class MeltanoRunConfig(Config):
    """Per-run settings; a schedule fills `env` from its meltano.yml `env:`."""

    env: dict[str, str] = Field(
        default_factory=dict, description="Variables added for this run (a schedule's env)."
    )


def build_job(meltano_job: MeltanoJob, retry_policy: RetryPolicy) -> JobDefinition:
    """The Dagster job of one Meltano job (named `dagster_name(meltano_job.name)`).

    When the Meltano job gates itself (an `elt-monitor:` task, e.g. `elt-monitor:gate`
    before dbt), an attempt that exits 1 asks elt-monitor for its verdict on the latest
    recorded run: critical fails the run for good with the findings; anything else (a
    kill, a tap error before anything was recorded) is retried. A job that loads the lake
    without a gate gets an `elt-monitor check --record` step after it.
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
    def meltano_run(
        context: OpExecutionContext,
        config: MeltanoRunConfig,
        meltano: MeltanoProject,
        pipes_subprocess_client: PipesSubprocessClient,
    ):
        command = meltano.run_job_command(meltano_job.name)
        attempt = context.retry_number + 1
        context.log.info(f"attempt {attempt}: {' '.join(command[1:])}")
        started = time.monotonic()
        try:
            # stdout/stderr are inherited: Dagster's compute log manager keeps them with
            # the run (the step's stdout/stderr in the UI).
            pipes_subprocess_client.run(
                context=context,
                command=command,
                cwd=meltano.project_root,
                env=meltano.environment(config.env),
            )
        except DagsterPipesExecutionError as error:
            seconds = round(time.monotonic() - started, 2)
            if gated and _exit_code(error) == 1:
                verdict = monitor.check(meltano, meltano_job.name, record=False)
                if verdict.is_gate_verdict:
                    raise verdict.failure(meltano_job.name) from error
            raise Failure(
                description=f"meltano run {meltano_job.name} failed: {error}",
                metadata={"meltano_job": meltano_job.name, "attempt": attempt, "seconds": seconds},
            ) from error
        seconds = round(time.monotonic() - started, 2)
        yield Output(
            None, metadata={"meltano_job": meltano_job.name, "attempt": attempt, "seconds": seconds}
        )

    if not monitored:

        @job(name=name, tags=run_tags(meltano_job), description=_description(meltano_job))
        def run_only():
            meltano_run()

        return run_only

    @op(
        name=f"{name}__elt_monitor_check",
        description="`elt-monitor check` of the run just loaded; critical fails the run.",
        ins={"after": In(Nothing)},
    )
    def elt_monitor_check(context: OpExecutionContext, meltano: MeltanoProject):
        # A gated job recorded its loads itself; record again and the run counts twice.
        report = monitor.check(meltano, meltano_job.name, record=not gated)
        if report.failed:
            raise report.failure(meltano_job.name)
        for line in report.lines():
            context.log.warning(line)
        context.add_output_metadata(report.metadata())

    @job(name=name, tags=run_tags(meltano_job), description=_description(meltano_job))
    def run_and_check():
        elt_monitor_check(after=meltano_run())

    return run_and_check


def _exit_code(error: DagsterPipesExecutionError) -> int | None:
    """The subprocess's exit code from Pipes' message ("... failed with code N")."""
    match = re.search(r"code (-?\d+)", str(error))
    return int(match.group(1)) if match else None


def _description(meltano_job: MeltanoJob) -> str:
    return (
        f"Meltano job `{meltano_job.name}` ({len(meltano_job.tasks)} task sets), from meltano.yml."
    )
