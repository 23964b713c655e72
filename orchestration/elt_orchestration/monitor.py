"""elt-monitor's verdict in Dagster: its findings as run metadata, a critical finding as a
failure that is not retried (running the job again does not cure the data).

A job that judges itself (`elt-monitor:gate`, `elt-monitor:finish` among its tasks)
writes each verdict as JSON to the file named by `ELT_VERDICT_FILE` (elt_monitor.cli),
which the op sets for its run and reads afterwards: the verdict travels as data, with the
monitor's own exit code (its `fail_on`), and no second elt-monitor process judges the run
again. `check` runs `meltano invoke elt-monitor check --json` for a job without a gate.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from dagster import Failure, MetadataValue

from elt_orchestration.resources import MeltanoProject

MONITOR_UTILITY = "elt-monitor"
LAKE_LOADER = "target-minio-parquet"  # the loader whose runs elt-monitor judges
NO_RUN = "NO_RUN"  # elt-monitor's finding when the ledger holds no run of the job
# Findings that say the run itself broke (a tap or target failed, the job was killed, dbt
# did not finish or its marts were not swapped in), not that the data is wrong: another
# attempt may cure them. MARTS_NOT_PUBLISHED is a consequence: beside a failed test (data)
# the run is a gate verdict, alone (a failed swap) or beside a node error it is retried.
RUN_FAILURE_CODES = frozenset(
    {
        NO_RUN,
        "STREAM_FAILED",
        "STREAM_INCOMPLETE",
        "DBT_NOT_RUN",
        "DBT_NODE_FAILED",
        "MARTS_NOT_PUBLISHED",
    }
)
CRITICAL = "critical"
CHECK_TIMEOUT_SECONDS = 600

# elt_monitor.cli.VERDICT_FILE_ENV: where each elt-monitor stage of a run writes its verdict
VERDICT_FILE_ENV = "ELT_VERDICT_FILE"


@dataclass(frozen=True)
class MonitorReport:
    severity: str
    findings: list[dict]
    exit_code: int
    source: str = "elt-monitor check --json"

    @property
    def failed(self) -> bool:
        """The monitor's own verdict (its `fail_on` setting: exit 1), or critical."""
        return self.exit_code != 0 or self.severity == CRITICAL

    @property
    def is_gate_verdict(self) -> bool:
        """A failing verdict about the data: one of its worst findings is not one of a
        broken run (RUN_FAILURE_CODES), which another attempt may cure and is retried."""
        return self.failed and any(
            f.get("code") not in RUN_FAILURE_CODES
            for f in self.findings
            if f.get("severity") == self.severity
        )

    def lines(self) -> list[str]:
        return [
            f"{str(f.get('severity', '')).upper()} {f.get('code', '')} {f.get('stream', '')}:"
            f" {f.get('message', '')}"
            for f in self.findings
        ]

    def metadata(self) -> dict:
        return {
            "elt_monitor_severity": self.severity,
            "elt_monitor_findings": MetadataValue.json(self.findings),
            "elt_monitor_source": self.source,
        }

    def failure(self, meltano_job: str) -> Failure:
        return Failure(
            description=f"elt-monitor check of {meltano_job}: {self.severity}\n"
            + "\n".join(self.lines()),
            metadata=self.metadata(),
            allow_retries=False,
        )


def read_verdict(path: Path) -> MonitorReport | None:
    """The last verdict a stage of this run wrote (None: no stage wrote one)."""
    try:
        verdict = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return MonitorReport(
        severity=str(verdict["severity"]),
        findings=list(verdict["findings"]),
        exit_code=int(verdict.get("exit_code", 1 if verdict["severity"] == CRITICAL else 0)),
        source=f"the job's own elt-monitor {verdict.get('stage')} "
        f"(job {verdict.get('job')}, run {verdict.get('job_run_id')})",
    )


def check(
    meltano: MeltanoProject, meltano_job: str, record: bool, env: dict[str, str] | None = None
) -> MonitorReport:
    """Judge the job's latest recorded run (`record`: append the lake's loads first)."""
    command = meltano.monitor_command(record)
    try:
        done = subprocess.run(
            command,
            cwd=meltano.project_root,
            # the ledger's job name: this job, not the utility's default
            env=meltano.environment({**(env or {}), "ELT_MONITOR_JOB": meltano_job}),
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        # not retried: a retry would run the whole Meltano job again
        raise Failure(
            description=f"`{' '.join(command[1:])}` did not end in {CHECK_TIMEOUT_SECONDS} s",
            allow_retries=False,
        ) from None
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
        severity, findings = str(report["severity"]), list(report["findings"])
    except (IndexError, KeyError, TypeError, json.JSONDecodeError):
        raise Failure(
            description=f"`{' '.join(command[1:])}` gave no JSON report (exit {done.returncode})",
            metadata={"stderr": done.stderr[-4000:]},
            allow_retries=False,
        ) from None
    return MonitorReport(severity, findings, done.returncode)
