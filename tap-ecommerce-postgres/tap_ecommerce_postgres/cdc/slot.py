"""The replication slot and publication of one LOG_BASED stream, and how they move.

One publication per stream (`names()`), and one slot per stream *and per state*: a first
run creates `<names().slot>_<random token>` and keeps that name in the stream's state
(`state_slot()`), so each stream's bookmark moves its own slot, a stream's failure never
holds back another's, and two Meltano states reading the same table (two environments,
a person's run beside the schedule's) never move or drop each other's slot. States
written before the token existed keep using the plain name. The slot is only ever
*peeked* (`pg_logical_slot_peek_binary_changes`), never consumed by reading: it moves
only when `advance()` is given an LSN that a persisted STATE holds, i.e. at the start of
the next run. A run killed at any point therefore leaves the slot where the last
persisted STATE says, and the next run re-reads everything after it (at-least-once).

Required of the role (see the README): the REPLICATION attribute (slot functions), and
either ownership of the table (the tap then creates the publication itself) or a
publication created beforehand by the DBA with the name the tap logs.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from psycopg import sql

from tap_ecommerce_postgres.cdc.pgoutput import int_to_lsn, lsn_to_int
from tap_ecommerce_postgres.connection import ConnectionFailed, ConnectionParameters

DEFAULT_PREFIX = "tap_ecommerce_postgres"
DEFAULT_MAX_RETAINED_WAL_BYTES = 1 << 30  # a forgotten slot keeps WAL until the disk fills
NAME_LIMIT = 63  # NAMEDATALEN - 1
TOKEN_BYTES = 4  # a state's slot: the stream's name + "_" + 8 hex characters

log = logging.getLogger(__name__)


class LogBasedError(RuntimeError):
    """A LOG_BASED stream cannot go on without someone's decision (message says which)."""


@dataclass(frozen=True)
class SlotNames:
    slot: str
    publication: str


def names(prefix: str, database: str, schema: str, table: str) -> SlotNames:
    """Slot and publication names of one stream: readable, <= 63 characters, unique per
    database and table (a hash of both; slots are cluster-wide, publications are not)."""
    readable = re.sub(r"[^a-z0-9_]+", "_", f"{prefix}_{schema}_{table}".lower())
    digest = hashlib.sha256(f"{database}\0{schema}\0{table}".encode()).hexdigest()[:10]
    room = NAME_LIMIT - len(digest) - 1 - (2 * TOKEN_BYTES + 1)  # state_slot() adds a token
    name = f"{readable[:room]}_{digest}"
    return SlotNames(slot=name, publication=name)


def state_slot(stream_slot: str) -> str:
    """A new slot name for one state's snapshot and changes (see the module docstring)."""
    return f"{stream_slot}_{secrets.token_hex(TOKEN_BYTES)}"


def stream_slots(conn: psycopg.Connection, stream_slot: str) -> list[tuple[str, int]]:
    """Every slot of one stream in this database (the plain name and the states' ones),
    with the WAL each retains in bytes."""
    pattern = stream_slot.replace("_", "\\_") + "\\_%"
    return [
        (name, int(retained or 0))
        for name, retained in conn.execute(
            "select slot_name, pg_wal_lsn_diff(pg_current_wal_flush_lsn(), restart_lsn)::bigint"
            " from pg_replication_slots where database = current_database()"
            " and (slot_name = %s or slot_name like %s) order by slot_name",
            [stream_slot, pattern],
        ).fetchall()
    ]


def drop_if_idle(conn: psycopg.Connection, slot: str) -> bool:
    """Drop `slot` unless a session is using it; whether it was dropped."""
    try:
        return bool(
            conn.execute(
                "select pg_drop_replication_slot(slot_name) from pg_replication_slots"
                " where slot_name = %s and not active",
                [slot],
            ).fetchall()
        )
    except psycopg.errors.ObjectInUse:  # taken between the check and the drop
        return False


def wal_level(conn: psycopg.Connection) -> str:
    return str(conn.execute("show wal_level").fetchone()[0])


def ensure_publication(conn: psycopg.Connection, names_: SlotNames, table: sql.Composable) -> None:
    """The stream's publication must publish its table, and a partitioned table's
    changes under the table's own name (`publish_via_partition_root`: else pgoutput
    names the partition, and no change would match the stream). Created or corrected
    when needed (which needs ownership of the table), else a clear error with the DBA's
    command."""
    rows = conn.execute(
        "select p.pubname, exists (select 1 from pg_publication_rel r"
        " where r.prpubid = p.oid and r.prrelid = %s::regclass) or p.puballtables,"
        " p.pubviaroot, (select relkind = 'p' from pg_class where oid = %s::regclass)"
        " from pg_publication p where p.pubname = %s",
        [table.as_string(conn), table.as_string(conn), names_.publication],
    ).fetchall()
    publication = sql.Identifier(names_.publication)
    if rows and rows[0][1]:
        if rows[0][2] or not rows[0][3]:
            return
        change = sql.SQL("alter publication {} set (publish_via_partition_root = true)")
        problem = "publishes the partitioned table under its partitions' names"
        _run_as_owner(conn, change.format(publication), names_, problem)
        return
    create = sql.SQL("create publication {} for table {} with (publish_via_partition_root = true)")
    command = create.format(publication, table)
    if rows:
        command = sql.SQL("alter publication {} add table {}").format(publication, table)
    _run_as_owner(conn, command, names_, "is missing its table")
    if rows and not rows[0][2] and rows[0][3]:  # added a partitioned table to a DBA's
        ensure_publication(conn, names_, table)


