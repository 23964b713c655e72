"""Requests to Stripe through the official library, with our retry and rate policy.

The `stripe` library is not requests-based, so the SDK's RESTStream backoff hooks do not
apply; the same policy is expressed with `backoff` here. StripeClient defaults to zero
network retries and retries a 429 only when Stripe sends `Stripe-Should-Retry: true`, so
the library's own retries are switched off and every retriable failure (429 with or
without that header, 5xx, connection errors) goes through one policy: exponential
backoff with full jitter, capped, at least `Retry-After` when the server sends it.
401/403 fail at once with a message that never contains the key.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import backoff
import stripe

RETRIABLE = (stripe.RateLimitError, stripe.APIConnectionError, stripe.APIError)


class StripeAuthFailed(RuntimeError):
    """The API key was refused; the message names the account, never the key."""


def _cause(error: Exception) -> str:
    if isinstance(error, stripe.RateLimitError):
        return "429"
    if isinstance(error, stripe.APIConnectionError):
        return "connection"
    return f"{getattr(error, 'http_status', None) or 'api'}"


def _retry_after(error: Exception) -> float | None:
    headers = getattr(error, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class StripeApi:
    """List endpoints as pages of plain dicts, politely and persistently."""

    def __init__(self, config: dict[str, Any], logger: logging.Logger) -> None:
        self.logger = logger
        self.client = stripe.StripeClient(
            config["api_key"],
            stripe_account=config.get("account_id") or None,
            stripe_version=config.get("stripe_api_version") or None,
            base_addresses={"api": config.get("api_base") or "https://api.stripe.com"},
            max_network_retries=0,
        )
        self.max_tries = int(config.get("max_retries", 8)) + 1
        self.backoff_base = float(config.get("backoff_base_seconds", 0.5))
        self.backoff_cap = float(config.get("backoff_max_seconds", 30))
        rate = float(config.get("max_requests_per_second") or 0)
        self.min_interval = 1.0 / rate if rate > 0 else 0.0
        self._next_request_at = 0.0
        self.retries: Counter[str] = Counter()
        self.requests = 0

    def _wait_generator(self):
        """Full-jitter exponential waits; at least Retry-After when the error carries it."""
        attempt = 0
        error = yield  # backoff primes the generator, then sends each exception
        while True:
            ceiling = min(self.backoff_cap, self.backoff_base * 2**attempt)
            wait = random.uniform(0, ceiling)
            hinted = _retry_after(error) if error is not None else None
            if hinted is not None:
                wait = max(wait, min(hinted, self.backoff_cap))
            attempt += 1
            error = yield wait

    def _throttle(self) -> None:
        now = time.monotonic()
        if now < self._next_request_at:
            time.sleep(self._next_request_at - now)
        self._next_request_at = max(now, self._next_request_at) + self.min_interval

    def _on_backoff(self, details: dict) -> None:
        error = details["exception"]
        self.retries[_cause(error)] += 1
        self.logger.warning(
            "Stripe request failed (%s), retry %d in %.2fs",
            _cause(error),
            details["tries"],
            details["wait"],
        )

    def list_page(self, resource: str, params: dict[str, Any]) -> tuple[list[dict], bool]:
        """One page of `resource` as dicts, retried per the policy."""

        @backoff.on_exception(
            self._wait_generator,
            RETRIABLE,
            max_tries=self.max_tries,
            jitter=None,
            on_backoff=self._on_backoff,
        )
        def call():
            self._throttle()
            self.requests += 1
            # raw_request: the library's auth, headers and typed errors, without building
            # StripeObjects that would be turned straight back into dicts.
            return self.client.raw_request("get", f"/v1/{resource}", **params).data

        try:
            page = call()
        except (stripe.AuthenticationError, stripe.PermissionError) as error:
            raise StripeAuthFailed(
                f"Stripe refused the API key ({error.http_status}) for /v1/{resource}: check "
                "api_key (and account_id for Connect); the key is not shown here."
            ) from None
        return page["data"], bool(page["has_more"])

    def list_all(self, resource: str, params: dict[str, Any], page_size: int) -> Iterator[dict]:
        """Every object matching `params`, following starting_after until has_more is false."""
        cursor = None
        while True:
            query = {**params, "limit": page_size}
            if cursor:
                query["starting_after"] = cursor
            items, has_more = self.list_page(resource, query)
            yield from items
            if not has_more or not items:
                return
            cursor = items[-1]["id"]
