"""A job run's verdict as data: `<lake>/_meta/verdicts/<job>/<job_run_id>.json`.

One file per job run, rewritten by each stage that judges it (the gate before dbt, then
`finish` with dbt's results and the publication of the marts). It is what the
orchestrator, the report, `rpt_ingestion_runs` and the alert read, so nothing downstream
parses the monitor's text. It carries the findings' memory against the job's previous
run (new / repeated, and which were resolved), the findings a person acknowledged
(`elt-monitor ack`: silenced until a date, with who and why), and whether this run's one
alert has been sent.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from elt_monitor.lake import Lake
from elt_monitor.rules import Finding, overall

VERDICT_DIR = "_meta/verdicts"
ACK_DIR = "_meta/acks"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Ack:
    """A known finding a person silenced: `code` on `stream` (`*`: every stream)."""

    code: str
    stream: str
    reason: str
    by: str
    at: str
    until: str | None = None  # ISO date, inclusive; None: until withdrawn

    def matches(self, finding: Finding, today: dt.date) -> bool:
        if self.until and dt.date.fromisoformat(self.until) < today:
            return False
        return self.code == finding.code and self.stream in ("*", finding.stream)


def add_ack(lake: Lake, code: str, stream: str, reason: str, until: str | None) -> Ack:
    if until:
        dt.date.fromisoformat(until)  # a bad date is refused before anything is written
    ack = Ack(code, stream, reason, getpass.getuser(), _now().isoformat(), until)
    lake.write_text(f"{ACK_DIR}/{uuid.uuid4().hex}.json", json.dumps(asdict(ack)))
    return ack


def read_acks(lake: Lake) -> list[Ack]:
    fields = set(Ack.__dataclass_fields__)
    return [Ack(**{k: v for k, v in e.items() if k in fields}) for e in lake.read_json(ACK_DIR)]


def path_for(job: str, job_run_id: str) -> str:
    return f"{VERDICT_DIR}/{job}/{job_run_id}.json"


def read(lake: Lake, job: str, job_run_id: str) -> dict[str, Any] | None:
    return lake.read_json_file(path_for(job, job_run_id))


def history(lake: Lake, job: str) -> list[dict[str, Any]]:
    """Every verdict of the job, oldest first (by job run id, which starts with its time)."""
    return sorted(lake.read_json(f"{VERDICT_DIR}/{job}"), key=lambda v: v["job_run_id"])


def previous(lake: Lake, job: str, job_run_id: str) -> dict[str, Any] | None:
    earlier = [v for v in history(lake, job) if v["job_run_id"] < job_run_id]
    return earlier[-1] if earlier else None


def build(
    *,
    job: str,
    job_run_id: str,
    environment: str,
    lake_uri: str,
    stage: str,
    findings: list[Finding],
    acks: list[Ack],
    before: dict[str, Any] | None,
    earlier_stage: dict[str, Any] | None = None,
    dbt: dict[str, Any] | None = None,
    marts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The verdict: acknowledged findings set aside, each other one marked new or
    repeated against the previous run's verdict, the previous run's findings that are
    gone listed as resolved."""
    today = _now().date()
    active, silenced = [], []
    for finding in findings:
        ack = next((a for a in acks if a.matches(finding, today)), None)
        if ack:
            silenced.append(finding.to_dict() | {"ack": asdict(ack)})
        else:
            active.append(finding)
    seen = {(f["code"], f["stream"]) for f in (before or {}).get("findings", [])}
    now_keys = {(f.code, f.stream) for f in active}
    marked = [
        f.to_dict() | {"status": "repeated" if (f.code, f.stream) in seen else "new"}
        for f in active
    ]
    # new first, then by severity: what a person reads first
    marked.sort(key=lambda f: (f["status"] != "new", f["severity"] != "critical"))
    resolved = sorted({(code, stream) for code, stream in seen if (code, stream) not in now_keys})
    return {
        "job": job,
        "job_run_id": job_run_id,
        "environment": environment,
        "lake": lake_uri,
        "stage": stage,
        "checked_at": _now().isoformat(),
        "severity": overall(active),
        "findings": marked,
        "resolved": [{"code": c, "stream": s} for c, s in resolved],
        "acknowledged": silenced,
        "dbt": dbt,
        "marts": marts,
        # one alert per job run: what an earlier stage of this run sent stays recorded
        "alert": (earlier_stage or {}).get("alert"),
    }


def write(lake: Lake, verdict: dict[str, Any]) -> str:
    return lake.write_text(
        path_for(verdict["job"], verdict["job_run_id"]), json.dumps(verdict, default=str)
    )