def _run_as_owner(
    conn: psycopg.Connection, command: sql.Composable, names_: SlotNames, problem: str
) -> None:
    try:
        with conn.transaction():
            conn.execute("set transaction read write")
            conn.execute(command)
    except psycopg.errors.InsufficientPrivilege:
        raise LogBasedError(
            f"publication {names_.publication!r} {problem} and this role may not change it "
            f"(it must own the table and the publication); ask a DBA to run: "
            f"{command.as_string(conn)}"
        ) from None


def slot_position(conn: psycopg.Connection, slot: str) -> int | None:
    """The slot's confirmed position (changes before it are gone), or None: no slot."""
    row = conn.execute(
        "select confirmed_flush_lsn::text, plugin, database = current_database()"
        " from pg_replication_slots where slot_name = %s",
        [slot],
    ).fetchone()
    if row is None:
        return None
    position, plugin, same_database = row
    if plugin != "pgoutput" or not same_database:
        raise LogBasedError(
            f"replication slot {slot!r} exists but is not a pgoutput slot of this database"
        )
    return lsn_to_int(position)


def create_slot(conn: psycopg.Connection, slot: str) -> int:
    """A new logical slot; its consistent point (every change after it is kept)."""
    try:
        (position,) = conn.execute(
            "select lsn::text from pg_create_logical_replication_slot(%s, 'pgoutput')", [slot]
        ).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        raise LogBasedError(
            "LOG_BASED needs the REPLICATION attribute on the tap's role to create replication "
            f"slot {slot!r} (ALTER ROLE <role> REPLICATION)"
        ) from None
    except psycopg.errors.ObjectNotInPrerequisiteState as error:
        raise LogBasedError(f"cannot create replication slot {slot!r}: {error}") from None
    log.info("created replication slot %s at %s", slot, position)
    return lsn_to_int(position)


@contextlib.contextmanager
def created_with_snapshot(parameters: ConnectionParameters, slot: str) -> Iterator[tuple[int, str]]:
    """A new slot, created over a replication connection that exports the snapshot of
    the slot's consistent point: (consistent point, snapshot id). A read in that snapshot
    (SET TRANSACTION SNAPSHOT) sees exactly the transactions committed before the first
    change the slot keeps, so snapshot and changes neither overlap nor leave a gap. The
    snapshot lives while the connection stays idle: the caller reads inside the `with`.

    Raises SnapshotUnavailable when the server refuses a replication connection (no
    `replication` line in pg_hba.conf): the caller may fall back to create_slot()."""
    try:
        conn = parameters.connect(replication=True)
    except ConnectionFailed as error:  # its message never holds the password
        raise SnapshotUnavailable(str(error)) from None
    with contextlib.closing(conn):
        command = sql.SQL("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT 'export')")
        try:
            row = conn.execute(command.format(sql.Identifier(slot))).fetchone()
        except psycopg.errors.InsufficientPrivilege:
            raise LogBasedError(
                "LOG_BASED needs the REPLICATION attribute on the tap's role to create "
                f"replication slot {slot!r} (ALTER ROLE <role> REPLICATION)"
            ) from None
        except psycopg.Error as error:
            raise LogBasedError(f"cannot create replication slot {slot!r}: {error}") from None
        _, position, snapshot, _ = row
        log.info("created replication slot %s at %s, snapshot %s", slot, position, snapshot)
        yield lsn_to_int(position), snapshot


class SnapshotUnavailable(RuntimeError):
    """No replication connection: the slot's snapshot cannot be exported."""


def advance(conn: psycopg.Connection, slot: str, bookmark: int) -> None:
    """Confirm the slot up to `bookmark`, an LSN a persisted STATE holds. A slot already
    past it means changes after the bookmark are gone: an error, never a silent gap."""
    position = slot_position(conn, slot)
    if position is None:
        raise LogBasedError(
            f"replication slot {slot!r} is gone but the bookmark needs changes after "
            f"{int_to_lsn(bookmark)}; clear this stream's state to take a new snapshot"
        )
    if position > bookmark:
        raise LogBasedError(
            f"replication slot {slot!r} is at {int_to_lsn(position)}, past the bookmark "
            f"{int_to_lsn(bookmark)}: the changes between are gone (another consumer or an "
            "older state?); clear this stream's state to take a new snapshot"
        )
    if position < bookmark:
        conn.execute(
            "select pg_replication_slot_advance(%s, %s::pg_lsn)", [slot, int_to_lsn(bookmark)]
        )


def retained_wal_bytes(conn: psycopg.Connection, slot: str) -> int:
    """WAL the server keeps for this slot (from its restart point to the current end)."""
    row = conn.execute(
        "select pg_wal_lsn_diff(pg_current_wal_flush_lsn(), restart_lsn)::bigint"
        " from pg_replication_slots where slot_name = %s",
        [slot],
    ).fetchone()
    return int(row[0] or 0) if row else 0


def flushed_wal_lsn(conn: psycopg.Connection) -> int:
    """Where a run's changes end: the WAL *flushed* so far. Logical decoding reads only
    flushed WAL, and a commit on `synchronous_commit = off` is written before it is
    flushed: a run that ended (and bookmarked) at the written position
    (`pg_current_wal_lsn()`) would skip the commits between the two for good."""
    return lsn_to_int(conn.execute("select pg_current_wal_flush_lsn()::text").fetchone()[0])
