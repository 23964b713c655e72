"""Requests to Stripe through the official library, with our retry and rate policy.

The `stripe` library is not requests-based, so the SDK's RESTStream does not apply; its
policy shape does: `validate_response` sorts every response by HTTP status into fine,
retriable or fatal (whatever the body: a gateway's HTML 502 is retried like Stripe's own
503), `validate_page` checks that a page is the one asked for (it moves the cursor and
brings unseen ids, inside the requested window), and `backoff_wait_generator` /
`backoff_max_tries` decide the waits: exponential with full jitter, capped, at least
`Retry-After` (seconds or HTTP-date). Each is a method a subclass can override alone.
The library's own retries are off. Retries are counted by cause for the run report.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import backoff
import stripe

from tap_stripe_custom.errors import (
    InvalidPage,
    ReplayedPage,
    RetriableStripeError,
    StripeAuthFailed,
    StripeRequestFailed,
)
from tap_stripe_custom.http_client import CheckedRequestsClient
from tap_stripe_custom.raw_payloads import RawPayloads
from tap_stripe_custom.retry_after import parse_retry_after
from tap_stripe_custom.run_boundary import RunBoundary, log_boundary, run_boundary


def is_stripe_error_body(body: bytes) -> bool:
    """Stripe's error shape: a JSON object whose `error` is an object."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(parsed, dict) and isinstance(parsed.get("error"), dict)


def describe_body(headers: Mapping[str, str], body: bytes) -> str:
    """A short, secret-free description of an error body for messages."""
    kind = (headers.get("Content-Type") or "no content type").split(";")[0]
    return f"{kind} body" + ("" if is_stripe_error_body(body) else ", not Stripe's")


