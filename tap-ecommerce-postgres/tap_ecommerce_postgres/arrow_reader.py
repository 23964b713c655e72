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
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Iterator

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa

from tap_ecommerce_postgres.connection import ConnectionFailed, ConnectionParameters
from tap_ecommerce_postgres.prefetch import AHEAD, in_background

BATCH_HINT_BYTES = 2 << 20  # ADBC's record batch size: bounds memory per batch read ahead


def _redacted(error: Exception, parameters: ConnectionParameters) -> str:
    message = str(error)
    return message.replace(parameters.password, "***") if parameters.password else message


def _connect(parameters: ConnectionParameters, *, autocommit: bool = False):
    try:
        return adbc.connect(parameters.render_conninfo(), autocommit=autocommit)
    except adbc_driver_manager.Error as error:
        raise ConnectionFailed(
            f"Could not connect to Postgres {parameters.describe()}: "
            f"{_redacted(error, parameters).strip()} "
            "Check host, port, user, password and sslmode."
        ) from None


def _read(
    cursor, select: str, parameters: ConnectionParameters, put: Callable[[object], bool]
) -> bool:
    """Put the batches of one query; False when the consumer stopped listening."""
    cursor.adbc_statement.set_options(
        **{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_HINT_BYTES)}
    )
    try:
        cursor.execute(select)
        for batch in cursor.fetch_record_batch():
            if not put(batch):
                return False
    except adbc_driver_manager.Error as error:
        raise RuntimeError(f"Postgres read failed: {_redacted(error, parameters)}") from None
    return True


def arrow_batches(parameters: ConnectionParameters, select: str) -> Iterator[pa.RecordBatch]:
    """The rows of `select` as record batches, read one batch ahead in a thread (the
    driver decodes without the GIL while the consumer writes)."""

    def produce(put: Callable[[object], bool]) -> None:
        with _connect(parameters) as connection, connection.cursor() as cursor:
            _read(cursor, select, parameters, put)

    yield from in_background(produce)


_END = object()  # closes one select's batches in a reader's queue


def _checked_snapshot_id(value: str) -> str:
    """Postgres's own snapshot id, checked before it goes into SET TRANSACTION SNAPSHOT
    (which takes no parameters)."""
    if not re.fullmatch(r"[0-9A-Fa-f-]+", value):
        raise RuntimeError(f"unexpected snapshot id from Postgres: {value!r}")
    return value


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def sliced_batches(
    parameters: ConnectionParameters, selects: list[str], readers: int
) -> Iterator[pa.RecordBatch]:
    """The batches of every select in `selects`, in that order, read by `readers`
    sessions at once (reader k runs selects k, k + readers, ...) within one snapshot.
    Each reader keeps at most `AHEAD` batches waiting, so memory stays bounded."""
    readers = max(1, min(readers, len(selects)))
    if readers == 1:
        for select in selects:
            yield from arrow_batches(parameters, select)
        return
    queues = [queue.Queue(maxsize=AHEAD) for _ in range(readers)]
    stop = threading.Event()
    snapshot: list[str] = []
    all_in = threading.Barrier(readers, timeout=60)

    def put(q: queue.Queue, item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run(index: int) -> None:
        mine = queues[index]
        try:
            with (
                _connect(parameters, autocommit=True) as connection,
                connection.cursor() as cursor,
            ):
                cursor.execute("begin isolation level repeatable read read only")
                if index == 0:
                    cursor.execute("select pg_export_snapshot()")
                    snapshot.append(_checked_snapshot_id(cursor.fetchone()[0]))
                    all_in.wait()  # the snapshot is published
                else:
                    all_in.wait()
                    cursor.execute(f"set transaction snapshot '{snapshot[0]}'")
                all_in.wait()  # everyone is in: the exporter may move on (and end)
                for select in selects[index::readers]:
                    if not _read(cursor, select, parameters, lambda b: put(mine, b)):
                        return
                    if not put(mine, _END):
                        return
                cursor.execute("commit")
        except BaseException as error:  # handed to the consumer, which re-raises it
            all_in.abort()
            put(mine, _Failed(error))

    threads = [
        threading.Thread(target=run, args=(i,), name=f"tap-ecommerce-postgres-reader-{i}")
        for i in range(readers)
    ]
    for thread in threads:
        thread.daemon = True
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
