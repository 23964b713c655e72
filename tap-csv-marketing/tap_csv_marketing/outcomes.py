"""What became of a file's rows: shared by the CSV and the JSON readers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tap_csv_marketing.fields import BadCell


class FileFailed(RuntimeError):
    """A file that cannot be read at all (names the file and why)."""


@dataclass(frozen=True)
class RowOutcome:
    """One row after the header: loaded (`record`), quarantined (`problem`), or a
    repeated header line (not a data line; counted on its own, `note` says what changed)."""

    line: int
    raw: str
    record: dict[str, Any] | None = None
    problem: BadCell | None = None
    repeated_header: bool = False
    note: str | None = None
