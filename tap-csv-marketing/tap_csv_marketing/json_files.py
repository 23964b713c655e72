"""A JSON or NDJSON export to (position, raw text, value or problem) items, streamed.

Two passes over a file, each in constant memory:

1. `check_document` reads the whole text and raises `DocumentFailed` (naming the byte
   offset) for anything that makes the file as a whole unreadable: a truncated or
   otherwise malformed JSON document, a second document after the first, no array of
   records where one is expected (`null`, an object without the declared path), nesting
   deeper than `MAX_DEPTH`, a lone UTF-16 surrogate escape (the C parser would silently
   turn it into `?`), a broken gzip, or an NDJSON file cut off inside its last line.
   Running it before any record is emitted is what keeps a broken file from being loaded
   in part, as a CSV file that cannot be read loads nothing.
2. `array_items` / `ndjson_items` yield one item per record: its value, or the reason it
   is not one (an NDJSON line that is not JSON, duplicate keys, NaN, a NUL, ...).

Numbers are never floats: ijson gives Decimal for every number with a fraction or
exponent, and NDJSON lines are parsed with `parse_float=Decimal`; NaN and Infinity are not
JSON and are refused.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ijson
import simplejson

from tap_csv_marketing.fields import BadCell
from tap_csv_marketing.formats import pointer_tokens
from tap_csv_marketing.json_text import CHUNK, JsonText, TextFailed

MAX_DEPTH = 64  # nesting levels, the top-level array included; ijson's cost grows with depth²
# A \uXXXX escape of a high surrogate not followed by a low one, or a low one alone;
# pairs of backslashes are consumed first so `\\ud800` (a backslash, then text) is no escape.
SURROGATE_ESCAPES = re.compile(
    rb"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    rb"|(?P<lone>\\u[dD][89a-fA-F][0-9a-fA-F]{2})"
)
NUL_ESCAPE = b"\\u0000"
STARTS = {"start_map", "start_array"}
ENDS = {"end_map", "end_array"}


class DocumentFailed(ValueError):
    """The file as a whole is not a readable document; the message says where and why."""


@dataclass(frozen=True)
class JsonItem:
    """One record's place (`position`: NDJSON line, or 1-based index in the array),
    where it is (`pointer`, arrays only), its text, and its value or its problem."""

    position: int
    raw: str
    value: Any = None
    problem: BadCell | None = None
    pointer: str | None = None


@dataclass(frozen=True)
class DocumentFacts:
    """What the first pass learnt that the second needs."""

    has_nul_escape: bool  # a `\u0000` somewhere: look for NULs in the records


def _scan_escapes(text: bytes, base: int) -> tuple[int | None, bool]:
    """(offset of a lone surrogate escape or None, whether a NUL escape occurs)."""
    lone = next((m.start("lone") for m in SURROGATE_ESCAPES.finditer(text) if m["lone"]), None)
    return (None if lone is None else base + lone), NUL_ESCAPE in text


def _carry_start(chunk: bytes) -> int:
    """Where to cut a chunk so the next scan starts on an escape's first backslash."""
    cut = max(0, len(chunk) - 12)
    while cut > 0 and chunk[cut - 1 : cut] == b"\\":
        cut -= 1
    return cut


class _Scanner:
    """Reads a JsonText for the parser and scans every byte for surrogate/NUL escapes."""

    def __init__(self, text: JsonText) -> None:
        self.text = text
        self.carry = b""
        self.lone_at: int | None = None
        self.nul = False

    def read(self, size: int = CHUNK) -> bytes:
        base = self.text.offset - len(self.carry)
        data = self.text.read(size)
        window = self.carry + data
        lone, nul = _scan_escapes(window, base)
        if self.lone_at is None and lone is not None:
            self.lone_at = lone
        self.nul = self.nul or nul
        cut = _carry_start(window)
        self.carry = window[cut:]
        return data


def _parse_error(error: Exception) -> str:
    text = str(error.args[0] if error.args else error)
    if isinstance(error.args[0] if error.args else None, bytes):
        text = error.args[0].decode("utf-8", "replace")
    return text.strip().splitlines()[0]


def check_document(text: JsonText, pointer: str) -> DocumentFacts:
    """Pass 1 for a JSON document; raises DocumentFailed. See the module docstring."""
    scanner = _Scanner(text)
    wanted = pointer_tokens(pointer)
    # each open container: whether it is an object, and the key path to it (None once
    # inside an array: the records path names object keys only)
    open_: list[tuple[bool, list[str] | None]] = []
    key = ""
    found = False
    first = None
    try:
        for event, value in ijson.basic_parse(scanner, buf_size=CHUNK):
            if event == "map_key":
                key = value
                continue
            if event in ENDS:
                open_.pop()
                continue
            if first is None:
                first = event
            if len(open_) > len(wanted):
                path = None  # deeper than the records path: cannot be it
            elif not open_:
                path = []
            else:
                is_object, parent = open_[-1]
                path = [*parent, key] if is_object and parent is not None else None
            if event == "start_array" and path == wanted:
                found = True
            if event in STARTS:
                if len(open_) >= MAX_DEPTH:
                    raise DocumentFailed(
                        f"nested deeper than {MAX_DEPTH} levels (at or before byte "
                        f"{text.offset}); records this deep are refused"
                    )
                open_.append((event == "start_map", path))
    except DocumentFailed:
        raise
    except TextFailed as error:
        raise DocumentFailed(f"{error} (at byte {text.offset})") from None
    except (ijson.JSONError, UnicodeDecodeError) as error:
        if first is None and text.offset == 0:
            raise DocumentFailed("empty file: not a JSON document") from None
        raise DocumentFailed(
            f"not one complete JSON document: {_parse_error(error)} (at or before byte "
            f"{text.offset}); nothing of it is loaded"
        ) from None
    if first is None:
        raise DocumentFailed("empty file: not a JSON document")
    if scanner.lone_at is not None:
        raise DocumentFailed(
            f"a lone UTF-16 surrogate escape at byte {scanner.lone_at} is not Unicode text "
            "(the parser would replace it with '?'); re-export the file"
        )
    if not found:
        where = f"at {pointer!r} (json_records_paths)" if pointer else "at the top level"
        kind = first.removeprefix("start_").replace("map", "object")
        raise DocumentFailed(f"no array of records {where}: the document is a JSON {kind}")
    text.drain()
    return DocumentFacts(has_nul_escape=scanner.nul)


