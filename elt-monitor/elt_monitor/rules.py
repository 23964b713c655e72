"""The checks, as pure functions of ledger rows: no I/O, so each rule is unit tested alone.

`evaluate` judges the latest job run of a job against that job's earlier runs. History
is compared like with like: an incremental stream's runs only with its earlier
incremental runs (never with the full first load), a full-table stream's with its earlier
full loads. Each finding has an alert code (the README's table) and a severity.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from elt_monitor.ledger import JOB_ROW, QUARANTINE_SUFFIX
from elt_monitor.settings import SEVERITIES, MonitorSettings, Thresholds

OK, WARNING, CRITICAL = SEVERITIES


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    stream: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.severity.upper():8} {self.code:22} {self.stream}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def overall(findings: Iterable[Finding]) -> str:
    worst = max((SEVERITIES.index(f.severity) for f in findings), default=0)
    return SEVERITIES[worst]


def exit_code(severity: str, fail_on: str) -> int:
    if fail_on == "never":
        return 0
    return 1 if SEVERITIES.index(severity) >= SEVERITIES.index(fail_on) else 0


# -- single-number rules ------------------------------------------------------------------


def rolling_median(values: Sequence[int], last: int) -> float | None:
    """Median of the last `last` values (oldest first), None without any."""
    window = list(values)[-last:]
    return statistics.median(window) if window else None


def drop_severity(current: int, median: float | None, limits: Thresholds) -> tuple[str, float]:
    """Severity of a row-count drop against the median, and the drop in percent."""
    if median is None or median < limits.min_median_rows or median <= 0:
        return OK, 0.0
    drop = (median - current) / median * 100
    if drop >= limits.critical_drop_pct:
        return CRITICAL, drop
    if drop >= limits.warn_drop_pct:
        return WARNING, drop
    return OK, drop


def stale(recent_rows: Sequence[int], runs: int) -> bool:
    """True when the last `runs` incremental runs (current included) brought no row."""
    window = list(recent_rows)[-runs:]
    return len(window) >= runs and all(rows == 0 for rows in window)


def quarantine_share(good: int, quarantined: int | None) -> float:
    total = good + (quarantined or 0)
    return (quarantined or 0) / total if total else 0.0


def emptied_files(
    current: dict[str, list[int]], earlier: Iterable[dict[str, list[int]]]
) -> list[str]:
    """Files read this run with no good row that had good rows in an earlier run."""
    had_rows = {path for files in earlier for path, (good, _) in files.items() if good > 0}
    return sorted(path for path, (good, _) in current.items() if good == 0 and path in had_rows)


def comparable(kind: str, earlier_kind: str) -> bool:
    """Like with like: incremental runs with incremental runs, full loads with full loads
    (a full stream's first load is one of its full loads)."""
    if kind == "incremental":
        return earlier_kind == "incremental"
    if kind == "full":
        return earlier_kind in ("full", "initial")
    return False


# -- the job run ---------------------------------------------------------------------------


def _name(row: dict[str, Any]) -> str:
    return f"{row['source']}/{row['stream']}"


def job_runs(rows: Iterable[dict[str, Any]], job: str) -> list[str]:
    """The job's runs, oldest first (by their job row)."""
    marks = [
        (r["recorded_at"], r["job_run_id"])
        for r in rows
        if r["stream"] == JOB_ROW and r["job"] == job
    ]
    return [run for _, run in sorted(marks)]


def evaluate(settings: MonitorSettings, rows: list[dict[str, Any]]) -> list[Finding]:
    """Findings for the latest run of `settings.job`."""
    runs = job_runs(rows, settings.job)
    if not runs:
        return [
            Finding("NO_RUN", CRITICAL, settings.job, "no recorded run of this job in the ledger")
        ]
    latest_id = runs[-1]
    earlier_ids = set(runs[:-1][-settings.history_runs :])
    by_stream_latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["job_run_id"] == latest_id and row["stream"] != JOB_ROW:
            name = _name(row)
            if name not in by_stream_latest or (row["started_at"], row["recorded_at"]) >= (
                by_stream_latest[name]["started_at"],
                by_stream_latest[name]["recorded_at"],
            ):
                by_stream_latest[name] = row
    history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["job_run_id"] in earlier_ids and row["stream"] != JOB_ROW:
            history[_name(row)].append(row)
    for values in history.values():
        values.sort(key=lambda r: (r["started_at"] or r["recorded_at"], r["recorded_at"]))

    findings: list[Finding] = []
    if not by_stream_latest:
        findings.append(
            Finding(
                "NO_STREAMS",
                CRITICAL,
                settings.job,
                "this run recorded no stream (nothing loaded, or lake_root is not where "
                "the loader writes)",
            )
        )
    expected = set(settings.expected_streams) | set(history)
    for name in sorted(expected - set(by_stream_latest)):
        findings.append(
            Finding("STREAM_MISSING", CRITICAL, name, "expected stream not loaded in this run")
        )
    for name, row in sorted(by_stream_latest.items()):
        findings.extend(judge_stream(settings, row, history.get(name, [])))
    return findings


def judge_stream(
    settings: MonitorSettings, row: dict[str, Any], history: list[dict[str, Any]]
) -> list[Finding]:
    """Every rule for one stream's latest run against its earlier runs (oldest first)."""
    name = _name(row)
    limits = settings.for_stream(row["source"], row["stream"])
    found: list[Finding] = []
    if row["status"] == "failed":
        return [Finding("STREAM_FAILED", CRITICAL, name, row["error"] or "the run failed")]
    if row["status"] == "running":
        return [Finding("STREAM_INCOMPLETE", CRITICAL, name, "the load has not finished")]
    rows = row["target_rows"]
    found.extend(reconcile(name, row))
    for change in json.loads(row["schema_change"] or "[]"):
        if change.get("removed"):
            found.append(
                Finding(
                    "SCHEMA_COLUMN_REMOVED",
                    WARNING,
                    name,
                    f"columns removed: {change['removed']}",
                    change,
                )
            )
        if change.get("changed"):
            found.append(
                Finding(
                    "SCHEMA_COLUMN_RETYPED",
                    WARNING,
                    name,
                    f"columns retyped: {change['changed']}",
                    change,
                )
            )
    if row["stream"].endswith(QUARANTINE_SUFFIX):
        return found  # judged through its parent's quarantine share
    kind = row["run_kind"]
    successes = [h for h in history if h["status"] == "success"]
    files_now = json.loads(row["tap_files"] or "{}")
    emptied = emptied_files(files_now, (json.loads(h["tap_files"] or "{}") for h in successes))
    if emptied:
        found.append(
            Finding(
                "ZERO_ROWS_FILE",
                CRITICAL,
                name,
                f"export file(s) with rows before now empty: {emptied}",
                {"files": emptied},
            )
        )
    snapshot = kind == "full" or (kind == "initial" and row.get("incremental") is False)
    if rows == 0 and snapshot and not files_now:
        found.append(Finding("ZERO_ROWS", CRITICAL, name, "snapshot loaded 0 rows"))
    same = [h["target_rows"] for h in successes if comparable(kind, h["run_kind"])]
    if len(same) >= settings.min_history_runs:
        median = rolling_median(same, settings.median_runs)
        severity, drop = drop_severity(rows, median, limits)
        if severity != OK:
            found.append(
                Finding(
                    f"ROW_DROP_{severity.upper()}",
                    severity,
                    name,
                    f"{rows} rows, {drop:.0f}% below the median {median:g} of the last "
                    f"{min(len(same), settings.median_runs)} {kind} runs",
                    {"rows": rows, "median": median, "drop_pct": round(drop, 1)},
                )
            )
    if kind == "incremental" and stale([*same, rows], limits.stale_runs):
        found.append(
            Finding("NO_NEW_ROWS", WARNING, name, f"no new rows for {limits.stale_runs} runs")
        )
    share = quarantine_share(rows, row["quarantine_rows"])
    if share > limits.quarantine_warn_share:
        found.append(
            Finding(
                "QUARANTINE_SHARE",
                WARNING,
                name,
                f"{row['quarantine_rows']} of {rows + row['quarantine_rows']} rows quarantined "
                f"({share:.1%} > {limits.quarantine_warn_share:.1%})",
                {"share": round(share, 4)},
            )
        )
    return found


def reconcile(name: str, row: dict[str, Any]) -> list[Finding]:
    """Rows the tap read vs rows the target received vs rows the target committed."""
    tap, received, committed = row["tap_rows"], row["target_received_rows"], row["target_rows"]
    details = {"tap_rows": tap, "target_received_rows": received, "target_rows": committed}
    if tap is None:
        return [
            Finding(
                "TAP_COUNT_UNKNOWN",
                WARNING,
                name,
                "no tap log found for this run: rows read cannot be reconciled",
                details,
            )
        ]
    if tap != committed or (received is not None and received != committed):
        return [
            Finding(
                "TAP_TARGET_MISMATCH",
                CRITICAL,
                name,
                f"tap read {tap} rows, target received {received}, committed {committed}",
                details,
            )
        ]
    return []
