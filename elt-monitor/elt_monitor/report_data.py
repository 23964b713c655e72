"""What the HTML report shows, as plain values: pure functions of the ledger rows, the
findings of the latest run and the job's verdict history (no I/O, no HTML).

The volume bands are the monitor's own: day totals, baselines, robust centre and count
bands come from `data_rules` (the same functions the check calls), so a point outside
its band in the report is a day the check judges off, not a second opinion.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from elt_monitor.data_rules import count_band, day_band, day_totals, profile_of, robust_center
from elt_monitor.ledger import JOB_ROW, QUARANTINE_SUFFIX
from elt_monitor.rules import Finding, comparable, job_runs, overall
from elt_monitor.settings import SEVERITIES, MonitorSettings

OK = SEVERITIES[0]


@dataclass(frozen=True)
class Point:
    """One value on a chart, with the band the monitor expects it in (None: no band yet,
    too little history)."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None
    note: str = ""

    @property
    def outside(self) -> bool:
        return (self.low is not None and self.value < self.low) or (
            self.high is not None and self.value > self.high
        )


@dataclass(frozen=True)
class Series:
    stream: str
    title: str
    points: list[Point]
    unit: str = "rows"


@dataclass(frozen=True)
class ColumnCharts:
    """A column a finding of the latest run names, and its profile over the runs."""

    stream: str
    column: str
    codes: list[str]
    series: list[Series]


@dataclass(frozen=True)
class RunMark:
    """One job run on the timeline: its verdict (None: recorded, never judged)."""

    job_run_id: str
    at: str
    severity: str | None
    stage: str | None
    findings: list[dict[str, Any]]
    resolved: list[dict[str, Any]]
    acknowledged: list[dict[str, Any]]
    marts: dict[str, Any] | None
    rows: int | None


@dataclass(frozen=True)
class FindingHistory:
    """One (code, stream) over the job's verdicts."""

    code: str
    stream: str
    severity: str  # the latest one
    message: str  # the latest one
    first_run: str
    last_run: str
    runs: int
    state: str  # new, repeated, resolved, acknowledged


@dataclass
class ReportData:
    job: str
    environment: str
    lake: str
    generated_at: str
    severity: str
    latest: dict[str, Any]  # the latest run's verdict (findings of this run if none)
    timeline: list[RunMark]
    volumes: list[Series]
    full_loads: list[Series]
    columns: list[ColumnCharts]
    finding_history: list[FindingHistory]
    streams: list[dict[str, Any]] = field(default_factory=list)


def _name(row: dict[str, Any]) -> str:
    return f"{row['source']}/{row['stream']}"


def stream_rows(settings: MonitorSettings, rows: list[dict]) -> tuple[list[str], dict[str, list]]:
    """The job's runs kept in the history window (oldest first) and each stream's rows in
    them, in run order."""
    runs = job_runs(rows, settings.job)[-settings.history_runs :]
    order = {run: i for i, run in enumerate(runs)}
    per_stream: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["job_run_id"] in order and row["stream"] != JOB_ROW:
            per_stream[_name(row)].append(row)
    for values in per_stream.values():
        values.sort(key=lambda r: (order[r["job_run_id"]], r["started_at"] or r["recorded_at"]))
    return runs, per_stream


def _successes(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["status"] == "success"]


def event_volume(settings: MonitorSettings, name: str, rows: list[dict]) -> Series | None:
    """Rows per event date, for the dates the stream's incremental runs brought (the
    first load's year of history would flatten the chart), each the day's total over
    every run as the check sums it, in the band the check puts it in: median and MAD of
    the day's baseline (same weekday when there is enough of it) widened to the count's
    Poisson spread, `spike_z` above and `volume_z` below."""
    good = _successes(rows)
    shown = {
        day
        for r in good
        if r["run_kind"] == "incremental" and (p := profile_of(r))
        for day in p.get("event_dates") or {}
    }
    if not shown:
        return None
    limits = settings.for_stream(*name.split("/", 1))
    totals = day_totals(p for r in good if (p := profile_of(r)))
    first = day_totals(p for r in good if r["run_kind"] == "initial" and (p := profile_of(r)))
    first_hwm = max(first, default=None)
    points = []
    for day in sorted(shown):
        band = day_band(totals, day, limits, first_hwm)
        low = high = None
        note = f"{day}: {totals[day]} rows"
        if band is not None:
            low, high = band.lower, band.upper
            note += f", expected {band.median:g} ({max(low, 0):.0f}..{high:.0f})"
        else:
            note += ", no band yet (fewer than 3 earlier days)"
        points.append(Point(day, float(totals[day]), low, high, note))
    return Series(name, f"{name}: rows by event date", points)