def check_ndjson(text: JsonText) -> None:
    """Pass 1 for NDJSON: the text is readable to its end, and a last line without a
    newline is complete JSON (else the file was cut off: DocumentFailed)."""
    tail = b""
    lines = 0
    try:
        while chunk := text.read(CHUNK):
            newlines = chunk.count(b"\n")
            if newlines:
                lines += newlines
                tail = chunk[chunk.rindex(b"\n") + 1 :]
            else:
                tail += chunk
    except TextFailed as error:
        raise DocumentFailed(f"{error} (at byte {text.offset})") from None
    text.drain()
    if tail.strip() and isinstance(parse_line(tail), BadCell):
        raise DocumentFailed(
            f"the file ends inside line {lines + 1} (no newline after it, and it is not "
            f"complete JSON): cut off at byte {text.offset}; nothing of it is loaded"
        )


class _Duplicate(ValueError):
    pass


class _NotANumber(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = sorted({k for k, _ in pairs if k in seen or seen.add(k)})
        raise _Duplicate(f"key(s) {twice} appear more than once in one object")
    return obj


def _constant(name: str) -> Any:
    raise _NotANumber(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def has_nul(value: Any) -> bool:
    """Whether a NUL character is in any string (key or value) of `value`."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(map(has_nul, value))
    return False


def parse_line(line: bytes) -> Any:
    """One NDJSON line's value, or the BadCell saying why it is no record."""
    if SURROGATE_ESCAPES.search(line) and any(m["lone"] for m in SURROGATE_ESCAPES.finditer(line)):
        return BadCell("lone_surrogate", "a lone UTF-16 surrogate escape is not Unicode text")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        return BadCell("invalid_utf8", f"not UTF-8 text: {error}")
    try:
        value = json.loads(
            text,
            parse_float=Decimal,
            parse_int=int,
            parse_constant=_constant,
            object_pairs_hook=_pairs,
        )
    except _Duplicate as error:
        return BadCell("duplicate_key", str(error))
    except _NotANumber as error:
        return BadCell("nan_or_infinity", str(error))
    except RecursionError:
        return BadCell("too_deep", f"nested deeper than {MAX_DEPTH} levels")
    except ValueError as error:  # json.JSONDecodeError, and int() of a 4300+ digit number
        return BadCell("not_json", f"not one JSON value: {error}")
    if line.count(b"{") + line.count(b"[") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        return BadCell("too_deep", f"nested deeper than {MAX_DEPTH} levels")
    if NUL_ESCAPE in line and has_nul(value):
        return BadCell("nul_byte", "a string holds a NUL character (\\u0000)")
    return value


def ndjson_items(text: JsonText) -> Iterator[JsonItem]:
    """Pass 2 for NDJSON: one item per non-blank line, numbered from 1."""
    reader = io.BufferedReader(text, CHUNK)
    for number, line in enumerate(reader, start=1):
        line = line.rstrip(b"\r\n")
        if not line.strip(b" \t\r"):
            continue  # a blank line is not a record, as in a CSV
        value = parse_line(line)
        raw = line.decode("utf-8", "replace")
        if isinstance(value, BadCell):
            yield JsonItem(number, raw, problem=value)
        else:
            yield JsonItem(number, raw, value)


def to_json(value: Any) -> str:
    """A value's JSON text, numbers exact (the raw text of an array's quarantined item)."""
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False, separators=(",", ":"))


def _duplicates_in(value: Any, duplicated: dict[int, tuple[dict, str]]) -> list[str]:
    """The keys given twice in any object inside `value` (and forget those objects)."""
    found = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if id(node) in duplicated:
                found.append(duplicated.pop(id(node))[1])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(set(found))


def array_items(text: JsonText, pointer: str, facts: DocumentFacts) -> Iterator[JsonItem]:
    """Pass 2 for a JSON document: one item per element of the records array."""
    # objects that were given a key twice, by id (ijson builds a whole buffer of items
    # before yielding the first, so a flag per item would blame the wrong one)
    duplicated: dict[int, tuple[dict, str]] = {}

    class Obj(dict):
        """An object that notes a key given twice (a plain dict keeps the last silently)."""

        def __setitem__(self, key: str, value: Any) -> None:
            if key in self:
                duplicated[id(self)] = (self, key)
            super().__setitem__(key, value)

    prefix = ".".join([*pointer_tokens(pointer), "item"])
    items = ijson.items(text, prefix, map_type=Obj, buf_size=CHUNK)
    for index, value in enumerate(items):
        where = f"{pointer}/{index}"
        problem = None
        if duplicated and (keys := _duplicates_in(value, duplicated)):
            problem = BadCell("duplicate_key", f"key(s) {keys} appear more than once in one object")
        elif facts.has_nul_escape and has_nul(value):
            problem = BadCell("nul_byte", "a string holds a NUL character (\\u0000)")
        if problem:
            yield JsonItem(index + 1, to_json(value), problem=problem, pointer=where)
        else:
            yield JsonItem(index + 1, "", value, pointer=where)
