"""Webhook alerts: one per job run, Slack-compatible JSON (`text` and `blocks`, plus the
structured verdict).

Sent when the run's verdict reaches `alert_on` (warning by default: nothing on an ok
night), by the stage that ends the run: `finish` after dbt, or the gate when it stops the
job; the verdict records that it was sent, so no later stage sends another. Retried with
exponential backoff and full jitter on connection errors, timeouts, 429 and 5xx; a 4xx
other than 429 is not retried.
An alert never changes the gate's verdict: failures are logged, not raised. The URL is a
secret (Slack's carries its token), so it is never logged; logs say "the webhook".
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from elt_monitor.settings import SEVERITIES, MonitorSettings

log = logging.getLogger("elt_monitor.alerts")
RETRY_STATUS = {429, 500, 502, 503, 504}


def _finding_line(finding: dict) -> str:
    return (
        f"{finding['severity'].upper()} {finding['code']} {finding['stream']}: {finding['message']}"
    )


def _collapsed(findings: list[dict]) -> str:
    """Repeated findings in one line: each code with its streams."""
    by_code: dict[str, list[str]] = {}
    for finding in findings:
        by_code.setdefault(finding["code"], []).append(finding["stream"])
    return "; ".join(
        f"{code} x{len(streams)} ({', '.join(streams[:3])}{', ...' if len(streams) > 3 else ''})"
        for code, streams in by_code.items()
    )


def _dbt_text(dbt: dict | None) -> str:
    if not dbt:
        return "not part of this job"
    if not dbt.get("ran"):
        return "did not run in this job run"
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(dbt["statuses"].items()))
    lines = [statuses]
    for node in dbt["not_passed"][:10]:
        failures = f" ({node['failures']} rows)" if node.get("failures") else ""
        lines.append(f"{node['status']}: {node['unique_id']}{failures}")
    return "\n".join(lines)


def _marts_text(marts: dict | None) -> str:
    if not marts:
        return "no write-audit-publish state"
    state = "published by this run" if marts["published_this_run"] else "NOT published"
    return f"{state}; users see the marts of run {marts['as_of_run']} ({marts['as_of']})"


def payload(verdict: dict, report_path: str | None = None) -> dict:
    """One message per job run, Slack-compatible: a one-line `text` (notifications), then
    blocks: the run's facts as fields, dbt's results, new findings first, repeated ones
    collapsed to a line. The structured verdict rides along for other receivers."""
    findings = verdict["findings"]
    new = [f for f in findings if f["status"] == "new"]
    repeated = [f for f in findings if f["status"] != "new"]
    severity = verdict["severity"]
    title = (
        f"{verdict['job']} on {verdict['environment'] or '-'}: {severity.upper()} "
        f"({len(new)} new, {len(repeated)} repeated finding(s))"
    )
    fields = [
        ("Job", verdict["job"]),
        ("Environment", verdict["environment"] or "-"),
        ("Run", verdict["job_run_id"]),
        ("Checked", verdict["checked_at"]),
        ("Lake", verdict["lake"]),
        ("Verdict", severity.upper()),
    ]
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*dbt*\n{_dbt_text(verdict.get('dbt'))}"},
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*Marts*\n{_marts_text(verdict.get('marts'))}"},
        },
    ]
    if new:
        text = "\n".join(_finding_line(f) for f in new[:20])
        more = f"\n... and {len(new) - 20} more" if len(new) > 20 else ""
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*New*\n{text}{more}"[:2900]}}
        )
    if repeated:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Repeated*\n{_collapsed(repeated)}"[:2900]},
            }
        )
    if verdict.get("resolved"):
        resolved = ", ".join(f"{r['code']} {r['stream']}" for r in verdict["resolved"][:10])
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Resolved: {resolved}"}]}
        )
    if report_path:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Report: {report_path}"}]}
        )
    return {
        "text": title,
        "blocks": blocks,
        "job": verdict["job"],
        "job_run_id": verdict["job_run_id"],
        "severity": severity,
        "verdict": verdict,
    }


def due(settings: MonitorSettings, verdict: dict) -> bool:
    """This run's alert has not been sent and its severity reaches `alert_on`."""
    if (verdict.get("alert") or {}).get("sent"):
        return False
    return SEVERITIES.index(verdict["severity"]) >= SEVERITIES.index(settings.alert_on)


def send(
    settings: MonitorSettings,
    body: dict,
    sleep: Callable[[float], None] = time.sleep,
    base_seconds: float = 0.5,
) -> bool:
    """POST the alert; True when delivered. Never raises."""
    import requests  # only when an alert is due: it is most of the check's import time

    url = settings.alert_webhook_url
    if not url:
        return False
    for attempt in range(settings.alert_retries + 1):
        try:
            response = requests.post(url, json=body, timeout=settings.alert_timeout_seconds)
            if response.status_code < 300:
                return True
            reason = f"HTTP {response.status_code}"
            if response.status_code not in RETRY_STATUS:
                log.error("alert not delivered: the webhook answered %s (not retried)", reason)
                return False
        except requests.RequestException as error:
            reason = type(error).__name__  # the message would hold the URL
        if attempt < settings.alert_retries:
            wait = random.uniform(0, base_seconds * 2**attempt)
            log.warning(
                "alert: the webhook failed (%s), retry %d in %.1fs", reason, attempt + 1, wait
            )
            sleep(wait)
    log.error("alert not delivered after %d attempts (%s)", settings.alert_retries + 1, reason)
    return False
