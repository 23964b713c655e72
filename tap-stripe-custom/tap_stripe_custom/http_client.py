"""The stripe library's requests client with one more step: check every response first.

The library assumes every error body is Stripe's (`{"error": {...}}`); a gateway's HTML
502 or `{"error": "text"}` makes it raise `AttributeError` before any retry policy can
see the status. So each response passes a `validate_response` hook here, while only the
status, headers and body are known, and retriable statuses never reach the library. The
last response's `Date` header and round trip are kept: the run's boundary uses the
server's clock (`run_boundary`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import stripe

Validator = Callable[[str, str, int, Mapping[str, str], bytes], None]


class CheckedRequestsClient(stripe.RequestsClient):
    """`stripe.RequestsClient` that hands (method, url, status, headers, body) to a hook."""

    def __init__(self, validate_response: Validator, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._validate_response = validate_response
        self.last_date: str | None = None  # the last response's Date header
        self.last_round_trip = 0.0  # seconds

    def request(self, method, url, headers, post_data=None):
        sent = time.monotonic()
        content, status, response_headers = super().request(method, url, headers, post_data)
        self.last_round_trip = time.monotonic() - sent
        self.last_date = response_headers.get("Date")
        self._validate_response(method.upper(), url, status, response_headers, content)
        return content, status, response_headers
