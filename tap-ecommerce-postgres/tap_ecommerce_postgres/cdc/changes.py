"""Changes of one table read from its slot, as records with the full-table path's values.

`peek()` reads the slot's pgoutput messages up to an LSN through a server-side cursor
(memory stays flat in the number of changes) and decodes them (pgoutput.py).
`transactions()` groups them into committed transactions of row changes for one table,
and cuts a big one into chunks of at most `CHUNK_CHANGES` changes and about
`max_bytes` bytes of messages (`log_based_max_chunk_bytes`): what is held at once is
bounded by bytes, whatever the row width (10,000 changes of 60 kB rows once took
1.1 GB). A fetch takes as many messages as would fit in a quarter of that budget if
each were as big as the biggest seen so far (limit: a long run of small changes
followed at once by big ones may overshoot once, by at most one fetch).
`RecordRenderer` writes each change as record JSON carrying exactly the value a full read
of the same row would (exact decimals, timestamps with zone, arrays, json): in Python
for the common types whose text is already that value (record_json.py), else by handing
the rows back to Postgres as text, cast to each column's type and rendered by the very
expressions the full-table path uses (`queries.column_expression` + `row_to_json`).

Unchanged TOASTed values: pgoutput sends a marker ('u'), not the value. They are taken
from the old row when the table has `REPLICA IDENTITY FULL`; otherwise the rows' current
values are read by key, one query per chunk of changes (typed keys: the primary key's
index is used). Such a value is the row's value *now*: a later update's, or, after a
delete and a re-insert of the key, the new row's; the record says so
(`_sdc_toast_reread: true`). A row that no longer exists was deleted later, and that
delete is in the slot after this change: the update is then skipped (counted and
logged), never emitted with NULL in place of the value.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import psycopg
from psycopg import sql

from tap_ecommerce_postgres.cdc import pgoutput, record_json
from tap_ecommerce_postgres.cdc.pgoutput import UNCHANGED, int_to_lsn
from tap_ecommerce_postgres.cdc.slot import LogBasedError
from tap_ecommerce_postgres.queries import column_expression
from tap_ecommerce_postgres.type_mapping import Column

LSN_COLUMN = "_sdc_lsn"
DELETED_AT_COLUMN = "_sdc_deleted_at"
REREAD_COLUMN = "_sdc_toast_reread"  # true: an unchanged TOASTed value read by key (later)
REREAD_MARK = b',"_sdc_toast_reread":true}'
ROW_COLUMN = "_sdc_cdc_row"  # input order inside the rendering query (not in records)
FETCH_MESSAGES = 5_000  # at most, per fetch (fewer when messages are big)
CHUNK_CHANGES = 5_000  # changes rendered by one query, at most
DEFAULT_CHUNK_BYTES = 16 << 20  # bytes of messages per chunk, about (a single row may be more)
NEW_SNAPSHOT = (
    "Take a new snapshot: drop the slot (python -m tap_ecommerce_postgres.cdc.drop) and "
    "clear this stream's state"
)

log = logging.getLogger(__name__)
_new = tuple.__new__  # RowChange(...) without its Python-level __new__: the hot path

PEEK_SQL = (
    "select (lsn - '0/0'::pg_lsn)::int8, data from pg_logical_slot_peek_binary_changes("
    "%s, %s::pg_lsn, NULL, 'proto_version', '1', 'publication_names', %s)"
)


class ByteMeter:
    """Bytes of messages read so far: `peek()` counts, `transactions()` cuts by them."""

    __slots__ = ("read",)

    def __init__(self) -> None:
        self.read = 0


def peek(
    conn: psycopg.Connection,
    slot: str,
    publication: str,
    upto: int,
    *,
    meter: ByteMeter | None = None,
    fetch_bytes: int = DEFAULT_CHUNK_BYTES // 4,
) -> Iterator[tuple[int, pgoutput.Message]]:
    """(change LSN, decoded message) for every transaction committed before `upto`; the
    slot does not move. A fetch takes as many messages as fit in `fetch_bytes` if each
    were as big as the biggest seen so far (1 to `FETCH_MESSAGES`; the first takes one,
    and each at most twice the last: sizes are learnt before many are asked for).
    `conn` must not be in autocommit (the cursor lives in a transaction)."""
    meter = meter or ByteMeter()
    count = biggest = 1
    # binary: the messages arrive as bytes, not as hex text to decode
    with conn.cursor(name="tap_ecommerce_postgres_changes", binary=True) as cursor:
        cursor.execute(PEEK_SQL, [slot, int_to_lsn(upto), publication])
        decode = pgoutput.decode
        while rows := cursor.fetchmany(count):
            biggest = max(biggest, max(len(data) for _, data in rows))
            for lsn, data in rows:
                meter.read += len(data)
                yield lsn, decode(data)
            count = max(1, min(FETCH_MESSAGES, 2 * count, fetch_bytes // biggest))


class RowChange(NamedTuple):
    kind: str  # "insert", "update" or "delete"
    relation: pgoutput.Relation
    values: tuple  # the text of each value, as bytes, in the relation's column order
    lsn: int  # the change's own WAL position (per key, the order of its changes)
    deleted_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Transaction:
    """Row changes of one transaction, or the next chunk of a big one (then `end_lsn` is
    None: only a whole transaction may be bookmarked)."""

    end_lsn: int | None  # confirming this LSN skips this transaction and every earlier one
    changes: list[RowChange]
    commit_lsn: int | None = None  # the commit record's own position (no change has it)


def transactions(
    messages: Iterator[tuple[int, pgoutput.Message]],
    table: tuple[str, str],
    primary_key: Sequence[str],
    table_oid: int | None = None,
    *,
    meter: ByteMeter | None = None,
    max_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[Transaction]:
    """Committed transactions of row changes to `table` (schema, name), a big one in
    chunks of at most `CHUNK_CHANGES` changes and about `max_bytes` of messages (as
    `meter`, the one `peek()` counts in, says). An update that changes the primary key is
    a delete of the old key and then the new row. TRUNCATE cannot be expressed as row
    changes, nor can dropping the table (changes of a table of that name whose OID is not
    `table_oid`, the current one's): errors naming the way out."""
    relations: dict[int, pgoutput.Relation] = {}
    changes: list[RowChange] = []
    commit_time = None
    meter = meter or ByteMeter()
    start = meter.read  # where the chunk under way began
    row_change = (pgoutput.Insert, pgoutput.Update, pgoutput.Delete)
    for lsn, message in messages:
        if type(message) in row_change:  # nearly every message: tested first
            relation = relations[message.relation_oid]
            if (relation.namespace, relation.name) != table:
                continue
            if table_oid is not None and relation.oid != table_oid:
                raise LogBasedError(
                    f"{table[0]}.{table[1]} was dropped and created again after the bookmark "
                    f"(change at {int_to_lsn(lsn)}): its old rows vanished without deletes. "
                    + NEW_SNAPSHOT
                )
            changes.extend(_row_changes(message, relation, lsn, commit_time, primary_key))
            # memory stays flat in a huge transaction, and whatever the row width
            if len(changes) >= CHUNK_CHANGES or meter.read - start >= max_bytes:
                yield Transaction(None, changes)
                changes, start = [], meter.read
        elif isinstance(message, pgoutput.Begin):
            changes, commit_time, start = [], message.commit_time, meter.read
        elif isinstance(message, pgoutput.Relation):
            relations[message.oid] = message
        elif isinstance(message, pgoutput.Commit):
            yield Transaction(message.end_lsn, changes, message.commit_lsn)
            changes, start = [], meter.read
        elif isinstance(message, pgoutput.Truncate) and any(
            (relations[oid].namespace, relations[oid].name) == table
            for oid in message.relation_oids
            if oid in relations
        ):
            raise LogBasedError(
                f"{table[0]}.{table[1]} was truncated (change at {int_to_lsn(lsn)}): a "
                "TRUNCATE is not a row change. " + NEW_SNAPSHOT
            )


def key_positions(relation: pgoutput.Relation, primary_key: Sequence[str]) -> list[int]:
    """Where the primary key's columns are in the relation (not pgoutput's key flags:
    under REPLICA IDENTITY FULL every column is flagged)."""
    names = [c.name for c in relation.columns]
    return [names.index(k) for k in primary_key if k in names]


def _row_changes(message, relation, lsn: int, commit_time, primary_key) -> list[RowChange]:
    if type(message) is pgoutput.Update and message.old is None:  # the common update
        return [_new(RowChange, ("update", relation, message.new, lsn, None))]
    if isinstance(message, pgoutput.Insert):
        return [RowChange("insert", relation, message.new, lsn)]
    if isinstance(message, pgoutput.Delete):
        return [RowChange("delete", relation, message.old, lsn, commit_time)]
    new = message.new
    old = message.old
    result = []
    if old is not None:
        keys = key_positions(relation, primary_key)
        if any(old[i] != new[i] and new[i] is not UNCHANGED for i in keys):
            result.append(RowChange("delete", relation, old, lsn, commit_time))
        if not message.old_is_key:  # REPLICA IDENTITY FULL: unchanged values are in `old`
            new = tuple(o if n is UNCHANGED else n for o, n in zip(old, new, strict=True))
    result.append(RowChange("update", relation, new, lsn))
    return result


class RecordRenderer:
    """Turns row changes into record JSON text through Postgres, with the full-table
    path's expression for each column (queries.column_expression)."""

    def __init__(
        self,
        conn: psycopg.Connection,
        relation_sql: sql.Composable,
        columns: Sequence[Column],
        source_timezone: str,
        primary_key: Sequence[str],
        *,
        python_rendering: bool = True,
        tally: collections.Counter | None = None,
    ) -> None:
        self.conn = conn
        self.relation_sql = relation_sql
        self.primary_key = list(primary_key)
        self.columns = list(columns)  # the stream's record columns, in record order
        self.source_timezone = source_timezone
        self._queries: dict[tuple, sql.Composable] = {}
        self._plans: dict[tuple, record_json.RecordPlan | None] = {}
        self._cast_types: dict[tuple[int, int], str] = {}
        self.python_rendering = python_rendering
        self.tally = collections.Counter() if tally is None else tally  # python / postgres
        self.skipped_gone = 0
        self.relation_columns: tuple | None = None  # the relation version it was made for

    def _type_names(self, relation: pgoutput.Relation) -> list[str]:
        """The type each column's text is cast to: its own, but an enum's as text and a
        domain's as its base type (arrays alike). A change's text is what the value was
        *then*: cast to today's enum (a label renamed since) or domain (a NOT VALID check
        added since) it could fail, and every later run with it."""
        return [self._cast_type(c.type_oid, c.type_modifier) for c in relation.columns]

    def _cast_type(self, type_oid: int, type_modifier: int) -> str:
        key = (type_oid, type_modifier)
        if key not in self._cast_types:
            kind, base, base_modifier, element, name = self.conn.execute(
                "select typtype, typbasetype, typtypmod,"
                " case when typcategory = 'A' then typelem end, format_type(oid, %s)"
                " from pg_type where oid = %s",
                [type_modifier, type_oid],
            ).fetchone()
            if kind == "e":
                name = "text"
            elif kind == "d":
                name = self._cast_type(base, base_modifier)
            elif element:
                name = self._cast_type(element, type_modifier) + "[]"
            self._cast_types[key] = name  # format_type(): quoted by Postgres
        return self._cast_types[key]

    def _query(self, relation: pgoutput.Relation) -> sql.Composable:
        """SELECT rendering a batch of this relation's rows (text[][] of values, LSNs,
        deletion times) as record JSON, in input order."""
        key = (relation.oid, relation.columns)
        if key not in self._queries:
            types = self._type_names(relation)
            position = {c.name: i for i, c in enumerate(relation.columns)}
            casts = sql.SQL(", ").join(
                sql.SQL("(input.v->>{})::{} as {}").format(
                    sql.Literal(position[c.name]),
                    sql.SQL(types[position[c.name]]),  # format_type(): quoted by Postgres
                    sql.Identifier(c.name),
                )
                for c in self.columns
                if c.name in position
            )
            exprs = sql.SQL(", ").join(
                [
                    sql.SQL("{} as {}").format(
                        column_expression(c, self.source_timezone), sql.Identifier(c.name)
                    )
                    for c in self.columns
                    if c.name in position
                ]
                + [
                    sql.SQL("src.{0} as {0}").format(sql.Identifier(name))
                    for name in (LSN_COLUMN, DELETED_AT_COLUMN)
                ]
            )
            # One JSON array per row: the values as text, then the LSN and deletion time
            # (json_array_elements is linear; subscripting a big 2-D array is not). The
            # table's columns are in scope only as `src`'s, so any column name is safe.
            width = len(relation.columns)
            self._queries[key] = sql.SQL(
                "select row_to_json(rec)::text from ("
                "select {casts}, (input.v->>{l})::int8 as {lsn},"
                " (input.v->>{d})::timestamptz as {deleted}, input.n as {row}"
                " from json_array_elements(%s::json) with ordinality as input(v, n)) as src"
                " cross join lateral (select {exprs}) as rec order by src.{row}"
            ).format(
                casts=casts,
                exprs=exprs,
                l=sql.Literal(width),
                d=sql.Literal(width + 1),
                lsn=sql.Identifier(LSN_COLUMN),
                deleted=sql.Identifier(DELETED_AT_COLUMN),
                row=sql.Identifier(ROW_COLUMN),
            )
        return self._queries[key]

    def _plan(self, relation: pgoutput.Relation) -> record_json.RecordPlan | None:
        """The Python rendering of this relation version, or None: Postgres renders."""
        key = (relation.oid, relation.columns)
        if key not in self._plans:
            self._plans[key] = (
                record_json.plan(
                    [(c.name, c.type_oid) for c in relation.columns],
                    [c.name for c in self.columns],
                    self.source_timezone,
                )
                if self.python_rendering
                else None
            )
        return self._plans[key]

    def render(self, changes: Sequence[RowChange]) -> list[bytes]:
        """Record JSON of each change (same order); updates whose unchanged TOASTed value
        cannot be known any more are left out (see the module docstring)."""
        filled = self._filled(changes)
        lines: list[bytes] = []
        start = 0
        while start < len(changes):  # runs of one relation version share a plan
            stop = start + 1
            while stop < len(changes) and changes[stop].relation is changes[start].relation:
                stop += 1
            run = changes[start:stop]
            if filled:  # changes with a re-read value are replaced (None: the row is gone)
                run = [filled.get(i, c) for i, c in enumerate(run, start)]
            kept = [c for c in run if c is not None] if filled else run
            if kept:
                rendered = self._render_run(kept)
                if filled:  # the re-read ones are marked
                    reread = [i in filled for i, c in enumerate(run, start) if c is not None]
                    rendered = [
                        line[:-1] + REREAD_MARK if mark else line
                        for line, mark in zip(rendered, reread, strict=True)
                    ]
                lines.extend(rendered)
            start = stop
        return lines

    def _render_run(self, run: list[RowChange]) -> list[bytes]:
        """One relation version's changes: in Python where the plan allows, the rest
        (in their places) by Postgres."""
        plan = self._plan(run[0].relation)
        if plan is None:
            return self._rendered_by_postgres(run)
        rendered = [plan.render(c.values, c.lsn, c.deleted_at) for c in run]
        left = [c for c, line in zip(run, rendered, strict=True) if line is None]
        self.tally["python"] += len(run) - len(left)
        if left:
            by_postgres = iter(self._rendered_by_postgres(left))
            rendered = [next(by_postgres) if line is None else line for line in rendered]
        return rendered  # type: ignore[return-value]

    def _rendered_by_postgres(self, run: list[RowChange]) -> list[bytes]:
        self.tally["postgres"] += len(run)
        payload = json.dumps(
            [
                [
                    *(v if v is None else v.decode() for v in c.values),
                    c.lsn,
                    c.deleted_at and c.deleted_at.isoformat(),
                ]
                for c in run
            ],
            ensure_ascii=False,
        )
        rows = self.conn.execute(self._query(run[0].relation), [payload]).fetchall()
        return [row[0].encode() for row in rows]

    def _filled(self, changes: Sequence[RowChange]) -> dict[int, RowChange | None]:
        """The changes with an unchanged TOASTed value (by position), their values read
        by key, one query per relation version (see the module docstring); None: the
        row is gone."""
        waiting: dict[pgoutput.Relation, list[int]] = {}
        for i, change in enumerate(changes):
            if UNCHANGED in change.values:
                waiting.setdefault(change.relation, []).append(i)
        filled: dict[int, RowChange | None] = {}
        for relation, positions in waiting.items():
            current = self._current_values(relation, [changes[i] for i in positions])
            for i, row in zip(positions, current, strict=True):
                filled[i] = self._with_current(changes[i], row)
        return filled

    def _current_values(
        self, relation: pgoutput.Relation, changes: list[RowChange]
    ) -> list[dict[int, bytes | None] | None]:
        """Each change's row as it is now (column position -> text) for the columns some
        change left unchanged, or None when the row is gone: one query, keys typed."""
        columns = relation.columns
        keys = key_positions(relation, self.primary_key)
        if len(keys) != len(self.primary_key):
            raise LogBasedError(
                f"{relation.namespace}.{relation.name}: an unchanged TOASTed value cannot be "
                "re-read without the primary key (use REPLICA IDENTITY FULL)"
            )
        missing = sorted({i for c in changes for i, v in enumerate(c.values) if v is UNCHANGED})
        types = self._type_names(relation)
        aliases = [sql.Identifier(f"k{n}") for n in range(len(keys))]
        query = sql.SQL(
            "select k.n, {cols} from unnest({arrays}) with ordinality as k({aliases}, n)"
            " join {rel} as t on {cond}"
        ).format(
            cols=sql.SQL(", ").join(
                sql.SQL("t.{}::text").format(sql.Identifier(columns[i].name)) for i in missing
            ),
            arrays=sql.SQL(", ").join(sql.SQL("%s::text[]") for _ in keys),
            aliases=sql.SQL(", ").join(aliases),
            rel=self.relation_sql,
            cond=sql.SQL(" and ").join(
                sql.SQL("t.{} = k.{}::{}").format(
                    sql.Identifier(columns[i].name), alias, sql.SQL(types[i])
                )
                for i, alias in zip(keys, aliases, strict=True)
            ),
        )
        params = [[c.values[i].decode() for c in changes] for i in keys]
        found = {row[0]: row[1:] for row in self.conn.execute(query, params)}
        return [
            None
            if n not in found
            else {
                i: (None if value is None else value.encode())
                for i, value in zip(missing, found[n], strict=True)
            }
            for n in range(1, len(changes) + 1)
        ]

    def _with_current(
        self, change: RowChange, current: dict[int, bytes | None] | None
    ) -> RowChange | None:
        if current is None:
            self.skipped_gone += 1
            log.warning(
                "%s.%s: an update at %s left a TOASTed value unchanged and the row is gone "
                "now; its later delete is in the slot, so the update is skipped",
                change.relation.namespace,
                change.relation.name,
                int_to_lsn(change.lsn),
            )
            return None
        values = tuple(current[i] if v is UNCHANGED else v for i, v in enumerate(change.values))
        return RowChange(change.kind, change.relation, values, change.lsn)
