"""Seeded fault injection and an enforced request rate for the Stripe stand-in.

Besides Stripe's own failures (429 with or without `Stripe-Should-Retry`, 5xx with a
Stripe error body) it plays what a proxy or gateway in front of Stripe does: 5xx/429
whose body is not Stripe's (an HTML 502/503 page, `{"error": "text"}`), a page replayed
for the same cursor (a cache serving the previous response again), and `Retry-After` as
an HTTP-date. A client that retries before a `Retry-After` moment is counted
(`early_retry`) so tests can tell whether it was honoured. One resource can be made to
fail for good after N requests (`fail_resource`), as an outage of one endpoint.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import random
import threading
import time
from dataclasses import dataclass

# (status, body kind) of gateway-shaped failures, chosen uniformly
GATEWAY_FAULTS = [(502, "html"), (503, "html"), (500, "text"), (503, "text"), (429, "text")]


@dataclass(frozen=True)
class FaultConfig:
    rate_429: float = 0.0
    should_retry_header: bool = True  # send Stripe-Should-Retry: true with 429s
    retry_after: float | None = None  # seconds, sent as Retry-After with 429s and 503s
    retry_after_date: bool = False  # send Retry-After as an HTTP-date instead of seconds
    rate_5xx: float = 0.0
    rate_gateway: float = 0.0  # 5xx/429 with a gateway's body (HTML or {"error": "text"})
    rate_replay: float = 0.0  # a page with a cursor answered with the page that ended there
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    max_requests_per_second: float = 0.0  # 0 = unlimited
    fail_resource: str | None = None  # every request to it after `fail_after` gets a 503
    fail_after: int = 0
    seed: int = 7


@dataclass(frozen=True)
class Decision:
    """What to do with one request: fail it (status + body kind), replay, delay."""

    status: int | None = None
    body: str = "stripe"  # "stripe" | "html" | "text"
    replay: bool = False
    delay: float = 0.0


def http_date_after(seconds: float) -> tuple[str, float]:
    """(HTTP-date at least `seconds` from now, that moment as epoch); HTTP-dates have
    whole seconds, so round up."""
    moment = math.ceil(time.time() + seconds)
    when = dt.datetime.fromtimestamp(moment, dt.UTC)
    return email.utils.format_datetime(when, usegmt=True), float(moment)


def _pick(roll: float, *rates: tuple[str, float]) -> str | None:
    """The fault whose slice of [0, 1) holds `roll` (slices in order), or None."""
    bound = 0.0
    for kind, rate in rates:
        bound += rate
        if roll < bound:
            return kind
    return None


class FaultInjector:
    """Decides, per request, whether to fail it; thread-safe and reproducible."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.lock = threading.Lock()
        self.window_start = time.monotonic()
        self.window_count = 0
        self.not_before = 0.0  # epoch of the last Retry-After sent
        self.resource_requests = 0  # requests to config.fail_resource so far
        self.counts = {
            "requests": 0,
            "429": 0,
            "5xx": 0,
            "gateway": 0,
            "replay": 0,
            "slow": 0,
            "rate_limited": 0,
            "early_retry": 0,
            "sticky": 0,
        }

    def decide(self, resource: str = "", has_cursor: bool = False) -> Decision:
        """The fault (if any) for the next request to `resource`; `has_cursor`: it is a
        list request that can be replayed."""
        config = self.config
        with self.lock:
            self.counts["requests"] += 1
            if time.time() < self.not_before:
                self.counts["early_retry"] += 1
            if resource and resource == config.fail_resource:
                self.resource_requests += 1
                if self.resource_requests > config.fail_after:
                    self.counts["sticky"] += 1
                    return Decision(status=503, body="html")
            if config.max_requests_per_second:
                now = time.monotonic()
                if now - self.window_start >= 1.0:
                    self.window_start, self.window_count = now, 0
                self.window_count += 1
                if self.window_count > config.max_requests_per_second:
                    self.counts["rate_limited"] += 1
                    return Decision(status=429)
            roll = self.rng.random()
            delay = 0.0
            if self.rng.random() < config.slow_rate:
                self.counts["slow"] += 1
                delay = config.slow_seconds
            kind = _pick(
                roll,
                ("429", config.rate_429),
                ("5xx", config.rate_5xx),
                ("gateway", config.rate_gateway),
                ("replay", config.rate_replay),
            )
            if kind is None:
                return Decision(delay=delay)
            if kind == "replay":  # counted by the server when it has a page to replay
                return Decision(replay=has_cursor, delay=delay)
            self.counts[kind] += 1
            if kind == "429":
                return Decision(status=429, delay=delay)
            if kind == "5xx":
                return Decision(status=self.rng.choice([500, 503]), delay=delay)
            status, body = self.rng.choice(GATEWAY_FAULTS)
            return Decision(status=status, body=body, delay=delay)

    def retry_after_header(self) -> str | None:
        """The Retry-After value to send now (seconds or HTTP-date), remembering the moment
        before which a retry counts as early."""
        seconds = self.config.retry_after
        if seconds is None:
            return None
        with self.lock:
            if self.config.retry_after_date:
                value, moment = http_date_after(seconds)
            else:
                value, moment = f"{seconds:g}", time.time() + seconds
            self.not_before = max(self.not_before, moment)
            return value
