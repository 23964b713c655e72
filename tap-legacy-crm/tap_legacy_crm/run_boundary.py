"""Where a run stops reading: the earlier of this machine's clock and the API server's.

A run reads what the source holds up to a moment and bookmarks that moment. Taken from
the local clock alone, a machine running ahead of the API bookmarks a moment in the
source's future, and whatever the source creates between the run and that moment is
never read. The server's clock comes from the HTTP `Date` header of a response; the
round trip is taken off it (the server may have read its data that long before it
stamped the answer) and the header's whole seconds are already rounded down. Pure
functions, so that the rule can be tested without a server.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
from dataclasses import dataclass

SKEW_WORTH_LOGGING = 5.0  # seconds


@dataclass(frozen=True)
class RunBoundary:
    """The moment used (epoch seconds), with the clocks it came from."""

    moment: float
    local: float
    server: float | None  # the server's clock when it got the request; None: unknown


def parse_http_date(value: str | None) -> float | None:
    """An HTTP-date (`Date` header) as epoch seconds; None when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # RFC 9110 says GMT; a zone-less date is not trusted
        return None
    return parsed.timestamp()


def run_boundary(local: float, date_header: str | None, round_trip: float = 0.0) -> RunBoundary:
    """min(local clock, server clock at the request), the local clock when the server's
    is unknown. `local` is read before the request, `round_trip` its duration."""
    server = parse_http_date(date_header)
    if server is None:
        return RunBoundary(local, local, None)
    at_request = server - max(0.0, round_trip)
    return RunBoundary(min(local, at_request), local, at_request)


def log_boundary(logger: logging.Logger, boundary: RunBoundary, source: str) -> None:
    """WARNING when the server's clock is unknown; INFO when it is well behind ours."""

    def iso(epoch: float) -> str:
        return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")

    if boundary.server is None:
        logger.warning(
            "%s sent no readable Date header: the run's boundary is the local clock (%s); "
            "if this machine's clock runs ahead of the API's, objects created in between "
            "are not read",
            source,
            iso(boundary.local),
        )
    elif boundary.local - boundary.server > SKEW_WORTH_LOGGING:
        logger.info(
            "%s's clock is %.0fs behind the local one: run boundary %s (server %s, local %s)",
            source,
            boundary.local - boundary.server,
            iso(boundary.moment),
            iso(boundary.server),
            iso(boundary.local),
        )
