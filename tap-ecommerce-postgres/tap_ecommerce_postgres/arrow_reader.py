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

import queue
import re
import threading
from collections.abc import Iterator

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa

from tap_ecommerce_postgres.connection import ConnectionFailed, ConnectionParameters
from tap_ecommerce_postgres.prefetch import AHEAD, put_unless_stopped

BATCH_HINT_BYTES = 2 << 20  # ADBC's record batch size: bounds memory per batch read ahead
_END = object()  # closes one select's batches in a reader's queue


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


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def arrow_batches(sessions: AdbcSessions, select: str) -> Iterator[pa.RecordBatch]:
    """The rows of `select` as record batches, read ahead in a thread (the driver decodes
    without the GIL while the consumer writes)."""
    return sliced_batches(sessions, [select], 1)


def sliced_batches(
    sessions: AdbcSessions, selects: list[str], readers: int
) -> Iterator[pa.RecordBatch]:
    """The batches of every select in `selects`, in that order, read by `readers`
    sessions at once (reader k runs selects k, k + readers, ...) within one snapshot.
    Each reader keeps at most `AHEAD` batches waiting, so memory stays bounded."""
    readers = max(1, min(readers, len(selects)))
    queues = [queue.Queue(maxsize=AHEAD) for _ in range(readers)]
    stop = threading.Event()
    snapshot: list[str] = []
    all_in = threading.Barrier(readers, timeout=60)
    parameters = sessions.parameters

    def put(q: queue.Queue, item: object) -> bool:
        return put_unless_stopped(q, item, stop)

    def read(cursor, index: int) -> bool:
        """Run this reader's selects; False when the consumer stopped listening."""
        mine = queues[index]
        cursor.execute("begin isolation level repeatable read read only")
        if readers > 1:
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
                if not put(mine, batch):
                    return False
            if not put(mine, _END):
                return False
        cursor.execute("commit")
        return True

    def run(index: int) -> None:
        connection = None
        finished = False
        try:
            connection = sessions.acquire()
            with connection.cursor() as cursor:
                finished = read(cursor, index)
        except adbc_driver_manager.Error as error:
            all_in.abort()
            failure = RuntimeError(f"Postgres read failed: {_redacted(error, parameters)}")
            put(queues[index], _Failed(failure))
        except BaseException as error:  # handed to the consumer, which re-raises it
            all_in.abort()
            put(queues[index], _Failed(error))
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
    try:
        for position in range(len(selects)):
            source = queues[position % readers]
            while (item := source.get()) is not _END:
                if isinstance(item, _Failed):
                    raise item.error
                yield item
    finally:
        stop.set()
        for thread in threads:
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
