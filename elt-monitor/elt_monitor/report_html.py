"""The report page: one self-contained HTML file (inline CSS and SVG, no script, no
reference to anything outside the file), in the order a person reads it after a bad
night: what the verdict is and which marts users see, what happened run by run, what is
new, what dbt said, then the evidence (volumes in their bands, flagged columns) and the
history of each finding."""

from __future__ import annotations

from html import escape
from typing import Any

from elt_monitor.report_data import ReportData, RunMark
from elt_monitor.report_svg import chart, verdict_strip

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em 2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}h3{font-size:1em}
table{border-collapse:collapse;margin:.4em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
td.num{text-align:right}dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}
dt{color:#555}dd{margin:0}.muted{color:#666}.small{font-size:.9em}
.badge{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-weight:600}
.badge.sev-ok{background:#2e7d32}.badge.sev-warning{background:#ef6c00}
.badge.sev-critical{background:#c62828}.badge.sev-none{background:#9e9e9e}
rect.sev-ok{fill:#2e7d32}rect.sev-warning{fill:#ef6c00}rect.sev-critical{fill:#c62828}
rect.sev-none{fill:#bdbdbd}
.status-new{font-weight:600}.status-repeated{color:#666}
svg.chart{display:block;margin:.2em 0 1em}
.band{fill:#90caf9;fill-opacity:.45;stroke:none}.line{fill:none;stroke:#1565c0;stroke-width:1.5}
.point{fill:#1565c0}.point.out{fill:#c62828;r:4.5}.axis{stroke:#999}
.tick{font-size:10px;fill:#555}.caption{margin:.2em 0 0;font-size:.9em;color:#555}
#runs td:nth-child(-n+2){white-space:nowrap}
"""


def _badge(severity: str | None) -> str:
    name = severity or "none"
    text = severity or "no verdict"
    return f'<span class="badge sev-{escape(name)}">{escape(text)}</span>'


def _marts_line(marts: dict[str, Any] | None, timeline: list[RunMark]) -> str:
    if marts:
        state = "published by this run" if marts.get("published_this_run") else "NOT published"
        return (
            f"users see the marts of run <b>{escape(str(marts.get('as_of_run')))}</b> "
            f"({escape(str(marts.get('as_of')))}); this run's build: {state}"
        )
    published = [m for m in timeline if (m.marts or {}).get("published_this_run")]
    if published:
        return f"last published by job run {escape(published[-1].job_run_id)}"
    return "no write-audit-publish state recorded (marts are not published through it)"


def _header(data: ReportData) -> list[str]:
    latest = data.latest
    rows = [
        ("generated", data.generated_at),
        ("environment", data.environment),
        ("lake", data.lake),
        ("job", data.job),
        ("latest job run", f"{latest.get('job_run_id') or '-'} ({latest.get('stage') or '-'})"),
    ]
    out = [
        f"<h1>{escape(data.job)}: {_badge(data.severity)}</h1>",
        '<dl id="summary">',
        *(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in rows),
        f'<dt>marts</dt><dd id="marts">{_marts_line(latest.get("marts"), data.timeline)}</dd>',
        "</dl>",
    ]
    return out


def _finding_item(finding: dict[str, Any]) -> str:
    status = finding.get("status", "")
    return (
        f'<li class="finding status-{escape(status)}" data-code="{escape(finding["code"])}">'
        f"{_badge(finding['severity'])} <b>{escape(finding['code'])}</b> "
        f"{escape(finding['stream'])}: {escape(finding['message'])}"
        + (f' <span class="muted">({escape(status)})</span>' if status else "")
        + "</li>"
    )


def _latest_findings(latest: dict[str, Any]) -> list[str]:
    findings = latest.get("findings") or []
    new = [f for f in findings if f.get("status") != "repeated"]
    repeated = [f for f in findings if f.get("status") == "repeated"]
    out = ['<h2 id="findings">Findings of the latest run</h2>']
    if not findings:
        out.append("<p>none</p>")
    out += ["<ul>", *(_finding_item(f) for f in new), "</ul>"] if new else []
    if repeated:
        out += [
            f"<details><summary>{len(repeated)} repeated from the previous run</summary><ul>",
            *(_finding_item(f) for f in repeated),
            "</ul></details>",
        ]
    resolved = latest.get("resolved") or []
    if resolved:
        out.append(
            "<p>resolved since the previous run: "
            + ", ".join(f"{escape(r['code'])} {escape(r['stream'])}" for r in resolved)
            + "</p>"
        )
    acked = latest.get("acknowledged") or []
    if acked:
        out.append("<p>acknowledged (silenced):</p><ul>")
        for finding in acked:
            ack = finding.get("ack") or {}
            out.append(
                f'<li class="finding acknowledged">{escape(finding["code"])} '
                f"{escape(finding['stream'])}: {escape(ack.get('reason', ''))} "
                f'<span class="muted">by {escape(str(ack.get("by")))}, until '
                f"{escape(str(ack.get('until') or 'withdrawn'))}</span></li>"
            )
        out.append("</ul>")
    return out


def _dbt(dbt: dict[str, Any] | None) -> list[str]:
    out = ['<h2 id="dbt">dbt of the latest run</h2>']
    if not dbt:
        return [*out, "<p>not part of this verdict (the gate before dbt, or a job without dbt)</p>"]
    if not dbt.get("ran"):
        last = dbt.get("last_results_at")
        return [
            *out,
            "<p><b>dbt did not run in this job run</b>"
            + (f" (its last results are from {escape(str(last))})" if last else "")
            + "</p>",
        ]
    statuses = ", ".join(f"{n} {escape(s)}" for s, n in sorted(dbt["statuses"].items()))
    out.append(
        f'<p id="dbt-statuses">{statuses} <span class="muted">(results of '
        f"{escape(str(dbt.get('generated_at')))})</span></p>"
    )
    failing = dbt.get("not_passed") or []
    if failing:
        out.append(
            "<table><tr><th>node</th><th>status</th><th>failing rows</th><th>message</th></tr>"
        )
        out += [
            f'<tr class="dbt-node"><td>{escape(str(n["unique_id"]))}</td>'
            f"<td>{escape(str(n['status']))}</td>"
            f'<td class="num">{"" if n.get("failures") is None else n["failures"]}</td>'
            f"<td>{escape(str(n.get('message') or ''))}</td></tr>"
            for n in failing
        ]
        out.append("</table>")
    return out


def _timeline(marks: list[RunMark]) -> list[str]:
    out = [
        '<h2 id="job-runs">Job runs, newest first</h2>',
        '<table id="runs"><tr><th>checked</th><th>job run</th><th>verdict</th><th>stage</th>'
        "<th>findings</th><th>rows</th><th>marts</th></tr>",
    ]
    for mark in reversed(marks):  # newest first: last night on top
        codes = ", ".join(
            f"{escape(f['code'])} {escape(f['stream'])}"
            + (" (new)" if f.get("status") == "new" else "")
            for f in mark.findings
        )
        extra = []
        if mark.resolved:
            extra.append(f"{len(mark.resolved)} resolved")
        if mark.acknowledged:
            extra.append(f"{len(mark.acknowledged)} acknowledged")
        if extra:
            codes += f' <span class="muted">({", ".join(extra)})</span>'
        marts = ""
        if mark.marts:
            marts = "published" if mark.marts.get("published_this_run") else "not published"
        out.append(
            f'<tr class="run" data-run="{escape(mark.job_run_id)}" '
            f'data-severity="{escape(mark.severity or "none")}">'
            f"<td>{escape(mark.at[:19].replace('T', ' '))}</td><td>{escape(mark.job_run_id)}</td>"
            f"<td>{_badge(mark.severity)}</td><td>{escape(mark.stage or '')}</td>"
            f'<td class="codes">{codes}</td>'
            f'<td class="num">{"" if mark.rows is None else mark.rows}</td>'
            f"<td>{marts}</td></tr>"
        )
    out.append("</table>")
    return out


def _charts(data: ReportData) -> list[str]:
    out = [
        '<h2 id="volume">Volume by event date</h2>',
        '<p class="muted small">Rows per event date summed over every run, for the dates '
        "the incremental runs brought (the first load's year would flatten the chart). "
        "The band is the check's own: median and MAD of the same weekday (or of the last "
        "days), at least the count's Poisson spread. Red points are outside it.</p>",
    ]
    if not data.volumes:
        out.append("<p>no incremental run with event dates yet</p>")
    for series in data.volumes:
        out += [f'<h3 class="series">{escape(series.title)}</h3>', chart(series, "volume")]
    if data.full_loads:
        out.append('<h2 id="full-loads">Rows per full load</h2>')
        out.append(
            '<p class="muted small">The band\'s lower edge is where the check calls a drop.</p>'
        )
        for series in data.full_loads:
            out += [f'<h3 class="series">{escape(series.title)}</h3>', chart(series, "full-load")]
    out.append('<h2 id="columns">Flagged columns over time</h2>')
    if not data.columns:
        out.append("<p>no finding of the latest run names a column</p>")
    for item in data.columns:
        stream, column = escape(item.stream), escape(item.column)
        out.append(
            f'<h3 class="column" data-stream="{stream}" data-column="{column}">'
            f'{stream}.{column} <span class="muted">({escape(", ".join(item.codes))})</span></h3>'
        )
        for series in item.series:
            caption = series.title.rsplit(": ", 1)[-1]
            out += [f'<p class="caption">{escape(caption)}</p>', chart(series, "column")]
    return out


def _history(data: ReportData) -> list[str]:
    out = [
        '<h2 id="history">Findings history</h2>',
        "<table><tr><th>state</th><th>severity</th><th>code</th><th>stream</th>"
        "<th>first seen</th><th>last seen</th><th>runs</th><th>latest message</th></tr>",
    ]
    for item in data.finding_history:
        out.append(
            f'<tr class="history state-{escape(item.state)}"><td>{escape(item.state)}</td>'
            f"<td>{_badge(item.severity)}</td><td>{escape(item.code)}</td>"
            f"<td>{escape(item.stream)}</td><td>{escape(item.first_run)}</td>"
            f'<td>{escape(item.last_run)}</td><td class="num">{item.runs}</td>'
            f"<td>{escape(item.message)}</td></tr>"
        )
    out.append("</table>")
    return out


def _streams(data: ReportData) -> list[str]:
    out = [
        '<h2 id="streams">Streams, last load</h2>',
        "<table><tr><th>stream</th><th>kind</th><th>job run</th><th>tap read</th>"
        "<th>target committed</th><th>quarantined</th><th>duration s</th><th>severity</th></tr>",
    ]
    for row in data.streams:
        tap = "?" if row["tap_rows"] is None else row["tap_rows"]
        duration = "" if row["duration"] is None else f"{row['duration']:.1f}"
        run = row["run"] if row["latest"] else f"{row['run']} (not in the latest run)"
        out.append(
            f"<tr><td>{escape(row['stream'])}</td><td>{escape(row['kind'] or '')}</td>"
            f'<td>{escape(run)}</td><td class="num">{tap}</td>'
            f'<td class="num">{row["target_rows"]}</td>'
            f'<td class="num">{row["quarantine_rows"]}</td><td class="num">{duration}</td>'
            f"<td>{_badge(row['severity'])}</td></tr>"
        )
    out.append("</table>")
    return out


def render(data: ReportData) -> str:
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            # the file never loads anything: not even an image or a font by accident
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'\">",
            f"<title>elt-monitor: {escape(data.job)} {escape(data.severity)}</title>",
            f"<style>{CSS}</style></head><body>",
            *_header(data),
            '<h2 id="timeline">Verdict per job run</h2>',
            verdict_strip(data.timeline),
            '<p class="muted small">oldest left; the table of runs follows the latest '
            "run's findings and dbt results</p>",
            *_latest_findings(data.latest),
            *_dbt(data.latest.get("dbt")),
            *_timeline(data.timeline),
            *_charts(data),
            *_history(data),
            *_streams(data),
            "</body></html>",
        ]
    )
