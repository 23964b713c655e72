"""One memory budget shared by every stream's buffer.

A tap that finishes one stream and starts the next, or interleaves several record by
record, should neither hold a finished stream's buffer until the end nor cut every
stream's files small. So the budget counts rows and estimated bytes per holder (a sink)
and, when either limit is reached, names the holder with the most bytes: the target
writes that buffer and the others keep filling.
"""

from __future__ import annotations

from collections.abc import Hashable


class MemoryBudget:
    """Rows and estimated bytes buffered, per holder and in total, against two limits."""

    def __init__(self, max_rows: int, max_bytes: float) -> None:
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self._held: dict[Hashable, tuple[int, float]] = {}
        self._rows = 0
        self._bytes = 0.0

    def reserve(self, holder: Hashable, rows: int, estimated_bytes: float) -> None:
        """Count what `holder` just buffered."""
        held_rows, held_bytes = self._held.get(holder, (0, 0.0))
        self._held[holder] = (held_rows + rows, held_bytes + estimated_bytes)
        self._rows += rows
        self._bytes += estimated_bytes

    def release(self, holder: Hashable) -> None:
        """`holder` handed its whole buffer on (to be written): its share is free."""
        rows, estimated_bytes = self._held.pop(holder, (0, 0.0))
        self._rows -= rows
        self._bytes -= estimated_bytes

    @property
    def exhausted(self) -> bool:
        return self._rows >= self.max_rows or self._bytes >= self.max_bytes

    def largest(self) -> Hashable | None:
        """The holder with the most estimated bytes (None when nothing is held)."""
        holders = [(held[1], held[0], holder) for holder, held in self._held.items() if held[0]]
        return max(holders, key=lambda entry: (entry[0], entry[1]))[2] if holders else None
