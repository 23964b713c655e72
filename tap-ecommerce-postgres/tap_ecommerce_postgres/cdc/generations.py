"""Snapshot generations of a LOG_BASED stream, marked in its records so that staging can
retire what a new snapshot no longer holds.

A stream's bronze is append-only: its first snapshot, changes, and perhaps a later
snapshot (the state cleared after a TRUNCATE or a lost slot, or a schema change below).
A key that a new snapshot does not hold was deleted while no slot watched it, and no
delete record will ever say so. So:
- every snapshot row carries `_sdc_snapshot_lsn`, the consistent point of the slot the
  snapshot belongs to: one value per snapshot, its generation (a snapshot cut short and
  finished by the next run keeps the value: same slot); changes leave it null;
- after the snapshot's last row, one end record: the key and every other column null,
  `_sdc_snapshot_lsn` set (a row's key is never null, so a null key marks it). It says
  the generation is complete, also when the table was empty.
Staging (`current_state()`, transform/macros/dedupe.sql) keeps only the rows of the
latest complete generation and what was loaded after its end record.

The state keeps the table's columns as the snapshot saw them (`columns`: attnum, name,
type). When a later run starts and a column was renamed or retyped, or added with values
in the existing rows (a DEFAULT, GENERATED, IDENTITY), every row not updated since
differs from the source and no change will say so: a WARNING names the columns and the
stream takes a new snapshot in this run, in a new slot (this state's old slot is
dropped); the new generation retires the older rows downstream. A nullable column added
without a default (existing rows hold NULL, as bronze does) and a dropped column need
no new snapshot. A state written before this check has no `columns`: the first run
records them, and a change made before that run goes unnoticed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from tap_ecommerce_postgres.cdc.changes import DELETED_AT_COLUMN, LSN_COLUMN

SNAPSHOT_COLUMN = "_sdc_snapshot_lsn"
COLUMNS = "columns"  # the stream state's key: the table's columns at the snapshot


def snapshot_constants(stream) -> tuple[tuple[str, int], ...]:
    """The columns every row of the read carries: the generation, during a snapshot."""
    generation = getattr(stream, "_snapshot_lsn", None)
    return () if generation is None else ((SNAPSHOT_COLUMN, generation),)


COLUMNS_SQL = """
select a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
    a.attnotnull or d.adrelid is not null or a.attgenerated <> '' or a.attidentity <> ''
from pg_attribute as a
left join pg_attrdef as d on d.adrelid = a.attrelid and d.adnum = a.attnum
where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
order by a.attnum
"""


@dataclass(frozen=True)
class ColumnChanges:
    """What changed in a table's columns since the snapshot recorded them."""

    diverged: list[str]  # renamed or retyped, or added with values in existing rows
    dropped: list[str]  # their old values stay in bronze, under their old name

    def __bool__(self) -> bool:
        return bool(self.diverged)


def current_columns(conn: psycopg.Connection, relation_sql: sql.Composable) -> list[list]:
    """[attnum, name, type, fills existing rows] per column: a renamed column keeps its
    attnum; an added column fills existing rows when it has a default, is generated or
    an identity, or is NOT NULL (which needs one of those)."""
    return [
        list(row) for row in conn.execute(COLUMNS_SQL, [relation_sql.as_string(conn)]).fetchall()
    ]


def record_columns(state: dict[str, Any], columns: list[list]) -> None:
    state[COLUMNS] = [[number, name, type_name] for number, name, type_name, _ in columns]


def changed_columns(state: dict[str, Any], columns: list[list]) -> ColumnChanges:
    """Changes since the recorded columns (none when nothing was recorded). ADD COLUMN
    without a default (existing rows hold NULL, as bronze does) and DROP COLUMN need no
    new snapshot; every other change does."""
    recorded = {number: (name, type_name) for number, name, type_name in state.get(COLUMNS, [])}
    if not recorded:
        return ColumnChanges([], [])
    current = {number: (name, type_name, fills) for number, name, type_name, fills in columns}
    diverged = []
    for number, (name, type_name, fills) in current.items():
        before = recorded.get(number)
        if before is None and fills:
            diverged.append(f"{name} {type_name} (added with values)")
        elif before is not None and before != (name, type_name):
            diverged.append(f"{before[0]} {before[1]} -> {name} {type_name}")
    dropped = [name for number, (name, _) in recorded.items() if number not in current]
    return ColumnChanges(diverged, dropped)


def warn_and_drop_slot(
    stream, conn: psycopg.Connection, slot: str | None, changes: ColumnChanges
) -> None:
    """The WARNING that says what diverged; this state's slot goes (its changes are
    superseded by the new snapshot, and a kept slot would retain WAL forever)."""
    stream.logger.warning(
        "stream %s: columns changed since the stream's snapshot (%s): every row not "
        "updated since differs from the source and no change says so; taking a new "
        "snapshot in a new slot, which retires the stream's older rows downstream "
        "(this state's slot %s is dropped)",
        stream.name,
        "; ".join(changes.diverged),
        slot,
    )
    if slot:
        conn.execute(
            "select pg_drop_replication_slot(slot_name) from pg_replication_slots"
            " where slot_name = %s",
            [slot],
        )


def read_generation(
    stream, generation: int, read_table: Callable[[], Iterator], write: Callable[[list], None]
) -> Iterator:
    """The snapshot's read (generator, as `read_table`), every row marked with
    `generation`, then the end record (written by `write`, as the changes are)."""
    stream._snapshot_lsn = generation
    try:
        yield from read_table()
    finally:
        stream._snapshot_lsn = None
    with stream.get_record_counter() as counter:  # the monitor counts it as the target does
        write([end_record(stream.primary_keys, generation)])
        counter.increment(1)


def end_record(primary_key: list[str], generation: int) -> bytes:
    """The record JSON that closes a complete snapshot: a null key and its generation."""
    record: dict[str, Any] = {key: None for key in primary_key}
    record.update({LSN_COLUMN: None, DELETED_AT_COLUMN: None, SNAPSHOT_COLUMN: generation})
    return json.dumps(record).encode()
