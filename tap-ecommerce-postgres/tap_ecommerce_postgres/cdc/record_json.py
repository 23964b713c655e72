"""Record JSON of a row change, written in Python for the common column types.

The full-table path makes Postgres render each row (`queries.column_expression` +
`row_to_json`). For the types below, the text pgoutput sends is already that JSON value,
or becomes it by a fixed rewrite: an integer is its digits, a NUMERIC its text in quotes,
a `timestamptz` printed in UTC ('2025-01-02 03:04:05.6+00') becomes
'2025-01-02T03:04:05.6+00:00'. Handing such rows back to Postgres to render cost half of
change capture's time, so they are rendered here.

Anything else goes to Postgres (changes.RecordRenderer), never guessed:
- a relation with a column of any other type (arrays, money, enums, domains, bytea,
  intervals...), or a naive `timestamp` when `source_timezone` is not UTC: every change
  of it (`plan()` returns None);
- a single value whose text is not the plain form the rewrite expects (NaN and
  infinities, which the full-table path maps to null or clamps; BC dates; a zone other
  than +00): that change (`render()` returns None).
The parity is tested value for value against the full-table path (test_log_based.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

# Converters: the value's text (as pgoutput sent it) -> its JSON, or None: ask Postgres.
Converter = Callable[[bytes], bytes | None]

NON_FINITE = frozenset({b"NaN", b"Infinity", b"-Infinity"})
NEEDS_ESCAPE = re.compile(rb'[\x00-\x1f"\\]')
UTC_NAMES = frozenset({"utc", "etc/utc"})  # Postgres's zone names ignore case


def decimal_text(value: bytes) -> bytes | None:
    """NUMERIC: exact decimal text in quotes (NaN, +/-Infinity: Postgres maps them)."""
    return None if value in NON_FINITE else b'"' + value + b'"'


def float_number(value: bytes) -> bytes | None:
    """real/double: Postgres's shortest exact text is a JSON number, as row_to_json
    writes it (NaN, +/-Infinity: null in the full-table path, left to Postgres)."""
    return None if value in NON_FINITE else value


def boolean(value: bytes) -> bytes | None:
    return b"true" if value == b"t" else b"false" if value == b"f" else None


def json_string(value: bytes) -> bytes | None:
    """Text as a JSON string; escaped as json.dumps does (the same characters as
    Postgres's escape_json: quote, backslash, control characters)."""
    if NEEDS_ESCAPE.search(value) is None:
        return b'"' + value + b'"'
    return json.dumps(value.decode(), ensure_ascii=False).encode()


def raw_json(value: bytes) -> bytes | None:
    """json/jsonb: row_to_json embeds the document's own text."""
    return value


def _plain_date_time(value: bytes) -> bool:
    """Not infinity, -infinity or a BC value (the full-table path clamps those)."""
    return value[:1].isdigit() and not value.endswith(b"BC")


def utc_timestamp(value: bytes) -> bytes | None:
    """`timestamp` read in UTC: '2025-01-02 03:04:05.6' -> "2025-01-02T03:04:05.6+00:00"."""
    if not _plain_date_time(value):
        return None
    return b'"' + value.replace(b" ", b"T", 1) + b'+00:00"'


def zoned_timestamp(value: bytes) -> bytes | None:
    """`timestamptz` printed in UTC (the tap's sessions run in UTC): '... 03:04:05+00'
    -> "...T03:04:05+00:00"; any other offset means another TimeZone: Postgres renders."""
    if not (_plain_date_time(value) and value.endswith(b"+00")):
        return None
    return b'"' + value.replace(b" ", b"T", 1) + b':00"'


def plain_date(value: bytes) -> bytes | None:
    return b'"' + value + b'"' if _plain_date_time(value) else None


# pg_type OIDs of the built-in types rendered here (stable across versions: pg_type.dat).
# Only the types row_to_json writes as numbers are IDENTITY (not oid: it quotes those).
IDENTITY = None  # the text is the JSON
CONVERTERS: dict[int, Converter | None] = {
    20: IDENTITY,  # int8
    21: IDENTITY,  # int2
    23: IDENTITY,  # int4
    1700: decimal_text,  # numeric
    700: float_number,  # float4
    701: float_number,  # float8
    16: boolean,  # bool
    25: json_string,  # text
    1043: json_string,  # varchar
    1042: json_string,  # bpchar
    19: json_string,  # name
    2950: json_string,  # uuid
    1083: json_string,  # time
    114: raw_json,  # json
    3802: raw_json,  # jsonb
    1082: plain_date,  # date
    1184: zoned_timestamp,  # timestamptz
}
NAIVE_TIMESTAMP_OID = 1114


class Field(NamedTuple):
    key: bytes  # '"name":'
    position: int  # in the relation's values
    convert: Converter | None  # None: the text as it is


class RecordPlan(NamedTuple):
    """How to write one relation version's changes as record JSON."""

    fields: tuple[Field, ...]

    def render(self, values: Sequence, lsn: int, deleted_at: dt.datetime | None) -> bytes | None:
        """The record JSON of one change (the full-table path's key order, then
        `_sdc_lsn` and `_sdc_deleted_at`), or None: a value needs Postgres."""
        parts = []
        append = parts.append
        for key, position, convert in self.fields:
            value = values[position]
            if value is None:
                append(key + b"null")
            elif convert is None:
                append(key + value)
            else:
                rendered = convert(value)
                if rendered is None:
                    return None
                append(key + rendered)
        deleted = b"null" if deleted_at is None else b'"' + postgres_time(deleted_at) + b'"'
        append(b'"_sdc_lsn":%d,"_sdc_deleted_at":%b' % (lsn, deleted))
        return b"{" + b",".join(parts) + b"}"


def plan(
    relation_columns: Sequence[tuple[str, int]],
    record_columns: Sequence[str],
    source_timezone: str,
) -> RecordPlan | None:
    """The plan for a relation ((name, type OID) per column) and the stream's record
    columns (in record order; those the relation lacks are left out, as Postgres's
    rendering does), or None when a record column's type is not rendered here."""
    position = {name: i for i, (name, _) in enumerate(relation_columns)}
    fields = []
    for name in record_columns:
        if name not in position:
            continue
        type_oid = relation_columns[position[name]][1]
        if type_oid == NAIVE_TIMESTAMP_OID and source_timezone.lower() in UTC_NAMES:
            convert: Converter | None = utc_timestamp
        elif type_oid in CONVERTERS:
            convert = CONVERTERS[type_oid]
        else:
            return None
        key = json.dumps(name, ensure_ascii=False).encode() + b":"
        fields.append(Field(key, position[name], convert))
    return RecordPlan(tuple(fields))


def postgres_time(value: dt.datetime) -> bytes:
    """A UTC datetime as row_to_json writes a timestamptz: ISO 8601, +00:00, the
    fraction without trailing zeros."""
    text = value.astimezone(dt.UTC).replace(tzinfo=None).isoformat()
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.encode() + b"+00:00"
