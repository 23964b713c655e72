"""Query results as Arrow record batches through the ADBC PostgreSQL driver.

The driver runs a query as `COPY ... TO STDOUT (FORMAT binary)` and decodes it in C into
Arrow record batches: the physical limit this tap is measured against (COPY -> Arrow),
with no Python per row. Both the record path (whole RECORD lines rendered by Postgres,
written from Arrow's string buffer) and BATCH files read this way. The session is the
one psycopg would open (same libpq keywords: read-only, UTC, application_name,
statement_timeout), and errors never carry the password.

Rendering JSON is Postgres's work and the tap's bottleneck, so a table can be read as
consecutive key ranges by several sessions at once (`sliced_batches`), one per core.
They share one snapshot (pg_export_snapshot / SET TRANSACTION SNAPSHOT, as pg_dump -j
does), so together they see exactly what a single reader would; the ranges are handed
on strictly in order, so the output is the same, row for row.

Sessions are kept for the whole run (`AdbcSessions`): opening one costs ~40 ms (the
driver loads pg_type), more than reading a small table.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa

from tap_ecommerce_postgres.connection import ConnectionFailed, ConnectionParameters
from tap_ecommerce_postgres.handoff import Handoff

BATCH_HINT_BYTES = 2 << 20  # ADBC's record batch size: bounds memory per batch read ahead
CANCEL_EVERY_SECONDS = 0.2


def _redacted(error: Exception, parameters: ConnectionParameters) -> str:
    message = str(error)
    return message.replace(parameters.password, "***") if parameters.password else message


class AdbcSessions:
    """Idle ADBC connections (autocommit; each read opens its own transaction), reused
    by the streams of one run. A connection whose read did not end cleanly is closed."""

    def __init__(self, parameters: ConnectionParameters) -> None:
        self.parameters = parameters
        self._idle: list = []
        self._lock = threading.Lock()

    def acquire(self):
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            return adbc.connect(self.parameters.render_conninfo(), autocommit=True)
        except adbc_driver_manager.Error as error:
            raise ConnectionFailed(
                f"Could not connect to Postgres {self.parameters.describe()}: "
                f"{_redacted(error, self.parameters).strip()} "
                "Check host, port, user, password and sslmode."
            ) from None

    def release(self, connection, *, reusable: bool) -> None:
        if reusable:
            with self._lock:
                self._idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _checked_snapshot_id(value: str) -> str:
    """Postgres's own snapshot id, checked before it goes into SET TRANSACTION SNAPSHOT
    (which takes no parameters)."""
    if not re.fullmatch(r"[0-9A-Fa-f-]+", value):
        raise RuntimeError(f"unexpected snapshot id from Postgres: {value!r}")
    return value


def arrow_batches(sessions: AdbcSessions, select: str) -> Iterator[pa.RecordBatch]:
    """The rows of `select` as record batches, read ahead in a thread (the driver decodes
    without the GIL while the consumer writes)."""
    return sliced_batches(sessions, [select], 1)


class _Cursors:
    """The cursors of the readers still at work, so the consumer can cancel them all
    the moment the read fails (a failed range must not wait for its slowest sibling)."""

    def __init__(self) -> None:
        self._active: set = set()
        self._lock = threading.Lock()

    def add(self, cursor) -> None:
        with self._lock:
            self._active.add(cursor)

    def discard(self, cursor) -> None:
        with self._lock:
            self._active.discard(cursor)

    def cancel_all(self) -> None:
        """Ask Postgres to cancel each running statement (libpq PQcancel, as psql's
        Ctrl-C does); its reader then fails fast and its session is closed."""
        with self._lock:
            active = list(self._active)
        for cursor in active:
            # an error here means the statement ended on its own meanwhile: nothing to
            # cancel, and its reader stops at its next put anyway
            with contextlib.suppress(adbc_driver_manager.Error):
                cursor.adbc_cancel()


def sliced_batches(
    sessions: AdbcSessions, selects: list[str], readers: int, snapshot: str | None = None
) -> Iterator[pa.RecordBatch]:
    """The batches of every select in `selects`, in that order, read by `readers`
    sessions at once (reader k runs selects k, k + readers, ...) within one snapshot:
    `snapshot` (an exported snapshot's id, e.g. a replication slot's) when given, else
    one the first reader exports. Each reader keeps at most `AHEAD` batches waiting, so
    memory stays bounded. The first failure of any reader is raised at once and the
    other readers are cancelled."""
    readers = max(1, min(readers, len(selects)))
    imported = None if snapshot is None else _checked_snapshot_id(snapshot)
    handoff = Handoff(readers)
    cursors = _Cursors()
    snapshot: list[str] = []
    all_in = threading.Barrier(readers, timeout=60)
    parameters = sessions.parameters

    def read(cursor, index: int) -> bool:
        """Run this reader's selects; False when the consumer stopped listening."""
        cursor.execute("begin isolation level repeatable read read only")
        if imported is not None:  # everyone joins the given snapshot: no hand-over
            cursor.execute(f"set transaction snapshot '{imported}'")
        elif readers > 1:
            if index == 0:
                cursor.execute("select pg_export_snapshot()")
                snapshot.append(_checked_snapshot_id(cursor.fetchone()[0]))
                all_in.wait()  # the snapshot is published
            else:
                all_in.wait()
                cursor.execute(f"set transaction snapshot '{snapshot[0]}'")
            all_in.wait()  # everyone is in: the exporter may move on (and end)
        cursor.adbc_statement.set_options(
            **{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_HINT_BYTES)}
        )
        for select in selects[index::readers]:
            cursor.execute(select)
            for batch in cursor.fetch_record_batch():
                if not handoff.put(index, batch):
                    return False
            if not handoff.end(index):
                return False
        cursor.execute("commit")
        return True

    def run(index: int) -> None:
        connection = None
        finished = False
        try:
            connection = sessions.acquire()
            with connection.cursor() as cursor:
                cursors.add(cursor)
                try:
                    finished = read(cursor, index)
                finally:
                    cursors.discard(cursor)
        except (adbc_driver_manager.Error, OSError) as error:  # OSError: Arrow's stream
            all_in.abort()
            handoff.fail(RuntimeError(f"Postgres read failed: {_redacted(error, parameters)}"))
        except BaseException as error:  # handed to the consumer, which re-raises it
            all_in.abort()
            handoff.fail(error)
        finally:
            if connection is not None:
                sessions.release(connection, reusable=finished)

    threads = [
        threading.Thread(
            target=run, args=(i,), name=f"tap-ecommerce-postgres-reader-{i}", daemon=True
        )
        for i in range(readers)
    ]
    for thread in threads:
        thread.start()
    completed = False
    try:
        for position in range(len(selects)):
            yield from handoff.drain(position % readers)  # type: ignore[misc]
        completed = True
    finally:
        handoff.stop()
        for thread in threads:
            # a failure or an early stop: nobody waits for a range. Cancelled again until
            # the reader is gone: a cancel that lands before its statement starts (a busy
            # machine) is lost, and the statement would then run to its end.
            while not completed and thread.is_alive():
                cursors.cancel_all()
                thread.join(CANCEL_EVERY_SECONDS)
            thread.join()


def string_bytes(strings: pa.Array, start: int, stop: int) -> memoryview:
    """The concatenated text of `strings[start:stop]`, straight from Arrow's data buffer
    (a string array stores its values back to back, so no value is copied)."""
    if strings.null_count:
        raise ValueError("a rendered RECORD line is null")
    _, offsets, data = strings.buffers()
    bounds = memoryview(offsets).cast("q" if pa.types.is_large_string(strings.type) else "i")
    base = strings.offset
    return memoryview(data)[bounds[base + start] : bounds[base + stop]]
