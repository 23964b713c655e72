"""Seeded per-request faults for the CRM simulator.

Besides server errors, the simulator can lie in the ways a proxy in front of a legacy API
does: answer page N with another page's body (a stale cache keyed on the wrong thing),
replay the last response it sent (a load balancer retrying on our behalf), or put an HTML
gateway page where the JSON error should be. One `random.Random(seed)` draw per request
decides, so a fixed seed and the same request sequence give the same faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

RETRY_AFTER_STYLES = ("seconds", "date", "mixed")


@dataclass(frozen=True)
class CrmFaults:
    rate_5xx: float = 0.0
    rate_429: float = 0.0
    retry_after: float | None = 1.0  # seconds; None = 429 without Retry-After
    retry_after_style: str = "seconds"  # seconds | date (HTTP-date) | mixed (half each)
    rate_slow: float = 0.0
    slow_seconds: float = 0.0
    rate_drop: float = 0.0  # close the connection without a response
    rate_truncated: float = 0.0  # send half of the JSON body
    rate_malformed: float = 0.0  # send a body that is not JSON
    rate_wrong_page: float = 0.0  # page N answered with page N-1's body (N+1 for page 1)
    rate_replay: float = 0.0  # the previous response's exact bytes sent again
    rate_gateway: float = 0.0  # 502 with a proxy's HTML error page
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
            for name, rate in (  # new faults go last: old seeds keep their sequences
                ("5xx", f.rate_5xx),
                ("429", f.rate_429),
                ("slow", f.rate_slow),
                ("drop", f.rate_drop),
                ("truncated", f.rate_truncated),
                ("malformed", f.rate_malformed),
                ("wrong_page", f.rate_wrong_page),
                ("replay", f.rate_replay),
                ("gateway", f.rate_gateway),
            ):
                if roll < rate:
                    if name == "429" and self._retry_after_as_date():
                        name = "429_date"
                    return self._count(name)
                roll -= rate
            return None

    def _retry_after_as_date(self) -> bool:
        style = self.faults.retry_after_style
        return style == "date" or (style == "mixed" and self.rng.random() < 0.5)

    def withdraw(self, name: str) -> None:
        """A fault that could not be applied (a replay before any response was sent)."""
        with self.lock:
            self.counts[name] -= 1

    def _count(self, name: str) -> str:
        self.counts[name] = self.counts.get(name, 0) + 1
        return name
