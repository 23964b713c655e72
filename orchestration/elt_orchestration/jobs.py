"""One Dagster job per Meltano job: one op that runs `meltano run <job>` (through
scripts/run_job.py) and, for a job that loads the lake, takes elt-monitor's verdict.

A job that produces assets (lineage.py: its bronze streams, and the dbt models for the job
that runs dbt-duckdb) is an asset job of one multi_asset whose op is that same op: after
the run it records a materialization per stream and model and elt-monitor's findings as
each stream's check. The other jobs are plain op jobs that record their loads as
materializations of the same bronze assets.

The job runs in the run worker's own process (in-process executor): it has one op, and
that op starts Meltano as a subprocess anyway, so a step process of its own would only
import Dagster and the code location a second time (seconds per run).

No `from __future__ import annotations` here: Dagster reads the ops' annotations (config
class, resources) at definition time, and string annotations inside a closure do not resolve.
"""

import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    AssetSpec,
    Config,
    ExecutorDefinition,
    Failure,
    JobDefinition,
    MaterializeResult,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    RetryPolicy,
    define_asset_job,
    in_process_executor,
    job,
    multi_asset,
    op,
)
from pydantic import Field

from elt_orchestration import lineage, monitor
from elt_orchestration.meltano_project import MeltanoJob, dagster_name
from elt_orchestration.process import run_streaming
from elt_orchestration.resources import MeltanoProject
from elt_orchestration.run_policy import run_tags


class MeltanoRunConfig(Config):
    """Per-run settings; a schedule fills `env` from its meltano.yml `env:`."""

    env: dict[str, str] = Field(
        default_factory=dict, description="Variables added for this run (a schedule's env)."
    )


@dataclass(frozen=True)
class Attempt:
    """One `meltano run` through run_job: its exit code and the verdict it wrote."""

    code: int
    verdict: monitor.MonitorReport | None
    metadata: dict

    def stopped_by_gate(self, gated: bool) -> bool:
        return (
            self.code != 0 and gated and self.verdict is not None and self.verdict.is_gate_verdict
        )


def run_attempt(
    context: OpExecutionContext,
    meltano_job: MeltanoJob,
    config: MeltanoRunConfig,
    meltano: MeltanoProject,
) -> Attempt:
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
    return Attempt(code, verdict, metadata)


def judge(
    context: OpExecutionContext,
    attempt: Attempt,
    meltano_job: MeltanoJob,
    config: MeltanoRunConfig,
    meltano: MeltanoProject,
) -> dict:
    """The run's metadata with elt-monitor's verdict, or the Failure that ends the attempt:
    a gate's verdict (not retried), any other non-zero exit (retried), a failing report."""
    gated = monitor.MONITOR_UTILITY in meltano_job.plugins
    monitored = gated or monitor.LAKE_LOADER in meltano_job.plugins
    if attempt.code != 0:
        if attempt.stopped_by_gate(gated):
            raise attempt.verdict.failure(meltano_job.name)  # type: ignore[union-attr]
        raise Failure(
            description=f"meltano run {meltano_job.name} failed: exit code {attempt.code}",
            metadata={**attempt.metadata, "exit_code": attempt.code},
        )
    metadata = dict(attempt.metadata)
    if monitored:
        report = attempt.verdict if gated else None
        if report is None:  # no gate, or it printed no verdict: ask elt-monitor
            report = monitor.check(meltano, meltano_job.name, not gated, config.env)
        if report.failed:
            raise report.failure(meltano_job.name)
        for line in report.lines():
            context.log.warning(line)
        metadata |= report.metadata()
    return metadata


def build_job(
    meltano_job: MeltanoJob,
    retry_policy: RetryPolicy,
    executor: ExecutorDefinition = in_process_executor,
    *,
    owned_streams: Sequence[str] = (),
    dbt_specs: Sequence[AssetSpec] = (),
) -> tuple[JobDefinition, AssetsDefinition | None]:
    """The Dagster job of one Meltano job (named `dagster_name(meltano_job.name)`), and its
    multi_asset when it produces assets (`owned_streams`, `dbt_specs`).

    A job that gates itself (an `elt-monitor:` task, e.g. `elt-monitor:gate` before dbt)
    is judged by its own last verdict, read from its output: critical fails the run for
    good with the findings (an attempt that exits 1 on the gate is not retried); an
    attempt that fails without a failing verdict (a kill, a tap error) is retried. A job
    that loads the lake without a gate is judged by `elt-monitor check --record` in the
    same op once it succeeded.
    """
    if owned_streams or dbt_specs:
        return _asset_job(meltano_job, retry_policy, executor, owned_streams, dbt_specs)
    return _op_job(meltano_job, retry_policy, executor), None


def _op_name(meltano_job: MeltanoJob) -> str:
    return f"{dagster_name(meltano_job.name)}__meltano_run"


def _description(meltano_job: MeltanoJob) -> str:
    tasks = "\n".join(f"- {task}" for task in meltano_job.tasks)
    return f"`meltano run {meltano_job.name}` via scripts/run_job.py:\n{tasks}"


