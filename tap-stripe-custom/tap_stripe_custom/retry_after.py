"""`Retry-After` as the seconds to wait: delta-seconds or an HTTP-date (RFC 9110 10.2.3)."""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import time


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait before the next request, or None when absent or unreadable.

    Gateways and Stripe send either `120` or `Wed, 21 Oct 2026 07:28:00 GMT`; a date in
    the past means "now" (0). `now` (epoch seconds) is for tests; the clock otherwise.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:  # "-0000" means UTC without a claim about local time
            moment = moment.replace(tzinfo=dt.UTC)
        current = time.time() if now is None else now
        return max(0.0, moment.timestamp() - current)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
