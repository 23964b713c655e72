"""elt-monitor's verdict in Dagster: its findings as run metadata, a critical finding as a
failure that is not retried (running the job again does not cure the data).

A job that gates itself (`elt-monitor:gate`, `elt-monitor:check-dbt` among its tasks)
prints its verdicts in Meltano's log; `VerdictReader` takes the last one from the job's
own output as it streams by, so no second elt-monitor process judges the run again.
`check` runs `meltano invoke elt-monitor check --json` for a job without a gate.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field

from dagster import Failure, MetadataValue

from elt_orchestration.resources import MeltanoProject

MONITOR_UTILITY = "elt-monitor"
LAKE_LOADER = "target-minio-parquet"  # the loader whose runs elt-monitor judges
NO_RUN = "NO_RUN"  # elt-monitor's finding when the ledger holds no run of the job
CRITICAL = "critical"
CHECK_TIMEOUT_SECONDS = 600

# elt-monitor's check output (elt_monitor.cli, rules.Finding.line), as Meltano logs it:
#   CRITICAL STREAM_MISSING         tap_legacy_crm/x: ...   one line per finding, then
#   elt-monitor check: job ecommerce-elt run 20261202T164756Z-db43546e: ok
_VERDICT = re.compile(r"elt-monitor check: job (\S+) run (\S+): (ok|warning|critical)\b")
_FINDING = re.compile(r"\b(WARNING|CRITICAL)\s+([A-Z][A-Z0-9_]+)\s+(\S+): (.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


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
            "elt_monitor_source": self.source,
        }

    def failure(self, meltano_job: str) -> Failure:
        return Failure(
            description=f"elt-monitor check of {meltano_job}: {self.severity}\n"
            + "\n".join(self.lines()),
            metadata=self.metadata(),
            allow_retries=False,
        )


@dataclass
class VerdictReader:
    """The last elt-monitor verdict in a `meltano run`'s log, fed line by line.

    Findings are the lines printed before their verdict line; Meltano's console format
    and its JSON format (the line's `event`) are read. `last` is None when the job printed
    no verdict (no check task ran, or it failed before one).
    """

    last: MonitorReport | None = None
    _findings: list[dict] = field(default_factory=list)

    def feed(self, raw: bytes) -> None:
        if b"elt-monitor" not in raw:  # Meltano names the plugin on each of its lines
            return
        line = _message(raw)
        if verdict := _VERDICT.search(line):
            job, run_id, severity = verdict.groups()
            self.last = MonitorReport(
                severity=severity,
                findings=self._findings,
                exit_code=1 if severity == CRITICAL else 0,
                source=f"the job's own elt-monitor task (job {job}, run {run_id})",
            )
            self._findings = []
        elif finding := _FINDING.search(line):
            severity, code, stream, message = finding.groups()
            self._findings.append(
                {"code": code, "severity": severity.lower(), "stream": stream, "message": message}
            )


def _message(raw: bytes) -> str:
    """The text of one Meltano log line: console format as it is, JSON's `event`."""
    line = _ANSI.sub("", raw.decode("utf-8", "replace")).rstrip("\r\n")
    if not line.startswith("{"):
        return line
    try:
        record = json.loads(line)
    except ValueError:
        return line
    return str(record.get("event", line)) if isinstance(record, dict) else line


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
