"""Rows from a server-side cursor (the SDK record path) read one batch ahead in a thread.

A named cursor is synchronous: while Python writes one batch, Postgres waits for the next
FETCH. Rendering JSON is the server's job here and costs more CPU than the Python side, so
fetching batch n+1 while batch n is written lets both cores work (measured on order_items
at scale 1, 10 runs each on a loaded 2-core machine: median 0.375 s against 0.424 s for a
plain named cursor, ~10% faster). The hand-off (handoff.py, shared with the ADBC readers)
holds at most `AHEAD` batches, so memory stays constant whatever the table size; psycopg
releases the GIL while it waits on the socket.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from psycopg import sql

from tap_ecommerce_postgres.connection import ConnectionParameters
from tap_ecommerce_postgres.handoff import Handoff

FETCH_ROWS = 5_000


def prefetched_rows(
    parameters: ConnectionParameters,
    query: sql.Composable,
    params: list[Any],
    snapshot: str | None = None,
) -> Iterator[tuple]:
    """Yield the rows of `query` in order; a reader thread keeps one batch ahead. With
    `snapshot` (an exported snapshot's id), the query reads in that snapshot."""
    handoff = Handoff()

    def read() -> None:
        try:
            with (
                parameters.connect() as conn,
                conn.transaction(),
                conn.cursor(name="tap_ecommerce_postgres_read") as cursor,
            ):
                if snapshot is not None:
                    conn.execute("set transaction isolation level repeatable read")
                    conn.execute(
                        sql.SQL("set transaction snapshot {}").format(sql.Literal(snapshot))
                    )
                cursor.execute(query, params)
                while rows := cursor.fetchmany(FETCH_ROWS):
                    if not handoff.put(0, rows):
                        return
            handoff.end(0)
        except BaseException as error:  # handed to the consumer, which re-raises it
            handoff.fail(error)

    reader = threading.Thread(target=read, name="tap-ecommerce-postgres-reader", daemon=True)
    reader.start()
    try:
        for rows in handoff.drain(0):
            yield from rows
    finally:
        handoff.stop()
        reader.join()
