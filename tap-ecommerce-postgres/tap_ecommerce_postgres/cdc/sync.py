"""One LOG_BASED stream's run: a snapshot the first time, then the slot's changes.

First run (no LSN in the bookmark): the slot is created over a replication connection
that exports its snapshot, and the table is read whole by the full-table path (fast path,
parallel readers, resumable by key) inside that very snapshot: it holds exactly the
transactions committed before the slot's consistent point, and the slot exactly those
after it, so no change is lost or delivered twice. The bookmark becomes the consistent
point only once that read is complete.

The documented at-least-once boundary: a snapshot cut short (the run died after a STATE
with a resume key) cannot rejoin its exported snapshot, which died with its connection.
The next run keeps the slot and reads the rest of the table in a new snapshot, taken
after the consistent point: a change committed in between is in that read and in the
slot, so it comes twice, each time as the full row (or delete) with, from the slot, its
`_sdc_lsn`; applying both by key gives the same state. The same holds when the server
refuses replication connections (no `replication` line in pg_hba.conf): the slot is then
created with the SQL function, whose snapshot cannot be exported (a WARNING says so). A
fresh snapshot (no bookmark, no resume key) always creates a new slot of this state's
own (slot.py), so it is always exact. Its name is in a STATE *before* the slot is
created: a first run killed before its snapshot ended leaves a state that names it, and
the next run drops it and starts again. A slot of this table that is not the state's (a
cleared state, another state's) is reported at every run (WARNING, with the WAL it
retains), and dropped once it is idle and retains more than
`log_based_max_retained_wal_bytes`.

Later runs: the slot is confirmed up to the bookmarked LSN (the previous run's persisted
STATE proves everything before it was delivered), then the changes committed before the
WAL flushed at the start of this run are emitted, STATE at transaction ends, and the
run ends (the batch style of Meltano schedules); `log_based_max_run_seconds` ends it
earlier, at a transaction's end, bookmarked there.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from tap_ecommerce_postgres.cdc import generations, key_moves
from tap_ecommerce_postgres.cdc import slot as slots
from tap_ecommerce_postgres.cdc.changes import (
    DEFAULT_CHUNK_BYTES,
    DELETED_AT_COLUMN,
    LSN_COLUMN,
    REREAD_COLUMN,
    ByteMeter,
    RecordRenderer,
    peek,
    transactions,
)
from tap_ecommerce_postgres.cdc.identity import check_replica_identity
from tap_ecommerce_postgres.cdc.pgoutput import int_to_lsn
from tap_ecommerce_postgres.discovery import discover_tables

LOG_BASED = "LOG_BASED"
# Set to 1 to have Postgres render every change (parity tests: record_json.py's output
# must equal it).
POSTGRES_RENDERING_ENV = "TAP_ECOMMERCE_POSTGRES_CDC_POSTGRES_RENDERING"
BOOKMARK = "lsn"  # the stream state's key: changes before it were delivered
SLOT = "slot"  # the stream state's key: the name of this state's replication slot


def with_change_columns(schema: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """A LOG_BASED stream's schema: `_sdc_lsn`, `_sdc_deleted_at` and `_sdc_toast_reread`
    added, and every non-key property nullable (a delete carries only the key)."""
    properties = {}
    for name, prop in schema.get("properties", {}).items():
        types = prop.get("type")
        if name not in keys and isinstance(types, str | list):
            types = [types] if isinstance(types, str) else list(types)
            if "null" not in types:
                prop = {**prop, "type": [*types, "null"]}
        properties[name] = prop
    properties[LSN_COLUMN] = {"type": ["integer", "null"]}
    properties[DELETED_AT_COLUMN] = {"type": ["string", "null"], "format": "date-time"}
    properties[REREAD_COLUMN] = {"type": ["boolean", "null"]}  # see cdc/changes.py
    properties[generations.SNAPSHOT_COLUMN] = {"type": ["integer", "null"]}
    return {**schema, "properties": properties}


def schema_message(stream, schema: dict[str, Any]) -> dict[str, Any]:
    """The SCHEMA a LOG_BASED stream sends (whatever the SDK's stream maps derived it
    from): change columns added, and columns added to the table since discovery."""
    added = getattr(stream, "_added_properties", {})
    widened = {**schema, "properties": {**schema.get("properties", {}), **added}}
    return with_change_columns(widened, list(stream.primary_keys))


def names_for(stream) -> slots.SlotNames:
    config = stream.config
    return slots.names(
        config.get("log_based_prefix") or slots.DEFAULT_PREFIX,
        stream._tap.connection_parameters.database or "",
        stream.table.schema,
        stream.table.name,
    )


def sync(stream, read_table: Callable[[], Iterator]):
    """The LOG_BASED run of `stream` (a PostgresStream): generator, as `_sync_records`.
    `read_table()` is the full read of a first run (records, or BATCH files with
    `batch_config`); changes always go out as RECORDs."""
    if not stream._reads_a_table or stream.table.is_view:
        raise slots.LogBasedError(f"stream {stream.name}: LOG_BASED needs a table")
    if not stream.primary_keys:
        raise slots.LogBasedError(f"stream {stream.name}: LOG_BASED needs a primary key")
    stream_names = names_for(stream)
    state = stream.stream_state
    bookmark = state.get(BOOKMARK)
    # this state's slot; a state from before per-state slots: the stream's plain name
    slot = state.get(SLOT) or (stream_names.slot if bookmark is not None else None)
    parameters = stream._tap.connection_parameters
    with contextlib.closing(parameters.connect()) as conn:
        conn.autocommit = True
        level = slots.wal_level(conn)
        if level != "logical":
            raise slots.LogBasedError(
                f"stream {stream.name}: LOG_BASED needs wal_level=logical (the server has "
                f"{level!r}; set it in postgresql.conf and restart)"
            )
        check_replica_identity(conn, stream.relation, stream.primary_keys)  # before publishing
        slots.ensure_publication(conn, stream_names, stream.relation)
        columns = generations.current_columns(conn, stream.relation)
        changed = generations.changed_columns(state, columns)
        if bookmark is not None and changed:  # a new snapshot, a new generation
            generations.warn_and_drop_slot(stream, conn, slot, changed)
            state.pop(BOOKMARK, None)
            state.pop("resume_after", None)
            bookmark = slot = None
        if generations.COLUMNS not in state or bookmark is None:
            generations.record_columns(state, columns)
        position = None
        if bookmark is None:
            if slot and state.get("resume_after") is not None:  # a snapshot cut short
                position = slots.slot_position(conn, slot)
            if position is None:  # a fresh snapshot, in a slot of this state's own
                state.pop("resume_after", None)
                slot = _recorded_slot(stream, conn, slot) or slots.state_slot(stream_names.slot)
                state[SLOT] = slot
                stream._emit_state()  # the name is this state's before the slot exists
        else:
            slots.advance(conn, slot, int(bookmark))
            upto = slots.flushed_wal_lsn(conn)
            _report_retained_wal(stream, conn, slot)
        _other_slots(stream, conn, stream_names.slot, slot)
    names = dataclasses.replace(stream_names, slot=slot)
    if bookmark is None:
        position = yield from _snapshot(stream, names, position, read_table)
        with contextlib.closing(parameters.connect()) as conn:  # what the snapshot let pile up
            _report_retained_wal(stream, conn, slot)
        state[BOOKMARK] = position
        stream._emit_state()
        return
    _emit_changes(stream, names, int(bookmark), upto)
    yield from ()


def _recorded_slot(stream, conn, slot: str | None) -> str | None:
    """The slot this state recorded for a snapshot that never finished (a first run
    killed before its snapshot's end): dropped if it was created, its name used again,
    so a dead first run never leaves a slot behind."""
    if slot and slots.slot_position(conn, slot) is not None:
        stream.logger.info(
            "stream %s: slot %s of a snapshot that never finished is dropped; a new "
            "snapshot follows in a new slot of the same name",
            stream.name,
            slot,
        )
        conn.execute("select pg_drop_replication_slot(%s)", [slot])
    return slot


def _other_slots(stream, conn, stream_slot: str, own: str) -> None:
    """Slots of this table that are not this state's keep WAL for someone else, or for
    nobody (a state cleared, a first run killed before the tap recorded its slot). One
    that is idle and retains more than `log_based_max_retained_wal_bytes` is dropped
    (the limit is the WAL the operator tolerates for a slot; a state whose slot it was
    is told at its next run that its slot is gone); the others are reported."""
    limit = _retained_wal_limit(stream)
    for other, retained in slots.stream_slots(conn, stream_slot):
        if other == own:
            continue
        if retained > limit and slots.drop_if_idle(conn, other):
            stream.logger.warning(
                "stream %s: dropped slot %s, not this state's (%s) and idle, which retained "
                "%d bytes of WAL, over log_based_max_retained_wal_bytes (%d); a state that "
                "still reads it takes a new snapshot (clear its state)",
                stream.name,
                other,
                own,
                retained,
                limit,
            )
            continue
        stream.logger.warning(
            "stream %s: slot %s (retains %d bytes of WAL) is not this state's (%s): "
            "another state reads this table with the same log_based_prefix, or it was "
            "abandoned; drop an abandoned one with pg_drop_replication_slot('%s') (dropped "
            "by the tap once it retains more than log_based_max_retained_wal_bytes)",
            stream.name,
            other,
            retained,
            own,
            other,
        )


def _retained_wal_limit(stream) -> int:
    return int(
        stream.config.get("log_based_max_retained_wal_bytes")
        or slots.DEFAULT_MAX_RETAINED_WAL_BYTES
    )


def _snapshot(stream, names: slots.SlotNames, position: int | None, read_table):
    """The full read of a first run (generator, as `_sync_table`); returns the slot's
    consistent point. `position`: the slot of a snapshot cut short, else None."""
    parameters = stream._tap.connection_parameters
    fast = stream._uses_fast_path()
    if position is None:
        try:
            with slots.created_with_snapshot(parameters, names.slot) as (position, snapshot):
                stream.logger.info(
                    "stream %s: snapshot %s of slot %s at %s; its changes follow next run",
                    stream.name,
                    snapshot,
                    names.slot,
                    int_to_lsn(position),
                )
                stream._snapshot_id = snapshot
                try:
                    yield from generations.read_generation(
                        stream, position, read_table, lambda lines: _write(stream, lines, fast)
                    )
                finally:
                    stream._snapshot_id = None
            return position
        except slots.SnapshotUnavailable as error:
            stream.logger.warning(
                "stream %s: no replication connection (%s); the slot is created without an "
                "exported snapshot, so changes committed during the snapshot may come "
                "twice (at-least-once; allow the role in pg_hba.conf's replication lines "
                "for an exact snapshot)",
                stream.name,
                error,
            )
            with contextlib.closing(parameters.connect()) as conn:
                conn.autocommit = True
                position = slots.create_slot(conn, names.slot)
    else:
        stream.logger.warning(
            "stream %s: resuming a snapshot cut short, in a new snapshot after slot %s's "
            "consistent point %s: changes committed meanwhile may come twice (at-least-once)",
            stream.name,
            names.slot,
            int_to_lsn(position),
        )
    yield from generations.read_generation(
        stream, position, read_table, lambda lines: _write(stream, lines, fast)
    )
    return position


def _report_retained_wal(stream, conn, slot: str) -> None:
    retained = slots.retained_wal_bytes(conn, slot)
    limit = _retained_wal_limit(stream)
    stream.logger.info("stream %s: slot %s retains %d bytes of WAL", stream.name, slot, retained)
    if retained > limit:
        stream.logger.warning(
            "stream %s: slot %s retains %d bytes of WAL, over log_based_max_retained_wal_bytes "
            "(%d): run the tap more often, or drop the slot if the stream is abandoned",
            stream.name,
            slot,
            retained,
            limit,
        )


def _emit_changes(stream, names: slots.SlotNames, bookmark: int, upto: int) -> None:
    """Changes committed before `upto`, as RECORDs; STATE after a transaction once
    `state_every_n_rows` records went out, and at the end."""
    state = stream.stream_state
    every = stream.STATE_MSG_FREQUENCY
    fast = stream._uses_fast_path()
    parameters = stream._tap.connection_parameters
    table = (stream.table.schema, stream.table.name)
    emitted = since_state = 0
    last_end = bookmark
    limit = float(stream.config.get("log_based_max_run_seconds") or 0)
    deadline = time.monotonic() + limit if limit > 0 else None
    stopped_early = False
    with contextlib.closing(parameters.connect()) as conn, stream.get_record_counter() as counter:
        tally: collections.Counter[str] = collections.Counter()  # who rendered the changes
        renderer = _renderer(stream, conn, tally=tally)
        chunk_bytes = int(stream.config.get("log_based_max_chunk_bytes") or DEFAULT_CHUNK_BYTES)
        meter = ByteMeter()
        messages = peek(
            conn, names.slot, names.publication, upto, meter=meter, fetch_bytes=chunk_bytes // 4
        )
        (oid,) = conn.execute(
            "select %s::regclass::oid::int8", [stream.relation.as_string(conn)]
        ).fetchone()
        found = transactions(
            messages, table, stream.primary_keys, oid, meter=meter, max_bytes=chunk_bytes
        )
        moves = key_moves.for_table(conn, stream.relation, stream.primary_keys)
        try:
            for transaction in found:
                if any(
                    c.relation.columns != renderer.relation_columns for c in transaction.changes
                ):
                    renderer = _renderer(stream, conn, transaction.changes, tally=tally)
                lines = renderer.render(transaction.changes)
                if moves is not None:  # a deferrable key: keys that held two rows
                    moves.note(transaction.changes)
                    if transaction.end_lsn is not None:
                        lines += renderer.render(moves.settle(conn, transaction.commit_lsn))
                _write(stream, lines, fast)
                counter.increment(len(lines))
                emitted += len(lines)
                since_state += len(lines)
                if transaction.end_lsn is None:  # part of a big transaction: no STATE yet
                    continue
                last_end = max(last_end, transaction.end_lsn)
                if deadline is not None and time.monotonic() >= deadline:
                    stopped_early = True
                    break
                if since_state >= every:
                    state[BOOKMARK] = last_end
                    stream._emit_state()
                    since_state = 0
        except slots.LogBasedError:  # (TRUNCATE) what went out before it is bookmarked
            if last_end > bookmark:
                state[BOOKMARK] = last_end
                stream._emit_state()
            raise
        finally:
            found.close()  # an early stop: the slot's cursor is closed before the rollback
            messages.close()
        conn.rollback()
    if stopped_early:  # the rest of the changes follow next run
        stream.logger.info(
            "stream %s: log_based_max_run_seconds (%g) reached at %s; the changes after it "
            "follow next run",
            stream.name,
            limit,
            int_to_lsn(last_end),
        )
    state[BOOKMARK] = last_end if stopped_early else max(last_end, upto)
    stream._emit_state()
    stream.logger.info(
        "stream %s: %d changes up to %s (%d rendered in Python, %d by Postgres)",
        stream.name,
        emitted,
        int_to_lsn(state[BOOKMARK]),
        tally["python"],
        tally["postgres"],
    )


def _renderer(stream, conn, changes=(), *, tally: collections.Counter) -> RecordRenderer:
    """A renderer for the stream's current columns; a relation with columns the stream
    has not declared yet (ALTER TABLE ... ADD COLUMN during the run, or after the catalog
    was made) re-discovers the table first and sends the new SCHEMA."""
    known = set(stream.effective_schema.get("properties", {}))
    known |= set(getattr(stream, "_added_properties", {}))
    relation_columns = None
    for change in changes:
        relation_columns = change.relation.columns
        if any(c.name not in known for c in relation_columns):
            _rediscover(stream, conn)
            break
    extra = getattr(stream, "_added_properties", {})
    renderer = RecordRenderer(
        conn,
        stream.relation,
        [
            c
            for c in stream.table.columns
            if c.name in extra or stream.mask.get(("properties", c.name), False)
        ],
        stream.config.get("source_timezone") or "UTC",
        stream.primary_keys,
        python_rendering=os.environ.get(POSTGRES_RENDERING_ENV) != "1",
        tally=tally,
    )
    renderer.relation_columns = relation_columns
    return renderer


def _rediscover(stream, conn) -> None:
    """New columns: the table re-read from the catalog, the stream's schema widened and
    sent again (the new columns are selected: a LOG_BASED stream follows its table)."""
    from tap_ecommerce_postgres.type_mapping import column_schema

    found = [t for t in discover_tables(conn, [stream.table.schema]) if t.name == stream.table.name]
    if not found:
        return
    table = found[0]
    declared = set(stream.effective_schema.get("properties", {}))
    added = [c for c in table.columns if c.name not in declared]
    stream.table = table
    stream._added_properties = {
        **getattr(stream, "_added_properties", {}),
        **{c.name: column_schema(c) for c in added},
    }
    stream.logger.info(
        "stream %s: new columns %s: new SCHEMA", stream.name, ", ".join(c.name for c in added)
    )
    sys.stdout.flush()
    stream._write_schema_message()


def _write(stream, lines: list[bytes], fast: bool) -> None:
    if not lines:  # a transaction of other tables' changes
        return
    if fast:
        prefix = b'{"type":"RECORD","stream":' + json.dumps(stream.name).encode() + b',"record":'
        suffix = b',"time_extracted":"' + _now().encode() + b'"}\n'
        sys.stdout.flush()
        sys.stdout.buffer.write(prefix + (suffix + prefix).join(lines) + suffix)
        stream.state_manager.is_flushed = False
        return
    for line in lines:
        stream._write_record_message(json.loads(line))


def _now() -> str:
    from tap_ecommerce_postgres.stream import time_extracted

    return time_extracted()
