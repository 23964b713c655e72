"""A file's header, and a header line repeated further down the file. Pure functions.

Two exports pasted into one sheet repeat the header mid-file, sometimes with the columns
in another order. Read by position, every row after a reordered header lands in the
wrong columns (impressions as clicks) and still types cleanly, so a repeated header is
recognised: the same names in the same order are skipped; the same names in another
order re-map the rest of the file by name; other names (a column added, renamed or
dropped) make the rest of the file unmatchable, and it is quarantined.

A row is a header line when its cells name at least half of the layout's columns (a
renamed or dropped column still leaves a header recognisable). A data row that did would
hold column names in typed cells (`spend` as an amount), which the grammar rejects
anyway: it is quarantined either way, now under `changed_header` with the rest of the
file, which is loud rather than lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

SAME = "same"  # the file's header again: skipped
REORDERED = "reordered"  # the same names in another order: the rest is read by name
CHANGED = "changed"  # other names: the rest of the file is quarantined


def normalise_header(name: str) -> str:
    """`" Campaign Name "` -> `campaign_name`."""
    return "_".join(name.strip().lower().replace("-", " ").split())


@dataclass(frozen=True)
class Header:
    """The column names of a file (normalised; "" for an unnamed column), by position."""

    line: int
    names: tuple[str, ...]
    positions: dict[str, int] = field(init=False, compare=False)
    unnamed: tuple[int, ...] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "positions", {n: i for i, n in enumerate(self.names) if n})
        object.__setattr__(self, "unnamed", tuple(i for i, n in enumerate(self.names) if not n))

    @classmethod
    def of(cls, line: int, cells: Iterable[str]) -> Header:
        return cls(line, tuple(normalise_header(cell) for cell in cells))

    @property
    def width(self) -> int:
        return len(self.names)

    def duplicates(self) -> list[str]:
        return sorted({n for n in self.names if n and self.names.count(n) > 1})


def is_header_line(cells: list[str], columns: Iterable[str]) -> bool:
    """Whether a row names at least half of the layout's columns (a header, not data)."""
    names = {normalise_header(cell) for cell in cells}
    wanted = list(columns)
    return 2 * sum(name in names for name in wanted) >= len(wanted)


def compare(current: Header, repeated: Header) -> str:
    """How a repeated header relates to the header in force: SAME, REORDERED (the same
    named columns at other positions, unnamed ones aside) or CHANGED."""
    if repeated.names == current.names:
        return SAME
    if sorted(repeated.positions) == sorted(current.positions) and not repeated.duplicates():
        return REORDERED
    return CHANGED
