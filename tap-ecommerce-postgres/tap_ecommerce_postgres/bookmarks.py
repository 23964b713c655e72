"""How far a read has got, as one object both record paths and BATCH files update.

The rules are the SDK's (`singer_sdk.helpers._state.increment_state`): the bookmark of an
incremental stream is the largest non-NULL replication key handed on, and a NULL key never
replaces it (rows are read in key order with NULLs last, so the last non-NULL key is the
largest). The value kept is the raw key as Postgres prints it (`::text`, integers as
numbers) rather than the record's rendering: Postgres casts it back to the column's type
when the next run compares `key >= bookmark`, which keeps `timestamp without time zone`
keys exact whatever `source_timezone` is. Full-table streams keep `resume_after`, the
primary key of the last row handed on, removed once the table was read to the end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa

from tap_ecommerce_postgres.queries import ReadPlan


def bookmark_value(value: Any) -> Any:
    """A JSON-safe bookmark that Postgres casts back to the column's type."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class Progress:
    """The last row handed on and the largest non-NULL replication key so far."""

    def __init__(self, plan: ReadPlan) -> None:
        self.tracked = plan.tracked_columns()
        self.replication_key = plan.replication_key
        self.resume_key = plan.resume_key or []
        self._last: dict[str, Any] = {}
        self._key_value: Any = None

    def note_row(self, values: Sequence[Any]) -> None:
        """One row handed on, given its tracked values (replication key first)."""
        self._last = dict(zip(self.tracked, values, strict=True))
        if self.replication_key and values[0] is not None:
            self._key_value = values[0]

    def note_rows(
        self, batch: pa.RecordBatch | pa.Table, first: int, start: int, stop: int
    ) -> None:
        """Rows [start, stop) of an Arrow batch whose tracked columns begin at `first`.
        Only the last row is converted to Python, plus, when its key is NULL, the last
        non-NULL key of the slice (found in C)."""
        if stop <= start:
            return
        values = [batch.column(i)[stop - 1].as_py() for i in range(first, batch.num_columns)]
        self._last = dict(zip(self.tracked, values, strict=True))
        if not self.replication_key:
            return
        if values[0] is not None:
            self._key_value = values[0]
            return
        keys = batch.column(first).slice(start, stop - start).drop_null()
        if len(keys):
            self._key_value = keys[len(keys) - 1].as_py()

    def apply(self, state: dict, *, finished: bool) -> None:
        """Write the bookmark into the stream's state (the caller emits STATE)."""
        if self.replication_key:
            if self._key_value is not None:
                state["replication_key"] = self.replication_key
                state["replication_key_value"] = bookmark_value(self._key_value)
        elif self.resume_key:
            if finished:
                state.pop("resume_after", None)
            elif self._last:
                state["resume_after"] = [bookmark_value(self._last[k]) for k in self.resume_key]