def full_load_volume(settings: MonitorSettings, name: str, rows: list[dict]) -> Series | None:
    """Rows per full load, with the bound below which the check calls it a drop: the
    median of the last `median_runs` earlier loads less the count band, and at least
    `warn_drop_pct` below the median."""
    good = [r for r in _successes(rows) if r["run_kind"] in ("full", "initial")]
    if not any(r["run_kind"] == "full" for r in good):
        return None
    limits = settings.for_stream(*name.split("/", 1))
    points = []
    for index, row in enumerate(good):
        window = [r["target_rows"] for r in good[:index]][-settings.median_runs :]
        low = high = None
        note = f"{row['job_run_id']}: {row['target_rows']} rows ({row['run_kind']})"
        if index and len(window) >= settings.min_history_runs:
            median, spread = robust_center(window)
            band = count_band(median, spread, limits.volume_z)
            low = min(median - band, median * (1 - limits.warn_drop_pct / 100))
            high = median + band
            note += f", median {median:g}, drop below {low:.0f}"
        points.append(Point(row["job_run_id"], float(row["target_rows"]), low, high, note))
    return Series(name, f"{name}: rows per full load", points)


def _column_values(
    profile: dict[str, Any], column: str, values: list[str]
) -> dict[str, float] | None:
    """A column's NULL share, its mean (numbers) and the share of each of `values` (text
    categories) in one run's profile; None when the run did not have the column."""
    entry = (profile.get("columns") or {}).get(column)
    rows = profile.get("rows") or 0
    if not entry or not rows:
        return None
    out = {"nulls": entry.get("nulls", 0) / rows}
    if entry.get("kind") in ("number", "decimal") and entry.get("count") and "sum" in entry:
        out["mean"] = float(entry["sum"]) / entry["count"]
    counted = entry.get("values")
    if counted:
        total = sum(counted.values())
        for value in values:
            out[f"value:{value}"] = counted.get(value, 0) / total
    return out


def column_profiles(
    name: str, column: str, rows: list[dict], values: Sequence[str] = ()
) -> list[Series]:
    """A flagged column per run, over the runs the check compares the latest one with
    (incremental with incremental, full loads with full loads): its NULL share, its mean
    when it is a number, and the share of each value a finding named (a new currency)."""
    good = _successes(rows)
    if not good:
        return []
    kind = good[-1]["run_kind"]
    chosen = [r for r in good[:-1] if comparable(kind, r["run_kind"])] + [good[-1]]
    titles = {"nulls": ("NULL share per run", "share"), "mean": ("mean per run", "mean")}
    titles |= {f"value:{v}": (f"share of {v!r} per run", "share") for v in values}
    points: dict[str, list[Point]] = defaultdict(list)
    for row in chosen:
        measured = (p := profile_of(row)) and _column_values(p, column, list(values))
        label = row["job_run_id"]
        for key, value in (measured or {}).items():
            text = f"{value:.1%}" if titles[key][1] == "share" else f"{value:.4g}"
            points[key].append(Point(label, value, note=f"{label}: {text}"))
    return [
        Series(name, f"{name}.{column}: {titles[key][0]}", points[key], unit=titles[key][1])
        for key in titles
        if points.get(key)
    ]


def timeline(runs: list[str], rows: list[dict], history: list[dict]) -> list[RunMark]:
    """Every job run in the window, with its verdict when it has one (and verdicts of
    runs already trimmed from the ledger, so the timeline never loses a bad night)."""
    job_rows = {r["job_run_id"]: r for r in rows if r["stream"] == JOB_ROW}
    verdicts = {v["job_run_id"]: v for v in history}
    marks = []
    for run in sorted(set(runs) | set(verdicts)):
        verdict = verdicts.get(run) or {}
        job_row = job_rows.get(run)
        at = verdict.get("checked_at") or (
            job_row["recorded_at"].isoformat() if job_row and job_row["recorded_at"] else ""
        )
        marks.append(
            RunMark(
                job_run_id=run,
                at=at,
                severity=verdict.get("severity"),
                stage=verdict.get("stage"),
                findings=verdict.get("findings") or [],
                resolved=verdict.get("resolved") or [],
                acknowledged=verdict.get("acknowledged") or [],
                marts=verdict.get("marts"),
                rows=job_row["target_rows"] if job_row else None,
            )
        )
    return marks


