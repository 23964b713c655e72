"""The run report: what the API did to us and what we delivered."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RunReport:
    started: float = field(default_factory=time.monotonic)
    pages_requested: int = 0
    pages_succeeded: int = 0
    pages_retried: int = 0
    pages_skipped: list[int] = field(default_factory=list)
    pages_recovered: list[int] = field(default_factory=list)
    retries_by_cause: Counter[str] = field(default_factory=Counter)
    records_emitted: int = 0
    duplicates_seen: int = 0

    def summary(self) -> str:
        return (
            f"pages requested={self.pages_requested} succeeded={self.pages_succeeded} "
            f"retried={self.pages_retried} skipped={self.pages_skipped} "
            f"recovered={self.pages_recovered} retries_by_cause={dict(self.retries_by_cause)} "
            f"records_emitted={self.records_emitted} duplicates_seen={self.duplicates_seen} "
            f"elapsed={time.monotonic() - self.started:.1f}s"
        )
