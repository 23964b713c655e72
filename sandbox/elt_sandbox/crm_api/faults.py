"""Seeded per-request faults for the CRM simulator."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CrmFaults:
    rate_5xx: float = 0.0
    rate_429: float = 0.0
    retry_after: float | None = 1.0  # seconds; None = 429 without Retry-After
    rate_slow: float = 0.0
    slow_seconds: float = 0.0
    rate_drop: float = 0.0  # close the connection without a response
    rate_truncated: float = 0.0  # send half of the JSON body
    rate_malformed: float = 0.0  # send a body that is not JSON
    sticky_pages: dict[int, int] = field(default_factory=dict)  # page -> consecutive 503s
    seed: int = 11


class CrmFaultInjector:
    def __init__(self, faults: CrmFaults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.lock = threading.Lock()
        self.sticky_left = dict(faults.sticky_pages)
        self.counts: dict[str, int] = {"requests": 0}

    def decide(self, page: int) -> str | None:
        """The fault to inject for this request, or None."""
        with self.lock:
            self.counts["requests"] += 1
            if self.sticky_left.get(page, 0) != 0:
                self.sticky_left[page] -= 1  # a negative count fails forever
                return self._count("sticky")
            roll = self.rng.random()
            f = self.faults
            for name, rate in (
                ("5xx", f.rate_5xx),
                ("429", f.rate_429),
                ("slow", f.rate_slow),
                ("drop", f.rate_drop),
                ("truncated", f.rate_truncated),
                ("malformed", f.rate_malformed),
            ):
                if roll < rate:
                    return self._count(name)
                roll -= rate
            return None

    def _count(self, name: str) -> str:
        self.counts[name] = self.counts.get(name, 0) + 1
        return name
