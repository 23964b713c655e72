"""A pure decoder of PostgreSQL's `pgoutput` logical replication messages, protocol v1.

`pgoutput` ships with every PostgreSQL >= 10 (unlike `wal2json`), so the tap needs no
server extension. Each message of `pg_logical_slot_peek_binary_changes(...)` is one
bytea; `decode(data)` turns it into one of the dataclasses below. Column values are kept
as the text Postgres prints for them (protocol v1 sends text), so the tap can hand them
back to Postgres and render records exactly as the full-table path does.

Layout (https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html):
Begin 'B', Commit 'C', Origin 'O', Relation 'R', Type 'Y', Insert 'I', Update 'U',
Delete 'D', Truncate 'T', Message 'M'; TupleData columns are 'n' (NULL), 'u' (an
unchanged TOASTed value that was not sent) or 't' (text).

Column values stay the bytes Postgres printed (never decoded here): the record renderer
(record_json.py) writes most of them into the JSON line as they are, and decoding a
million values only to encode them again is a third of the decoder's time. Row changes
are NamedTuples, not dataclasses: the hot path makes one per changed row, and a tuple is
the cheapest immutable value Python builds.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass
from typing import NamedTuple


class Unchanged:
    """The marker pgoutput sends for a TOASTed value an UPDATE left unchanged: the value
    itself is not in the WAL record, so it must never be taken for NULL."""

    _instance: Unchanged | None = None

    def __new__(cls) -> Unchanged:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED_TOAST"


UNCHANGED = Unchanged()
PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

Value = bytes | None | Unchanged
Tuple = tuple[Value, ...]


class DecodeError(ValueError):
    """A message that is not valid pgoutput v1 (truncated, unknown tag)."""


@dataclass(frozen=True, slots=True)
class Begin:
    final_lsn: int
    commit_time: dt.datetime
    xid: int


@dataclass(frozen=True, slots=True)
class Commit:
    flags: int
    commit_lsn: int
    end_lsn: int  # the position a consumer confirms once the transaction is safe
    commit_time: dt.datetime


@dataclass(frozen=True, slots=True)
class Origin:
    lsn: int
    name: str


@dataclass(frozen=True, slots=True)
class RelationColumn:
    name: str
    type_oid: int
    type_modifier: int
    is_key: bool


@dataclass(frozen=True, slots=True)
class Relation:
    oid: int
    namespace: str
    name: str
    replica_identity: str  # 'd' default, 'n' nothing, 'f' full, 'i' index
    columns: tuple[RelationColumn, ...]


@dataclass(frozen=True, slots=True)
class Type:
    oid: int
    namespace: str
    name: str


class Insert(NamedTuple):
    relation_oid: int
    new: Tuple


class Update(NamedTuple):
    relation_oid: int
    old: Tuple | None  # the replica identity's old values ('K' key, 'O' full row), if sent
    old_is_key: bool
    new: Tuple


class Delete(NamedTuple):
    relation_oid: int
    old: Tuple
    old_is_key: bool  # True: only the key columns are set (the others are None)


@dataclass(frozen=True, slots=True)
class Truncate:
    relation_oids: tuple[int, ...]
    cascade: bool
    restart_identity: bool


@dataclass(frozen=True, slots=True)
class LogicalMessage:
    transactional: bool
    lsn: int
    prefix: str
    content: bytes


Message = (
    Begin | Commit | Origin | Relation | Type | Insert | Update | Delete | Truncate | LogicalMessage
)

_U8 = struct.Struct("!B")
_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")
_U32 = struct.Struct("!I")
_BEGIN = struct.Struct("!QqI")
_COMMIT = struct.Struct("!BQQq")


def _time(microseconds: int) -> dt.datetime:
    return PG_EPOCH + dt.timedelta(microseconds=microseconds)


class _Reader:
    """A cursor over one message's bytes; every read checks the length."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, layout: struct.Struct) -> tuple:
        end = self.pos + layout.size
        if end > len(self.data):
            raise DecodeError(f"message ends at byte {len(self.data)}, needed {end}")
        values = layout.unpack_from(self.data, self.pos)
        self.pos = end
        return values

    def byte(self) -> int:
        return self.take(_U8)[0]

    def string(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise DecodeError("unterminated string")
        text = self.data[self.pos : end].decode()
        self.pos = end + 1
        return text

    def done(self) -> None:
        if self.pos != len(self.data):
            raise DecodeError(f"{len(self.data) - self.pos} unexpected trailing bytes")


ROW_TAGS = frozenset(b"IUD")
_new = tuple.__new__  # NamedTuple(...) without its Python-level __new__: the hot path


def tuple_data(data: bytes, pos: int) -> tuple[Tuple, int]:
    """TupleData at `pos`: Int16 count, then per column 'n', 'u' or 't' + Int32 length +
    text; the values and the position after them. The hot loop of change capture, so it
    checks bounds once per message, not per column: reading past the end raises (the
    length is read unsigned, so a corrupt one points past the end too), and a short
    last value leaves `pos` beyond the end, which `_row_change` refuses."""
    values: list[Value] = []
    append = values.append
    length_at = _U32.unpack_from
    try:
        (count,) = _I16.unpack_from(data, pos)
        pos += 2
        for _ in range(count):
            kind = data[pos]
            if kind == 0x74:  # 't'
                end = pos + 5 + length_at(data, pos + 1)[0]
                append(data[pos + 5 : end])
                pos = end
            elif kind == 0x6E:  # 'n'
                append(None)
                pos += 1
            elif kind == 0x75:  # 'u'
                append(UNCHANGED)
                pos += 1
            else:  # 'b' (binary) exists only in protocol v2+ with binary 'true'
                raise DecodeError(f"unsupported TupleData column kind {chr(kind)!r}")
    except (IndexError, struct.error):
        raise DecodeError("TupleData runs past the end of the message") from None
    if pos > len(data):
        raise DecodeError("a column value runs past the end of the message")
    return tuple(values), pos


def _row_change(data: bytes) -> Insert | Update | Delete:
    """Insert, Update or Delete: the messages of nearly every row, decoded without the
    general reader."""
    size = len(data)
    if size < 6:
        raise DecodeError(f"message ends at byte {size}, needed 6")
    tag = data[0]
    (oid,) = _U32.unpack_from(data, 1)
    kind = data[5]
    message: Insert | Update | Delete
    if tag == 0x55:  # 'U'
        old = None
        old_is_key = False
        pos = 6
        if kind in (0x4B, 0x4F):  # 'K' key, 'O' old row
            old, pos = tuple_data(data, 6)
            old_is_key = kind == 0x4B
            if pos >= size:
                raise DecodeError("Update without its new tuple")
            kind = data[pos]
            pos += 1
        if kind != 0x4E:
            raise DecodeError("Update without its new tuple")
        new, pos = tuple_data(data, pos)
        message = _new(Update, (oid, old, old_is_key, new))
    elif tag == 0x49:  # 'I'
        if kind != 0x4E:  # 'N'
            raise DecodeError("Insert without its new tuple")
        new, pos = tuple_data(data, 6)
        message = _new(Insert, (oid, new))
    else:  # 'D'
        if kind not in (0x4B, 0x4F):
            raise DecodeError("Delete without its old key or row")
        old, pos = tuple_data(data, 6)
        message = Delete(oid, old, kind == 0x4B)
    if pos != size:
        raise DecodeError(f"{size - pos} unexpected trailing bytes")
    return message


def decode(data: bytes) -> Message:
    """One pgoutput v1 message (the `data` column of peek_binary_changes) as a value."""
    data = bytes(data)
    if not data:
        raise DecodeError("empty message")
    if data[0] in ROW_TAGS:
        return _row_change(data)
    reader = _Reader(data)
    tag = chr(reader.byte())
    message: Message
    if tag == "B":
        final_lsn, timestamp, xid = reader.take(_BEGIN)
        message = Begin(final_lsn, _time(timestamp), xid)
    elif tag == "C":
        flags, commit_lsn, end_lsn, timestamp = reader.take(_COMMIT)
        message = Commit(flags, commit_lsn, end_lsn, _time(timestamp))
    elif tag == "R":
        (oid,) = reader.take(_U32)
        namespace, name = reader.string(), reader.string()
        identity = chr(reader.byte())
        (count,) = reader.take(_I16)
        columns = []
        for _ in range(count):
            flags = reader.byte()
            column = reader.string()
            type_oid, modifier = reader.take(struct.Struct("!Ii"))
            columns.append(RelationColumn(column, type_oid, modifier, bool(flags & 1)))
        message = Relation(oid, namespace, name, identity, tuple(columns))
    elif tag == "Y":
        (oid,) = reader.take(_U32)
        message = Type(oid, reader.string(), reader.string())
    elif tag == "T":
        (count,) = reader.take(_I32)
        options = reader.byte()
        oids = tuple(reader.take(_U32)[0] for _ in range(count))
        message = Truncate(oids, bool(options & 1), bool(options & 2))
    elif tag == "O":
        (lsn,) = reader.take(struct.Struct("!Q"))
        message = Origin(lsn, reader.string())
    elif tag == "M":
        transactional = bool(reader.byte() & 1)
        (lsn,) = reader.take(struct.Struct("!Q"))
        prefix = reader.string()
        (length,) = reader.take(_I32)
        content = data[reader.pos : reader.pos + length]
        if len(content) != length:
            raise DecodeError("a logical message runs past the end of the message")
        reader.pos += length
        message = LogicalMessage(transactional, lsn, prefix, content)
    else:
        raise DecodeError(f"unknown pgoutput message tag {tag!r}")
    reader.done()
    return message


def lsn_to_int(text: str) -> int:
    """Postgres's `pg_lsn` text ('16/B374D848') as a 64-bit integer."""
    high, _, low = text.partition("/")
    if not low:
        raise ValueError(f"not an LSN: {text!r}")
    return (int(high, 16) << 32) | int(low, 16)


def int_to_lsn(value: int) -> str:
    """A 64-bit integer as Postgres's `pg_lsn` text."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"
