"""dbt's own result files folded into the check: `run_results.json` (models, tests,
seeds of the last `dbt build`) and `sources.json` (source freshness)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from elt_monitor.rules import CRITICAL, WARNING, Finding

FAILED = {"error": CRITICAL, "fail": CRITICAL, "runtime error": CRITICAL, "warn": WARNING}


def findings_from_run_results(results: dict[str, Any]) -> list[Finding]:
    """One finding per node that failed, errored or warned."""
    found = []
    for result in results.get("results", []):
        severity = FAILED.get(str(result.get("status")))
        if severity:
            node = str(result.get("unique_id"))
            code = "DBT_TEST_FAILED" if node.startswith("test.") else "DBT_NODE_FAILED"
            if severity == WARNING:
                code = "DBT_TEST_WARNING"
            message = str(result.get("message") or result.get("status"))[:300]
            found.append(Finding(code, severity, node, message, {"status": result.get("status")}))
    return found


def findings_from_sources(sources: dict[str, Any]) -> list[Finding]:
    found = []
    for result in sources.get("results", []):
        status = str(result.get("status"))
        if status in ("error", "runtime error"):
            found.append(
                Finding(
                    "DBT_SOURCE_STALE",
                    CRITICAL,
                    str(result.get("unique_id")),
                    f"source freshness {status}",
                )
            )
        elif status == "warn":
            found.append(
                Finding(
                    "DBT_SOURCE_STALE",
                    WARNING,
                    str(result.get("unique_id")),
                    "source freshness warn",
                )
            )
    return found


def findings(target_dir: Path) -> list[Finding]:
    """Findings from the files present; a missing or unreadable file is itself a finding
    (the check was asked to fold dbt in and cannot)."""
    found: list[Finding] = []
    run_results = target_dir / "run_results.json"
    if not run_results.exists():
        return [Finding("DBT_RESULTS_MISSING", WARNING, str(target_dir), "no run_results.json")]
    try:
        found += findings_from_run_results(json.loads(run_results.read_text()))
        sources = target_dir / "sources.json"
        if sources.exists():
            found += findings_from_sources(json.loads(sources.read_text()))
    except (json.JSONDecodeError, AttributeError) as error:
        found.append(
            Finding("DBT_RESULTS_MISSING", WARNING, str(target_dir), f"unreadable: {error}")
        )
    return found


def _time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def summary(target_dir: Path, since: dt.datetime) -> dict[str, Any]:
    """What dbt did in this job run (results written after `since`, the gate's time):
    counts by status and every node that did not pass, with its failing row count."""
    run_results = target_dir / "run_results.json"
    try:
        results = json.loads(run_results.read_text())
    except (OSError, json.JSONDecodeError):
        return {"ran": False}
    generated = _time((results.get("metadata") or {}).get("generated_at"))
    if generated is None or generated < since:
        return {"ran": False, "last_results_at": generated.isoformat() if generated else None}
    statuses: dict[str, int] = {}
    failing = []
    for result in results.get("results", []):
        status = str(result.get("status"))
        statuses[status] = statuses.get(status, 0) + 1
        if status not in ("pass", "success"):
            failing.append(
                {
                    "unique_id": result.get("unique_id"),
                    "status": status,
                    "failures": result.get("failures"),
                    "message": str(result.get("message") or "")[:300],
                }
            )
    return {
        "ran": True,
        "generated_at": generated.isoformat(),
        "invocation_id": (results.get("metadata") or {}).get("invocation_id"),
        "statuses": statuses,
        "not_passed": failing,
    }