def _op_job(
    meltano_job: MeltanoJob, retry_policy: RetryPolicy, executor: ExecutorDefinition
) -> JobDefinition:
    @op(
        name=_op_name(meltano_job),
        description=_description(meltano_job),
        retry_policy=retry_policy,
        out=Out(Nothing),
    )
    def meltano_run(context: OpExecutionContext, config: MeltanoRunConfig, meltano: MeltanoProject):
        attempt = run_attempt(context, meltano_job, config, meltano)
        metadata = judge(context, attempt, meltano_job, config, meltano)
        # streams another job's asset produces: this run's loads are theirs too
        for stream in meltano_job.streams:
            context.log_event(
                AssetMaterialization(
                    lineage.bronze_key(stream),
                    description=f"loaded by Meltano job {meltano_job.name}",
                    metadata={"meltano_job": meltano_job.name},
                )
            )
        yield Output(None, metadata=metadata)

    @job(
        name=dagster_name(meltano_job.name),
        tags=run_tags(meltano_job),
        description=_job_description(meltano_job),
        executor_def=executor,
    )
    def meltano_job_def():
        meltano_run()

    return meltano_job_def


def _asset_job(
    meltano_job: MeltanoJob,
    retry_policy: RetryPolicy,
    executor: ExecutorDefinition,
    owned_streams: Sequence[str],
    dbt_specs: Sequence[AssetSpec],
) -> tuple[JobDefinition, AssetsDefinition]:
    gated = monitor.MONITOR_UTILITY in meltano_job.plugins
    bronze = [lineage.bronze_spec(stream, meltano_job) for stream in owned_streams]
    checks = [lineage.gate_check(stream) for stream in owned_streams] if gated else []
    if gated:
        bronze.append(lineage.ledger_spec(meltano_job))
        checks.append(lineage.ledger_check())

    @multi_asset(
        name=_op_name(meltano_job),
        description=_description(meltano_job),
        specs=[*bronze, *dbt_specs],
        check_specs=checks,
        retry_policy=retry_policy,
        can_subset=False,
    )
    def meltano_assets(
        context: AssetExecutionContext, config: MeltanoRunConfig, meltano: MeltanoProject
    ) -> Iterator:
        op_context = context.op_execution_context
        attempt = run_attempt(op_context, meltano_job, config, meltano)
        failure = None
        try:
            metadata = judge(op_context, attempt, meltano_job, config, meltano)
        except Failure as error:
            metadata, failure = _run_metadata(attempt), error
        if attempt.code == 0 or attempt.stopped_by_gate(gated):  # the loads ran
            findings = attempt.verdict.findings if attempt.verdict else []
            for stream in owned_streams:
                yield MaterializeResult(asset_key=lineage.bronze_key(stream), metadata=metadata)
                if gated:
                    yield _gate_result(lineage.bronze_key(stream), findings_of(stream, findings))
            if gated:
                yield MaterializeResult(asset_key=lineage.LEDGER_KEY, metadata=metadata)
                placed = {f"{stream}" for stream in owned_streams}
                rest = [f for f in findings if f.get("stream") not in placed]
                verdict_failed = attempt.verdict is not None and attempt.verdict.failed
                yield _gate_result(lineage.LEDGER_KEY, rest, failed=verdict_failed)
        if attempt.code == 0:  # dbt published the models (wap exits 0 only then)
            for spec in dbt_specs:
                yield MaterializeResult(asset_key=spec.key, metadata=_run_metadata(attempt))
        if failure is not None:
            raise failure

    job_def = define_asset_job(
        name=dagster_name(meltano_job.name),
        selection=[meltano_assets],
        tags=run_tags(meltano_job),
        description=_job_description(meltano_job),
        executor_def=executor,
    )
    return job_def, meltano_assets


def _run_metadata(attempt: Attempt) -> dict:
    """What every materialization of a run carries (the verdict is the streams' checks)."""
    keep = ("meltano_job", "attempt", "seconds", "elt_monitor_severity", "elt_monitor_source")
    return {key: value for key, value in attempt.metadata.items() if key in keep}


def findings_of(stream: str, findings: Sequence[dict]) -> list[dict]:
    return [dict(f) for f in lineage.findings_of(stream, findings)]


def _gate_result(key: AssetKey, own: Sequence[dict], failed: bool = False) -> AssetCheckResult:
    """elt-monitor's findings on one asset as its gate check: passed when there are none
    (`failed`: the verdict failed the run, whatever these findings are)."""
    severity = lineage.check_severity(own)
    if failed:
        severity = AssetCheckSeverity.ERROR
    return AssetCheckResult(
        asset_key=key,
        check_name=lineage.GATE_CHECK,
        passed=severity is None,
        severity=severity or AssetCheckSeverity.WARN,
        metadata={
            "code": ", ".join(str(f.get("code")) for f in own) or "none",
            "message": "\n".join(str(f.get("message")) for f in own) or "no finding",
            "findings": MetadataValue.json(list(own)),
        },
    )


def _job_description(meltano_job: MeltanoJob) -> str:
    return (
        f"Meltano job `{meltano_job.name}` ({len(meltano_job.tasks)} task sets), from meltano.yml."
    )
