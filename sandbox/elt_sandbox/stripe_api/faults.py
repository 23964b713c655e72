"""Seeded fault injection and an enforced request rate for the Stripe stand-in."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class FaultConfig:
    rate_429: float = 0.0
    should_retry_header: bool = True  # send Stripe-Should-Retry: true with 429s
    retry_after: float | None = None  # seconds, sent as Retry-After with 429s
    rate_5xx: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    max_requests_per_second: float = 0.0  # 0 = unlimited
    seed: int = 7


class FaultInjector:
    """Decides, per request, whether to fail it; thread-safe and reproducible."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.lock = threading.Lock()
        self.window_start = time.monotonic()
        self.window_count = 0
        self.counts = {"requests": 0, "429": 0, "5xx": 0, "slow": 0, "rate_limited": 0}

    def decide(self) -> tuple[int | None, float]:
        """(status to fail with or None, seconds to delay)."""
        with self.lock:
            self.counts["requests"] += 1
            if self.config.max_requests_per_second:
                now = time.monotonic()
                if now - self.window_start >= 1.0:
                    self.window_start, self.window_count = now, 0
                self.window_count += 1
                if self.window_count > self.config.max_requests_per_second:
                    self.counts["rate_limited"] += 1
                    return 429, 0.0
            roll = self.rng.random()
            delay = 0.0
            if self.rng.random() < self.config.slow_rate:
                self.counts["slow"] += 1
                delay = self.config.slow_seconds
            if roll < self.config.rate_429:
                self.counts["429"] += 1
                return 429, delay
            if roll < self.config.rate_429 + self.config.rate_5xx:
                self.counts["5xx"] += 1
                return self.rng.choice([500, 503]), delay
            return None, delay
