"""An append-only JSON-lines file that hands simulated nights to the stand-ins.

The Stripe and CRM stand-ins hold their data in memory; a night written by `elt-sandbox
advance` reaches them through this file: the night appends its objects, then asks the
running server to `sync` (`POST /_sandbox/sync`), which applies the lines past the offset
it has read. A server (re)started later replays the whole file, so nights survive a
restart. The CSV exports are rebuilt the same way: seeded files plus the marketing
journal. Only whole lines are read, so a reader never sees half an entry.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

from elt_sandbox.nights.clock import clock_path

STRIPE = "stripe"
CRM = "crm"
MARKETING = "marketing"


def journal_path(root: Path, name: str) -> Path:
    """`<sandbox home>/journal/<name>.jsonl`."""
    return root / "journal" / f"{name}.jsonl"


def forget_nights(home) -> None:
    """Remove every journal and the sandbox clock (a re-seed starts the clock again).
    Stand-ins already running keep the nights they applied until they restart."""
    for name in (STRIPE, CRM, MARKETING):
        journal_path(home.root, name).unlink(missing_ok=True)
    clock_path(home.root).unlink(missing_ok=True)


def append(path: Path, entries: list[dict]) -> None:
    """Append entries as one write, flushed to disk before the servers are told."""
    if not entries:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = "".join(json.dumps(entry, separators=(",", ":")) + "\n" for entry in entries)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())


def read(path: Path, offset: int = 0) -> tuple[list[dict], int]:
    """Entries of the whole lines after byte `offset`, and the offset after them."""
    if not path.exists():
        return [], offset
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    end = data.rfind(b"\n") + 1  # a line still being written is left for next time
    entries = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
    return entries, offset + end


class JournalFollower:
    """A server's reader: applies each new entry once, under its own lock."""

    def __init__(self, path: Path | None, apply: Callable[[list[dict]], None]) -> None:
        self.path = path
        self.apply = apply
        self.offset = 0
        self.applied = 0
        self._lock = threading.Lock()

    def sync(self) -> int:
        """Apply the entries appended since the last sync; returns how many."""
        if self.path is None:
            return 0
        with self._lock:
            entries, self.offset = read(self.path, self.offset)
            if entries:
                self.apply(entries)
            self.applied += len(entries)
            return len(entries)
