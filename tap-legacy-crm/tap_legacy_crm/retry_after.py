"""`Retry-After` in both of its HTTP forms (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.

A server that sends the date form means "not before then"; ignoring it and retrying early
only earns another 429.
"""

from __future__ import annotations

import datetime as dt
import email.utils


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait, or None when the header is absent or unreadable.

    A date in the past means "now" (0.0). `now` is for tests; it defaults to the UTC clock.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000" per RFC 5322: UTC of unknown origin
        moment = moment.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (moment - now).total_seconds())
