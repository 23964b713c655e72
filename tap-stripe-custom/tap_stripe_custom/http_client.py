"""The stripe library's requests client with one more step: check every response first.

The library assumes every error body is Stripe's (`{"error": {...}}`); a gateway's HTML
502 or `{"error": "text"}` makes it raise `AttributeError` before any retry policy can
see the status. So each response passes a `validate_response` hook here, while only the
status, headers and body are known, and retriable statuses never reach the library. The
last response's `Date` header and round trip are kept: the run's boundary uses the
server's clock (`run_boundary`).

The same place keeps raw payloads (`raw_payloads`): every body as the library received
it, with its outcome settled by `StripeApi` once the page checks ran (`settle`); and a
replay (`replay_run`) answers here from the recorded run, before any socket.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import stripe

from tap_stripe_custom.raw_payloads import RawPayloads, Replayer

Validator = Callable[[str, str, int, Mapping[str, str], bytes], None]


class CheckedRequestsClient(stripe.RequestsClient):
    """`stripe.RequestsClient` that hands (method, url, status, headers, body) to a hook."""

    def __init__(
        self, validate_response: Validator, raw: RawPayloads | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._validate_response = validate_response
        self.raw = raw or RawPayloads()
        self.pending: dict[str, Any] | None = None  # the last body, outcome not yet known
        self.last_date: str | None = None  # the last response's Date header
        self.last_round_trip = 0.0  # seconds

    def request(self, method, url, headers, post_data=None):
        self.settle(False, "superseded")  # a body nobody settled (a library error)
        requested_at, sent = dt.datetime.now(dt.UTC), time.monotonic()
        if isinstance(self.raw, Replayer):
            answer = self.raw.take(method, url)
            content, status, response_headers = answer.body, answer.status, answer.headers
        else:
            content, status, response_headers = super().request(method, url, headers, post_data)
        self.last_round_trip = time.monotonic() - sent
        self.last_date = response_headers.get("Date")
        self.pending = {
            "stream": urlsplit(url).path.rsplit("/", 1)[-1],
            "url": url,
            "method": method.upper(),
            "status": status,
            "body": content if isinstance(content, bytes) else str(content).encode(),
            "headers": dict(response_headers),
            "request_time": requested_at,
            "elapsed_seconds": round(self.last_round_trip, 6),
            "extraction_method": "api_json",
        }
        self._validate_response(method.upper(), url, status, response_headers, content)
        return content, status, response_headers

    def settle(self, accepted: bool, reason: str | None = None) -> None:
        """Keep the last body (raw payloads on) with its outcome: accepted, or the cause
        it was refused for (retriable status, replayed or invalid page...)."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self.raw.keep(**pending, accepted=accepted, reason=None if accepted else reason)
