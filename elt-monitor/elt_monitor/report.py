"""`status` (a terminal table) and `report` (one self-contained HTML file, inline SVG,
no network): what a data engineer looks at after a run."""

from __future__ import annotations

import html
from collections import defaultdict
from typing import Any

from elt_monitor.ledger import JOB_ROW
from elt_monitor.rules import Finding, comparable, job_runs, overall, rolling_median
from elt_monitor.settings import MonitorSettings

COLOURS = {"ok": "#2e7d32", "warning": "#ef6c00", "critical": "#c62828"}


def _latest_and_history(
    settings: MonitorSettings, rows: list[dict]
) -> tuple[list[str], dict[str, list[dict]]]:
    runs = job_runs(rows, settings.job)[-settings.history_runs :]
    per_stream: dict[str, list[dict]] = defaultdict(list)
    order = {run: i for i, run in enumerate(runs)}
    for row in rows:
        if row["job_run_id"] in order and row["stream"] != JOB_ROW:
            per_stream[f"{row['source']}/{row['stream']}"].append(row)
    for values in per_stream.values():
        values.sort(key=lambda r: (order[r["job_run_id"]], r["started_at"] or r["recorded_at"]))
    return runs, per_stream


def status_rows(
    settings: MonitorSettings, rows: list[dict], findings: list[Finding]
) -> list[dict[str, Any]]:
    runs, per_stream = _latest_and_history(settings, rows)
    latest = runs[-1] if runs else None
    table = []
    for name in sorted(per_stream):
        history = per_stream[name]
        now = [r for r in history if r["job_run_id"] == latest]
        current = now[-1] if now else None
        kind = current["run_kind"] if current else "?"
        same = [
            r["target_rows"]
            for r in history
            if r["job_run_id"] != latest
            and r["status"] == "success"
            and comparable(kind, r["run_kind"])
        ]
        median = rolling_median(same, settings.median_runs)
        rows_now = current["target_rows"] if current else None
        change = f"{(rows_now - median) / median:+.0%}" if median and rows_now is not None else "-"
        mine = [f for f in findings if f.stream == name]
        table.append(
            {
                "stream": name,
                "kind": kind,
                "rows": "-" if rows_now is None else str(rows_now),
                "median": "-" if median is None else f"{median:g}",
                "change": change,
                "severity": overall(mine),
                "codes": ",".join(sorted({f.code for f in mine})),
            }
        )
    return table


def status_text(
    settings: MonitorSettings, rows: list[dict], findings: list[Finding], history: list[dict]
) -> str:
    """The latest run as a table, its verdict and which run's marts users see; without any
    recorded run, a sentence that says so and what to check (never an empty table)."""
    if not job_runs(rows, settings.job):
        return (
            f"no recorded run of job '{settings.job}' in the ledger of {settings.lake_root}: "
            "run the job first, or check the job setting (ELT_MONITOR_JOB) and lake_root"
        )
    table = status_rows(settings, rows, findings)
    headers = ["stream", "kind", "rows", "median", "change", "severity", "codes"]
    widths = {h: max([len(h), *(len(str(r[h])) for r in table)]) for h in headers}
    lines = ["  ".join(h.ljust(widths[h]) for h in headers)]
    lines.append("  ".join("-" * widths[h] for h in headers))
    lines += ["  ".join(str(r[h]).ljust(widths[h]) for h in headers) for r in table]
    latest = history[-1] if history else None
    if latest:
        lines.append(
            f"verdict of run {latest['job_run_id']} ({latest['stage']}): {latest['severity']}"
        )
        published = [v for v in history if (v.get("marts") or {}).get("published_this_run")]
        if latest.get("marts"):
            marts = latest["marts"]
            lines.append(f"marts as of run {marts['as_of_run']} ({marts['as_of']})")
        elif published:
            lines.append(f"marts as of job run {published[-1]['job_run_id']}")
    lines.append(f"overall: {overall(findings)}")
    return "\n".join(lines)


def _sparkline(values: list[int], width: int = 240, height: int = 40) -> str:
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - v / top * (height - 4) - 2:.1f}" for i, v in enumerate(values)
    )
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
        f'<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="{points}"/></svg>'
    )


def html_report(
    settings: MonitorSettings, rows: list[dict], findings: list[Finding], history: list[dict]
) -> str:
    runs, per_stream = _latest_and_history(settings, rows)
    severity = overall(findings)
    esc = html.escape
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>elt-monitor: {esc(settings.job)}</title><style>",
        "body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:first-child{text-align:left}",
        "</style></head><body>",
        f"<h1>{esc(settings.job)}: <span style='color:{COLOURS[severity]}'>{severity}</span></h1>",
        f"<p>{len(runs)} job runs in the ledger; latest {esc(runs[-1] if runs else '-')}</p>",
        "<h2>Findings</h2><ul>",
        *(f"<li style='color:{COLOURS[f.severity]}'>{esc(f.line())}</li>" for f in findings),
        "</ul><h2>Streams</h2><table><tr><th>stream</th><th>rows per run</th><th>last rows</th>"
        "<th>tap read</th><th>target committed</th><th>quarantined</th><th>duration s</th>"
        "<th>severity</th></tr>",
    ]
    for name in sorted(per_stream):
        history = per_stream[name]
        last = history[-1]
        duration = (
            (last["finished_at"] - last["started_at"]).total_seconds()
            if last["finished_at"] and last["started_at"]
            else None
        )
        worst = overall(f for f in findings if f.stream == name)
        tap = "?" if last["tap_rows"] is None else last["tap_rows"]
        out.append(
            f"<tr><td>{esc(name)}</td><td>{_sparkline([r['target_rows'] for r in history])}</td>"
            f"<td>{last['target_rows']}</td><td>{tap}</td>"
            f"<td>{last['target_rows']}</td><td>{last['quarantine_rows'] or 0}</td>"
            f"<td>{'' if duration is None else f'{duration:.1f}'}</td>"
            f"<td style='color:{COLOURS[worst]}'>{worst}</td></tr>"
        )
    out.append(
        "</table><h2>Job runs</h2><table><tr><th>job run</th><th>rows</th><th>duration s</th></tr>"
    )
    for row in rows:
        if row["stream"] == JOB_ROW and row["job_run_id"] in runs:
            duration = (row["finished_at"] - row["started_at"]).total_seconds()
            out.append(
                f"<tr><td>{esc(row['job_run_id'])}</td><td>{row['target_rows']}</td><td>{duration:.1f}</td></tr>"
            )
    out.append("</table></body></html>")
    return "\n".join(out)
