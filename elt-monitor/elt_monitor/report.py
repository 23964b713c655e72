"""`status` (a terminal table) and `report` (one self-contained HTML file, inline SVG,
no network: report_data.py gathers, report_svg.py draws, report_html.py lays it out):
what a data engineer looks at after a run."""

from __future__ import annotations

from typing import Any

from elt_monitor import report_data, report_html
from elt_monitor.rules import Finding, comparable, job_runs, overall, rolling_median
from elt_monitor.settings import MonitorSettings


def status_rows(
    settings: MonitorSettings, rows: list[dict], findings: list[Finding]
) -> list[dict[str, Any]]:
    runs, per_stream = report_data.stream_rows(settings, rows)
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


def html_report(
    settings: MonitorSettings, rows: list[dict], findings: list[Finding], history: list[dict]
) -> str:
    """The report page (report_html.py) of what report_data.py gathers."""
    return report_html.render(report_data.build(settings, rows, findings, history))