def finding_history(history: list[dict]) -> list[FindingHistory]:
    """Each (code, stream) the job's verdicts raised: when first and last, how often, and
    where it stands in the latest verdict (still new or repeated, acknowledged, or
    resolved)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for verdict in history:
        # acknowledged findings are shown but not counted as raised
        for part, counted in (("findings", 1), ("acknowledged", 0)):
            for finding in verdict.get(part) or []:
                key = (finding["code"], finding["stream"])
                entry = seen.setdefault(key, {"first": verdict["job_run_id"], "runs": 0})
                entry |= {
                    "last": verdict["job_run_id"],
                    "severity": finding["severity"],
                    "message": finding["message"],
                }
                entry["runs"] += counted
    latest = history[-1] if history else {}
    now = {(f["code"], f["stream"]): f["status"] for f in latest.get("findings") or []}
    acked = {(f["code"], f["stream"]) for f in latest.get("acknowledged") or []}
    out = []
    for (code, stream), entry in seen.items():
        key = (code, stream)
        state = now.get(key) or ("acknowledged" if key in acked else "resolved")
        out.append(
            FindingHistory(
                code,
                stream,
                entry["severity"],
                entry["message"],
                entry["first"],
                entry["last"],
                entry["runs"],
                state,
            )
        )
    order = {"new": 0, "repeated": 1, "acknowledged": 2, "resolved": 3}
    out.sort(key=lambda f: (order[f.state], f.severity != "critical", f.code, f.stream))
    return out


def _latest_verdict(runs: list[str], findings: list[Finding], history: list[dict]) -> dict:
    """The latest run's stored verdict; without one (recorded, not judged yet), the
    findings judged now in the verdict's shape."""
    if history and runs and history[-1]["job_run_id"] == runs[-1]:
        return history[-1]
    return {
        "job_run_id": runs[-1] if runs else None,
        "severity": overall(findings),
        "findings": [f.to_dict() | {"status": "new"} for f in findings],
        "resolved": [],
        "acknowledged": [],
        "dbt": None,
        "marts": None,
        "stage": "not judged yet",
    }


def _stream_table(runs: list[str], per_stream: dict[str, list], latest: dict) -> list[dict]:
    worst: dict[str, str] = {}
    for finding in latest.get("findings") or []:
        now = worst.get(finding["stream"], OK)
        if SEVERITIES.index(finding["severity"]) > SEVERITIES.index(now):
            worst[finding["stream"]] = finding["severity"]
    table = []
    for name in sorted(per_stream):
        last = per_stream[name][-1]
        duration = (
            (last["finished_at"] - last["started_at"]).total_seconds()
            if last["finished_at"] and last["started_at"]
            else None
        )
        table.append(
            {
                "stream": name,
                "kind": last["run_kind"],
                "run": last["job_run_id"],
                "latest": last["job_run_id"] == (runs[-1] if runs else None),
                "tap_rows": last["tap_rows"],
                "target_rows": last["target_rows"],
                "quarantine_rows": last["quarantine_rows"] or 0,
                "duration": duration,
                "severity": worst.get(name, OK),
            }
        )
    return table


def build(
    settings: MonitorSettings,
    rows: list[dict],
    findings: list[Finding],
    history: list[dict],
    now: dt.datetime | None = None,
) -> ReportData:
    runs, per_stream = stream_rows(settings, rows)
    latest = _latest_verdict(runs, findings, history)
    volumes, full_loads, columns = [], [], []
    for name in sorted(per_stream):
        if name.endswith(QUARANTINE_SUFFIX):
            continue  # judged through its parent's quarantine share
        series = event_volume(settings, name, per_stream[name])
        if series:
            volumes.append(series)
        series = full_load_volume(settings, name, per_stream[name])
        if series:
            full_loads.append(series)
    flagged: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for finding in latest.get("findings") or []:
        column = (finding.get("details") or {}).get("column")
        if column and finding["stream"] in per_stream:
            flagged[(finding["stream"], column)].append(finding)
    for (name, column), found in sorted(flagged.items()):
        values = sorted({str(f["details"]["value"]) for f in found if "value" in f["details"]})
        series = column_profiles(name, column, per_stream[name], values)
        if series:
            codes = sorted({f["code"] for f in found})
            columns.append(ColumnCharts(name, column, codes, series))
    return ReportData(
        job=settings.job,
        environment=latest.get("environment") or settings.environment or "-",
        lake=latest.get("lake") or settings.lake_root,
        generated_at=(now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        severity=latest["severity"],
        latest=latest,
        timeline=timeline(runs, rows, history),
        volumes=volumes,
        full_loads=full_loads,
        columns=columns,
        finding_history=finding_history(history),
        streams=_stream_table(runs, per_stream, latest),
    )
