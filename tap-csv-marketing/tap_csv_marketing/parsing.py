"""Bytes of one CSV file to (line number, raw line, cells) rows. Pure functions.

Decoding: a byte-order mark decides (UTF-8, UTF-16 LE/BE); otherwise UTF-8, and when the
bytes are not valid UTF-8, cp1252 (what Excel on Windows writes) — unless an encoding is
configured. Line endings may be \\n, \\r\\n or mixed. Blank lines are not data lines.
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass

# Exports hold long free-text cells; csv's 128 KiB default would reject them.
csv.field_size_limit(min(sys.maxsize, 64 * 1024 * 1024))


class UnreadableFile(ValueError):
    """The file as a whole cannot be read as a CSV export."""


@dataclass(frozen=True)
class RawRow:
    line: int  # 1-based line where the row starts
    raw: str  # the row's text as it appears in the file
    cells: list[str]
    error: str | None = None  # the csv module's complaint when the row could not be split


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The file's text and the encoding used to read it."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as error:
            raise UnreadableFile(f"cannot decode as {encoding}: {error}") from None
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(name), name
    for name in ("utf-8", "cp1252"):
        try:
            return data.decode(name), name
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("not UTF-8, UTF-16 or cp1252 text")


def rows(text: str, delimiter: str = ",", quotechar: str = '"') -> Iterator[RawRow]:
    """Every non-blank row after parsing quotes; the first row is the header."""
    lines = io.StringIO(text, newline="").readlines()
    # strict: `"News"letter` or an unterminated quote is an error (quarantined as
    # malformed_csv), where the lenient reader would silently glue or swallow text.
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quotechar, strict=True
    )
    previous_end = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            start = previous_end + 1
            raw = "".join(lines[previous_end : reader.line_num]).rstrip("\r\n")
            previous_end = reader.line_num
            yield RawRow(start, raw, [], str(error))
            continue
        start, end = previous_end + 1, reader.line_num
        previous_end = end
        raw = "".join(lines[start - 1 : end]).rstrip("\r\n")
        if not cells or all(not cell.strip() for cell in cells):
            continue  # blank or empty-cells line: not a data line
        yield RawRow(start, raw, cells)
