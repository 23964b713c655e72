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

from elt_monitor import data_rules
from elt_monitor.data_rules import count_band, profile_of, robust_center
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


def drop_severity(
    current: int, median: float | None, limits: Thresholds, spread: float = 0.0
) -> tuple[str, float]:
    """Severity of a row-count drop against the median, and the drop in percent. A drop
    within the count's own noise (Poisson, or the history's spread) is no drop, so small
    streams are judged by bounds that fit them instead of being exempt."""
    if median is None or median < limits.min_median_rows or median <= 0:
        return OK, 0.0
    drop = (median - current) / median * 100
    if median - current <= count_band(median, spread, limits.volume_z):
        return OK, drop
    if drop >= limits.critical_drop_pct:
        return CRITICAL, drop
    if drop >= limits.warn_drop_pct:
        return WARNING, drop
    return OK, drop


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
    in_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["job_run_id"] == latest_id and row["stream"] != JOB_ROW:
            in_run[_name(row)].append(row)
    by_stream_latest: dict[str, dict[str, Any]] = {}
    for name, stream_rows in in_run.items():
        stream_rows.sort(key=lambda r: (r["started_at"] or r["recorded_at"], r["recorded_at"]))
        by_stream_latest[name] = _combined(stream_rows)
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
    latest_date = data_rules.job_latest_date(
        p for r in by_stream_latest.values() if r["status"] == "success" and (p := profile_of(r))
    )
    for name, row in sorted(by_stream_latest.items()):
        findings.extend(judge_stream(settings, row, history.get(name, []), latest_date))
    findings.extend(judge_related(settings, by_stream_latest, history))
    return findings


def _combined(stream_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One stream's target runs within one job run, as one: the last run's status, the
    counts and rows by event date of every committed run added up (each count unknown if
    one is). A job run killed and run again holds two target runs of a stream: every
    committed one is reconciled, and a re-run that finds nothing new is judged with what
    the killed attempt loaded."""
    last = stream_rows[-1]
    committed = [r for r in stream_rows if r["status"] == "success"]
    if len(stream_rows) == 1 or last["status"] != "success" or len(committed) < 2:
        return last

    def total(key: str) -> int | None:
        values = [r[key] for r in committed]
        return None if any(v is None for v in values) else sum(values)

    combined = dict(last) | {
        key: total(key) for key in ("tap_rows", "target_received_rows", "target_rows")
    }
    profiles = [p for r in committed if (p := profile_of(r))]
    if profiles:
        biggest = max(profiles, key=lambda p: p.get("rows") or 0)
        dates: dict[str, int] = defaultdict(int)
        for p in profiles:
            for day, count in (p.get("event_dates") or {}).items():
                dates[day] += count
        merged = dict(biggest) | {
            "rows": sum(p.get("rows") or 0 for p in profiles),
            "event_dates": dict(sorted(dates.items())),
        }
        combined["profile"], combined["_profile"] = json.dumps(merged), merged
    return combined


def _complete_before(row: dict[str, Any]) -> Any:
    """Event days before the run's start day (UTC) are complete; the run's own day may
    still be filling up."""
    started = row.get("started_at") or row.get("recorded_at")
    return started.date()


def _profiles(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for r in rows if r["status"] == "success" and (p := profile_of(r))]


def judge_related(
    settings: MonitorSettings,
    latest: dict[str, dict[str, Any]],
    history: dict[str, list[dict[str, Any]]],
) -> list[Finding]:
    found = []
    for lead, follow in settings.related_streams:
        if lead not in latest or follow not in latest:
            continue
        lead_now = profile_of(latest[lead])
        # a following stream that committed nothing has no profile: it brought no row
        follow_now = profile_of(latest[follow]) or {"rows": 0, "event_dates": {}}
        if not lead_now or latest[follow]["run_kind"] != "incremental":
            continue
        limits = settings.for_stream(*follow.split("/", 1))
        for issue in data_rules.related_days(
            _profiles(history.get(lead, [])),
            lead_now,
            _profiles(history.get(follow, [])),
            follow_now,
            limits,
            _complete_before(latest[follow]),
        ):
            details = issue.details | {"related_stream": lead}
            found.append(Finding(issue.code, issue.severity, follow, issue.message, details))
    return found


def judge_stream(
    settings: MonitorSettings,
    row: dict[str, Any],
    history: list[dict[str, Any]],
    job_latest: str | None = None,
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
    if kind == "full" and len(same) >= settings.min_history_runs:
        window = same[-settings.median_runs :]
        median, spread = robust_center(window)
        severity, drop = drop_severity(rows, median, limits, spread)
        if severity != OK:
            found.append(
                Finding(
                    f"ROW_DROP_{severity.upper()}",
                    severity,
                    name,
                    f"{rows} rows, {drop:.0f}% below the median {median:g} of the last "
                    f"{len(window)} full loads",
                    {"rows": rows, "median": median, "drop_pct": round(drop, 1)},
                )
            )
    found.extend(_data_findings(name, row, successes, kind, limits, job_latest))
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


def _data_findings(
    name: str,
    row: dict[str, Any],
    successes: list[dict[str, Any]],
    kind: str,
    limits: Thresholds,
    job_latest: str | None = None,
) -> list[Finding]:
    """The column-profile rules (data_rules.py) for one stream's run."""
    issues = data_rules.source_deletes(row.get("source_rows"), row.get("lake_keys"))
    issues += data_rules.orphans(json.loads(row.get("orphans") or "[]"), limits)
    if kind == "incremental":
        issues += data_rules.activity(
            [h["target_rows"] for h in successes if h["run_kind"] == "incremental"],
            row["target_rows"],
            limits,
        )
    profile = profile_of(row)
    if profile is not None and profile.get("rows"):
        everything = _profiles(successes)
        same_kind = _profiles(h for h in successes if comparable(kind, h["run_kind"]))
        if kind == "incremental":
            first = _profiles(h for h in successes if h["run_kind"] == "initial")
            first_hwm = max(data_rules.day_totals(first), default=None)
            starts = [h["started_at"] for h in successes if h.get("started_at")]
            issues += data_rules.volume_by_day(
                everything,
                profile,
                limits,
                _complete_before(row),
                first_hwm,
                max(starts).date() if starts else None,
            )
            issues += data_rules.event_dates_out_of_range(everything, profile, limits, job_latest)
        issues += data_rules.duplicate_keys(everything, profile)
        issues += data_rules.null_shares(same_kind, profile, limits)
        issues += data_rules.numeric_means(same_kind, profile, limits)
        issues += data_rules.categories(everything, profile, limits)
        issues += data_rules.event_hours(same_kind, profile, limits)
    return [Finding(i.code, i.severity, name, i.message, i.details) for i in issues]


def reconcile(name: str, row: dict[str, Any]) -> list[Finding]:
    """Rows the tap read vs rows the target received vs rows the target committed."""
    tap, received, committed = row["tap_rows"], row["target_received_rows"], row["target_rows"]
    details = {"tap_rows": tap, "target_received_rows": received, "target_rows": committed}
    if tap is None:
        return [
            Finding(
                "TAP_COUNT_UNKNOWN",
                CRITICAL,
                name,
                "the tap's count for this run was not found (no log block names the "
                "target's run id): rows read cannot be reconciled, so the run is not verified",
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
