"""The run report: what the API did to us, what we delivered, and whether it reconciles."""

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
    records_received: int = 0
    records_emitted: int = 0
    duplicates_dropped: int = 0
    already_delivered: int = 0  # ids at or before a resumed listing's last delivered id
    api_total: int | None = None
    distinct_emitted: int | None = None  # for the whole listing, earlier runs included
    # yes | NO | n/a: the run stopped before the listing ended, or the listing ended with
    # no API total (or no counts in a resumed STATE) to compare against
    reconciled: str = "n/a"

    def summary(self) -> str:
        return (
            f"pages requested={self.pages_requested} succeeded={self.pages_succeeded} "
            f"retried={self.pages_retried} skipped={self.pages_skipped} "
            f"recovered={self.pages_recovered} retries_by_cause={dict(self.retries_by_cause)} "
            f"records_received={self.records_received} records_emitted={self.records_emitted} "
            f"duplicates_dropped={self.duplicates_dropped} "
            f"already_delivered={self.already_delivered} "
            f"api_total={self.api_total} distinct_emitted={self.distinct_emitted} "
            f"reconciled={self.reconciled} elapsed={time.monotonic() - self.started:.1f}s"
        )
