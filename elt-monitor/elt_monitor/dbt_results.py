"""dbt's own result files folded into the check: `run_results.json` (models, tests,
seeds of the last `dbt build`) and `sources.json` (source freshness)."""

from __future__ import annotations

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
