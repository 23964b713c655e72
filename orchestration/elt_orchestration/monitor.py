"""`elt-monitor check` from Dagster: its JSON report as run metadata, a critical finding as
a failure that is not retried (running the job again does not cure the data)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from dagster import Failure, MetadataValue

from elt_orchestration.resources import MeltanoProject

MONITOR_UTILITY = "elt-monitor"
LAKE_LOADER = "target-minio-parquet"  # the loader whose runs elt-monitor judges
NO_RUN = "NO_RUN"  # elt-monitor's finding when the ledger holds no run of the job


@dataclass(frozen=True)
class MonitorReport:
    severity: str
    findings: list[dict]
    exit_code: int

    @property
    def failed(self) -> bool:
        """The monitor's own verdict (its `fail_on` setting): exit 1."""
        return self.exit_code != 0

    @property
    def is_gate_verdict(self) -> bool:
        """A failing verdict on a recorded run; "no recorded run" (NO_RUN) is not one:
        the job failed before its gate, so the failure is the job's own."""
        return self.failed and any(f.get("code") != NO_RUN for f in self.findings)

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
        }

    def failure(self, meltano_job: str) -> Failure:
        return Failure(
            description=f"elt-monitor check of {meltano_job}: {self.severity}\n"
            + "\n".join(self.lines()),
            metadata=self.metadata(),
            allow_retries=False,
        )


def check(meltano: MeltanoProject, meltano_job: str, record: bool) -> MonitorReport:
    """Judge the job's latest recorded run (`record`: append the lake's loads first)."""
    command = meltano.monitor_command(record)
    done = subprocess.run(
        command,
        cwd=meltano.project_root,
        # the ledger's job name: this job, not the utility's default
        env=meltano.environment({"ELT_MONITOR_JOB": meltano_job}),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
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