class StripeApi:
    """List endpoints as pages of plain dicts, politely and persistently."""

    def __init__(
        self, config: Mapping[str, Any], logger: logging.Logger, raw: RawPayloads | None = None
    ) -> None:
        self.logger = logger
        self.http_client = CheckedRequestsClient(self.validate_response, raw)
        self.client = stripe.StripeClient(
            config["api_key"],
            stripe_account=config.get("account_id") or None,
            stripe_version=config.get("stripe_api_version") or None,
            base_addresses={"api": config.get("api_base") or "https://api.stripe.com"},
            max_network_retries=0,
            http_client=self.http_client,
        )
        self.max_retries = int(config.get("max_retries", 8))
        self.backoff_base = float(config.get("backoff_base_seconds", 0.5))
        self.backoff_cap = float(config.get("backoff_max_seconds", 30))
        rate = float(config.get("max_requests_per_second") or 0)
        self.min_interval = 1.0 / rate if rate > 0 else 0.0
        self._next_request_at = 0.0
        self.retries: Counter[str] = Counter()
        self.requests = 0

    # -- policy hooks -----------------------------------------------------------------------

    def is_retriable_status(self, status: int) -> bool:
        """409 (lock timeout), 429 and every 5xx are worth asking again."""
        return status in (409, 429) or status >= 500

    def validate_response(
        self, method: str, url: str, status: int, headers: Mapping[str, str], body: bytes
    ) -> None:
        """Sort one HTTP response before the stripe library reads it.

        2xx and Stripe-shaped 4xx go on to the library (which raises its typed errors);
        a retriable status raises `RetriableStripeError` whatever the body; any other
        status with a body that is not Stripe's is fatal, naming status and endpoint.
        """
        if 200 <= status < 300:
            return
        endpoint = urlsplit(url).path
        if self.is_retriable_status(status):
            raise RetriableStripeError(
                f"HTTP {status} ({describe_body(headers, body)})",
                cause=str(status),
                retry_after=parse_retry_after(headers.get("Retry-After")),
            )
        if not is_stripe_error_body(body):
            raise StripeRequestFailed(
                f"Stripe {method} {endpoint} failed: HTTP {status} ({describe_body(headers, body)})"
            )

    def validate_page(
        self, page: Any, cursor: str | None, seen: set[str], created: Mapping[str, int]
    ) -> None:
        """Check a 2xx list answer is the page asked for; raise a retriable error if not.

        A page must be a list envelope of objects with ids, must bring only ids unseen in
        this listing and end past the cursor (else it is a replay), may be empty only at
        the end, and its objects must lie in the requested `created` window.
        """
        if not (
            isinstance(page, dict)
            and isinstance(page.get("data"), list)
            and isinstance(page.get("has_more"), bool)
            and all(isinstance(o, dict) and isinstance(o.get("id"), str) for o in page["data"])
        ):
            raise InvalidPage("the answer is not a Stripe list envelope")
        items = page["data"]
        if not items:
            if page["has_more"]:
                raise InvalidPage("an empty page says has_more")
            return
        if items[-1]["id"] == cursor or any(item["id"] in seen for item in items):
            raise ReplayedPage(f"a replayed page for starting_after={cursor}")
        low, high = created.get("gte"), created.get("lt")
        for item in items:
            when = item.get("created")
            if (
                not isinstance(when, int)
                or (low is not None and when < low)
                or (high is not None and when >= high)
            ):
                raise InvalidPage(f"{item['id']} lies outside the requested created window")

    def backoff_max_tries(self) -> int:
        return self.max_retries + 1

    def backoff_wait_generator(self) -> Generator[float, Exception | None, None]:
        """Full-jitter exponential waits, capped; at least Retry-After when sent."""
        attempt = 0
        error = yield 0.0  # backoff primes the generator, then sends each exception
        while True:
            ceiling = min(self.backoff_cap, self.backoff_base * 2**attempt)
            wait = random.uniform(0, ceiling)
            hinted = getattr(error, "retry_after", None)
            if hinted is not None:
                wait = max(wait, min(hinted, self.backoff_cap))
            attempt += 1
            error = yield wait

    # -- requests ---------------------------------------------------------------------------

    def _throttle(self) -> None:
        now = time.monotonic()
        if now < self._next_request_at:
            time.sleep(self._next_request_at - now)
        self._next_request_at = max(now, self._next_request_at) + self.min_interval

    def _on_backoff(self, details: dict) -> None:
        error = details["exception"]
        self.retries[error.cause] += 1
        self.logger.warning(
            "Stripe request failed (%s: %s), retry %d in %.2fs",
            error.cause,
            error,
            details["tries"],
            details["wait"],
        )

    def _get(self, endpoint: str, params: dict[str, Any]) -> Any:
        """One GET through the library; its errors mapped onto retriable or fatal."""
        self._throttle()
        self.requests += 1
        try:
            # raw_request: the library's auth, headers and typed errors, without building
            # StripeObjects that would be turned straight back into dicts.
            return self.client.raw_request("get", endpoint, **params).data
        except stripe.APIConnectionError as error:
            raise RetriableStripeError(
                f"connection error: {error.user_message}", cause="connection"
            ) from None
        except (stripe.AuthenticationError, stripe.PermissionError) as error:
            raise StripeAuthFailed(
                f"Stripe refused the API key ({error.http_status}) for {endpoint}: check "
                "api_key (and account_id for Connect); the key is not shown here."
            ) from None
        except stripe.StripeError as error:
            status = error.http_status or 0
            if 200 <= status < 300:  # a 2xx whose body is not JSON
                message = f"HTTP {status} with an unreadable body"
                raise RetriableStripeError(message, "invalid_body") from None
            raise StripeRequestFailed(
                f"Stripe GET {endpoint} failed: HTTP {status}: {error.user_message}"
            ) from None

    def request_page(
        self, resource: str, params: dict[str, Any], validate: Callable[[Any], None]
    ) -> dict:
        """One page of `resource`, validated and retried per the policy."""
        endpoint = f"/v1/{resource}"
        tries = 0

        @backoff.on_exception(
            self.backoff_wait_generator,
            RetriableStripeError,
            max_tries=self.backoff_max_tries(),
            jitter=None,
            on_backoff=self._on_backoff,
            logger=None,  # _on_backoff logs each retry; the final error names the request
        )
        def call() -> dict:
            nonlocal tries
            tries += 1
            try:
                page = self._get(endpoint, params)
                validate(page)
            except Exception as error:
                self.http_client.settle(False, getattr(error, "cause", type(error).__name__))
                raise
            self.http_client.settle(True)
            return page

        try:
            return call()
        except RetriableStripeError as error:
            raise StripeRequestFailed(
                f"Stripe GET {endpoint} failed after {tries} tries: {error}"
            ) from None

    def run_boundary(self, resource: str) -> RunBoundary:
        """The run's boundary: the local clock, or Stripe's when it is behind, from the
        `Date` of one cheap request (`limit=1` on `resource`, retried like any page)."""
        local = time.time()
        self.request_page(resource, {"limit": 1}, lambda page: None)
        boundary = run_boundary(local, self.http_client.last_date, self.http_client.last_round_trip)
        log_boundary(self.logger, boundary, "Stripe")
        return boundary

    def list_all(self, resource: str, params: dict[str, Any], page_size: int) -> Iterator[dict]:
        """Every object matching `params`, following starting_after until has_more is
        false; each object at most once."""
        seen: set[str] = set()
        cursor: str | None = None
        created = params.get("created") or {}
        while True:
            query = {**params, "limit": page_size}
            if cursor:
                query["starting_after"] = cursor
            page = self.request_page(
                resource,
                query,
                lambda page, cursor=cursor: self.validate_page(page, cursor, seen, created),
            )
            items = page["data"]
            seen.update(item["id"] for item in items)
            yield from items
            if not page["has_more"]:
                return
            cursor = items[-1]["id"]
