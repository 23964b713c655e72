"""Webhook alerts: Slack-compatible JSON (`text`, plus the structured `findings`).

Sent on warning and critical (`alert_on`), retried with exponential backoff and full
jitter on connection errors, timeouts, 429 and 5xx; a 4xx other than 429 is not retried.
An alert never changes the gate's verdict: failures are logged, not raised. The URL is a
secret (Slack's carries its token), so it is never logged; logs say "the webhook".
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from elt_monitor.rules import Finding
from elt_monitor.settings import SEVERITIES, MonitorSettings

log = logging.getLogger("elt_monitor.alerts")
RETRY_STATUS = {429, 500, 502, 503, 504}


def payload(job: str, job_run_id: str, severity: str, findings: list[Finding]) -> dict:
    lines = "\n".join(f.line() for f in findings[:30])
    more = f"\n… and {len(findings) - 30} more" if len(findings) > 30 else ""
    return {
        "text": f"elt-monitor: job {job} run {job_run_id} is {severity.upper()}\n{lines}{more}",
        "job": job,
        "job_run_id": job_run_id,
        "severity": severity,
        "findings": [f.to_dict() for f in findings],
    }


def send(
    settings: MonitorSettings,
    body: dict,
    sleep: Callable[[float], None] = time.sleep,
    base_seconds: float = 0.5,
) -> bool:
    """POST the alert; True when delivered. Never raises."""
    import requests  # only when an alert is due: it is most of the check's import time

    url = settings.alert_webhook_url
    if not url or SEVERITIES.index(body["severity"]) < SEVERITIES.index(settings.alert_on):
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
