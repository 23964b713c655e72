"""One Postgres table, view or custom query as a Singer stream.

The fast path lets Postgres render every row as its whole RECORD line (see queries.py),
reads the lines as Arrow string arrays (arrow_reader.py) and writes their buffers to
stdout as they are, skipping the SDK's per-value conformance and JSON encoding, which
cost most of a Python tap's time. Tables ordered by an integer, timestamp or date key
are read by several sessions at once, as key ranges of one snapshot. The fast path is
used when no stream maps or flattening are configured; otherwise the same rows go
through the SDK's normal record path (also forced by `SDK_RECORD_PATH_ENV`, which the
parity tests use to compare both paths).

The fast path keeps the SDK's contracts by asking the SDK, not by re-deriving them:
- selection: only the columns the SDK's selection mask (`self.mask`) selects are read
  from Postgres at all (keys and the replication key are selected automatically);
- record limit: `ABORT_AT_RECORD_COUNT` (`--test`, the SDK's standard tests) becomes a
  SQL `LIMIT n + 1`, and the SDK's `_check_max_record_limit` aborts the sync at row n + 1;
- start value: the SDK's starting replication value (bookmark, or `start_date`);
- STATE: the same bookmark object (bookmarks.py) on both paths, emitted at the same rows
  (`state_every_n_rows`, which is also the SDK's `STATE_MSG_FREQUENCY`) and finalized by
  the SDK's own `_finalize_state` / `_write_state_message`.

Resumability: rows are read in key order and STATE is emitted every
`state_every_n_rows` rows. Incremental streams bookmark the largest non-NULL replication
key (read with `>=`, so ties at the boundary are re-read, never lost). Full-table streams
bookmark the primary key of the last emitted row as `resume_after` and continue after it;
the bookmark is removed when the table has been read to the end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import replace

import pyarrow as pa
from psycopg import sql
from singer_sdk import Stream

from tap_ecommerce_postgres import source_count
from tap_ecommerce_postgres.arrow_reader import sliced_batches, string_bytes
from tap_ecommerce_postgres.batches import (
    batchable,
    raw_schema,
    sized_tables,
    tracked_schema,
    write_batch_file,
)
from tap_ecommerce_postgres.bookmarks import Progress
from tap_ecommerce_postgres.catalog_metadata import PostgresStreamMetadata, advertised
from tap_ecommerce_postgres.cdc import generations
from tap_ecommerce_postgres.cdc import sync as log_based
from tap_ecommerce_postgres.discovery import TableInfo
from tap_ecommerce_postgres.prefetch import prefetched_rows
from tap_ecommerce_postgres.queries import ReadPlan, range_bounds
from tap_ecommerce_postgres.type_mapping import (
    TIMESTAMP_TYPES,
    column_schema,
    restore_decimal_keys,
)

# Set to 1 to send every stream through the SDK's record path (parity tests, debugging).
SDK_RECORD_PATH_ENV = "TAP_ECOMMERCE_POSTGRES_SDK_RECORD_PATH"

ROWS_PER_SLICE = 25_000  # keys per range read by one session (the last range is open)
MAX_SLICES = 256
SAMPLE_ROWS = 20_000  # rows sampled to cut a timestamp-ordered read into ranges


class PostgresStream(Stream):
    """Reads one relation (table, view or wrapped custom query)."""

    def __init__(self, tap, table: TableInfo, relation: sql.Composable | None = None) -> None:
        self.table = table
        self.relation = relation if relation is not None else table.relation()
        self._reads_a_table = relation is None
        schema = {
            "type": "object",
            "properties": {column.name: column_schema(column) for column in table.columns},
        }
        if table.description:
            schema["description"] = table.description
        options = (tap.config.get("stream_options") or {}).get(table.stream_name, {})
        if options.get("replication_method") == log_based.LOG_BASED:
            schema = log_based.with_change_columns(schema, list(table.primary_key))
        super().__init__(tap, schema=schema, name=table.stream_name)
        self.primary_keys = list(table.primary_key)
        self._progress: Progress | None = None  # the SDK path's bookmark (get_records)
        self._row_tracked: tuple = ()  # raw tracked values of the row the SDK handles
        self._snapshot_id: str | None = None  # LOG_BASED: read in the slot's snapshot
        self._snapshot_lsn: int | None = None  # LOG_BASED: the snapshot's generation
        self._in_log_based_snapshot = False  # LOG_BASED + BATCH: the snapshot's read
        options = (tap.config.get("stream_options") or {}).get(self.name, {})
        self._configured_key = options.get("replication_key")
        self._configured_method = options.get("replication_method")
        if self._configured_method == log_based.LOG_BASED:
            self.forced_replication_method = log_based.LOG_BASED
        elif self._configured_key and self._configured_method != "FULL_TABLE":
            self.replication_key = self._configured_key

    # -- replication settings -------------------------------------------------------------

    @property
    def metadata(self):
        """The SDK's metadata plus the replication methods and keys this stream supports
        (`catalog_metadata`), so a discovered catalog says what a user may choose."""
        mapping = super().metadata
        if not isinstance(mapping.root, PostgresStreamMetadata):
            mapping[()] = advertised(
                mapping.root,
                self.table,
                reads_a_table=self._reads_a_table,
                database=self._tap.connection_parameters.database,
            )
        return mapping

    def apply_catalog(self, catalog) -> None:
        super().apply_catalog(catalog)
        if self._configured_method == log_based.LOG_BASED:
            self.forced_replication_method = log_based.LOG_BASED  # config wins
        if self.replication_method == log_based.LOG_BASED:  # the snapshot is a full read
            self.replication_key = None
            keys = list(self.primary_keys)
            self._schema = log_based.with_change_columns(self._schema, keys)
            if self._input_schema is not None:  # the catalog's, sent as SCHEMA
                self._input_schema = log_based.with_change_columns(self._input_schema, keys)
        elif self._configured_method == "FULL_TABLE":
            self.replication_key = None
        elif self._configured_key:
            self.replication_key = self._configured_key  # config wins over the catalog

    def _generate_schema_messages(self):
        """SCHEMA messages with `precision`/`scale` on decimals (lost in the SDK catalog)."""
        for message in super()._generate_schema_messages():
            message.schema = restore_decimal_keys(message.schema)
            if self.replication_method == log_based.LOG_BASED:  # + change columns
                message.schema = log_based.schema_message(self, message.schema)
            yield message

    @property
    def is_sorted(self) -> bool:
        return True

    @property
    def STATE_MSG_FREQUENCY(self) -> int:  # the SDK's name
        """Rows between STATE messages, on the SDK path as on the fast path."""
        return int(self.config.get("state_every_n_rows") or 50_000)

    def compare_start_date(self, value: str, start_date_value: str) -> str:
        """The SDK's rule (the later of bookmark and start_date), except that a bookmark
        Python cannot parse (Postgres's 'infinity', BC dates) is kept: Postgres compares it."""
        try:
            return super().compare_start_date(value, start_date_value)
        except ValueError:
            return value

    def _selected_columns(self) -> tuple[str, ...]:
        """The SDK's selection (`self.mask`, as its `pop_deselected_record_properties`
        reads it): keys and the replication key are selected automatically."""
        return tuple(c.name for c in self.table.columns if self.mask[("properties", c.name)])

    def _read_plan(self) -> ReadPlan:
        key = self.replication_key
        start = None
        if key:
            # the SDK's start value: the bookmark, or start_date (the later of the two)
            self._write_starting_replication_value(None)
            start = self.get_starting_replication_key_value(None)
        limit = self.ABORT_AT_RECORD_COUNT
        resume_key = self.primary_keys or None
        return ReadPlan(
            relation=self.relation,
            columns=self.table.columns,
            source_timezone=self.config.get("source_timezone") or "UTC",
            order_by=([key] if key else []) + [k for k in self.primary_keys if k != key],
            replication_key=key,
            start_value=start,
            resume_key=None if key else resume_key,
            resume_after=None if key else self.stream_state.get("resume_after"),
            selected=self._selected_columns(),
            limit=None if limit is None else limit + 1,  # one more row: the SDK aborts on it
            constants=generations.snapshot_constants(self),
        )

    # -- reading --------------------------------------------------------------------------

    @property
    def _readers(self) -> int:
        return max(1, int(self.config.get("parallel_readers") or 1))

    def _slices(self, plan: ReadPlan) -> list[ReadPlan]:
        """The read as key ranges of ~`ROWS_PER_SLICE` rows when several sessions may
        share it: a table (not a view or query) ordered first by an integer key (cut by
        key width) or a timestamp/date key (cut at quantiles of a sample)."""
        if (
            self._readers < 2
            or self.table.is_view
            or not self._reads_a_table
            or not plan.order_by
            or plan.limit is not None  # a few rows: one session
        ):
            return [plan]
        key = next((c for c in self.table.columns if c.name == plan.order_by[0]), None)
        if key is None or key.is_array:
            return [plan]
        with self._tap.connection_parameters.connect() as conn:
            if key.is_integer:
                bounds = self._integer_bounds(conn, key.name, plan)
            elif key.base_type in TIMESTAMP_TYPES or key.base_type == "date":
                bounds = self._sampled_bounds(conn, key.name, plan)
            else:
                bounds = []
        if bounds:
            self.logger.info(
                "stream %s: %d key ranges of %s, %d sessions in one snapshot",
                self.name,
                len(bounds) + 1,
                key.name,
                self._readers,
            )
        return plan.sliced(bounds) if bounds else [plan]

    def _integer_bounds(self, conn, key: str, plan: ReadPlan) -> list[int]:
        query = sql.SQL("select min(src.{k}), max(src.{k}) from {rel} as src{where}").format(
            k=sql.Identifier(key), rel=self.relation, where=plan.filter_clause()
        )
        low, high = conn.execute(query).fetchone()
        return [] if low is None else range_bounds(low, high, ROWS_PER_SLICE, MAX_SLICES)

    def _sampled_bounds(self, conn, key: str, plan: ReadPlan) -> list:
        """Quantiles of the key in a ~`SAMPLE_ROWS` block sample of the rows to read
        (Postgres's TABLESAMPLE SYSTEM: a few pages, not a scan)."""
        estimate = conn.execute(
            sql.SQL("select reltuples from pg_class where oid = {}::regclass").format(
                sql.Literal(self.relation.as_string(conn))
            )
        ).fetchone()[0]
        if estimate is None or estimate < 2 * ROWS_PER_SLICE:
            return []  # small, or never analysed: one session
        percent = min(100.0, 100.0 * SAMPLE_ROWS / estimate)
        sampled, quantiles = conn.execute(
            sql.SQL(
                "select count(*), percentile_disc(%s::float8[]) within group (order by src.{k})"
                " from {rel} as src tablesample system (%s){where}"
            ).format(k=sql.Identifier(key), rel=self.relation, where=plan.filter_clause()),
            [[i / MAX_SLICES for i in range(1, MAX_SLICES)], percent],
        ).fetchone()
        ranges = min(MAX_SLICES, int(sampled * 100.0 / percent) // ROWS_PER_SLICE)
        if ranges < 2 or not quantiles:
            return []
        picked = [quantiles[round(i * MAX_SLICES / ranges) - 1] for i in range(1, ranges)]
        return sorted({value for value in picked if value is not None})

    def _rows(self, plan: ReadPlan) -> Iterable[tuple]:
        query, params = plan.render()
        return prefetched_rows(self._tap.connection_parameters, query, params, self._snapshot_id)

    def get_records(self, context: dict | None) -> Iterable[dict]:
        """The SDK path (stream maps, flattening): same rows, as dicts. The SDK bookmarks
        each row through `_increment_stream_state`, which reads the row's raw tracked
        values kept here."""
        plan = self._read_plan()
        self._progress = Progress(plan)
        for row in self._rows(plan):
            self._row_tracked = row[1:]
            yield json.loads(row[0])
        self._progress.apply(self.stream_state, finished=True)

    def _increment_stream_state(self, latest_record: dict, *, context=None) -> None:
        """The SDK path's bookmark, by the same rules as the fast path (bookmarks.py)."""
        if self._progress is None:  # only get_records feeds the SDK's record loop
            raise RuntimeError(f"stream {self.name}: a record arrived before its read began")
        self._progress.note_row(self._row_tracked)
        self._progress.apply(self.stream_state, finished=False)

    def _uses_fast_path(self) -> bool:
        return not (
            self.config.get("stream_maps")
            or self.config.get("flattening_enabled")
            or os.environ.get(SDK_RECORD_PATH_ENV) == "1"
        )

    def _sync_records(self, context=None, *, write_messages: bool = True):
        if self.replication_method == log_based.LOG_BASED and not self._in_log_based_snapshot:
            yield from log_based.sync(
                self, lambda: self._sync_table(context, write_messages=write_messages)
            )
            return
        yield from self._sync_table(context, write_messages=write_messages)

    def _sync_table(self, context=None, *, write_messages: bool = True):
        """The full or incremental read of the table (also a LOG_BASED snapshot)."""
        if not (write_messages and self._uses_fast_path()):
            yield from super()._sync_records(context, write_messages=write_messages)
        elif self.selected:  # as the SDK: a deselected stream emits nothing
            self._fast_sync()
        if self._counts_source_rows(write_messages):
            source_count.count_and_log(self._tap.connection_parameters, self.relation, self.name)
        yield from ()

    def _counts_source_rows(self, write_messages: bool) -> bool:
        """INCREMENTAL reads of a table (not a view or a query) are followed by a count of
        the whole table (source_count.py), unless `count_source_rows` is off."""
        return (
            write_messages
            and self.selected
            and self.replication_method == "INCREMENTAL"
            and self._reads_a_table
            and not self.table.is_view
            and bool(self.config.get("count_source_rows", True))
        )

    def _emit_state(self) -> None:
        """STATE after raw RECORD lines: the SDK's writer, told that records went out."""
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _fast_sync(self) -> None:
        """Postgres renders each row as its whole RECORD line; the lines arrive as Arrow
        string arrays whose data buffer is written to stdout as it is. STATE follows
        every `state_every_n_rows` rows, cut at exactly that row; the SDK's record limit
        cuts at exactly its row too."""
        plan = self._read_plan()
        progress = Progress(plan)
        state = self.stream_state
        every = self.STATE_MSG_FREQUENCY
        limit = self.ABORT_AT_RECORD_COUNT
        extracted = time_extracted()
        prefix = '{"type":"RECORD","stream":' + json.dumps(self.name) + ',"record":'
        version = "" if self._stream_version is None else f',"version":{self._stream_version}'
        suffix = version + ',"time_extracted":"' + extracted + '"}\n'  # the SDK's key order
        selects = [p.render_line_select(prefix, suffix) for p in self._slices(plan)]
        sys.stdout.flush()  # the SDK's text layer first, then raw bytes in order
        out = sys.stdout.buffer
        rows = 0
        since_state = 0
        started = time.monotonic()
        batches = sliced_batches(self._tap.adbc_sessions, selects, self._readers, self._snapshot_id)
        with self.get_record_counter() as counter, contextlib.closing(batches):
            for batch in batches:
                lines = batch.column(0)
                start = 0
                while start < batch.num_rows:
                    if limit is not None and rows >= limit:
                        self._check_max_record_limit(current_record_index=rows)  # aborts
                    stop = min(batch.num_rows, start + every - since_state)
                    if limit is not None:
                        stop = min(stop, start + limit - rows)
                    out.write(string_bytes(lines, start, stop))
                    self.state_manager.is_flushed = False
                    progress.note_rows(batch, 1, start, stop)
                    counter.increment(stop - start)
                    rows += stop - start
                    since_state += stop - start
                    progress.apply(state, finished=False)  # what an abort would write
                    if since_state == every:
                        self._emit_state()
                        since_state = 0
                    start = stop
        progress.apply(state, finished=True)
        self._finalize_state(state)
        self._write_state_message()
        elapsed = time.monotonic() - started
        self.logger.info(
            "stream %s: %d rows in %.2fs (%.0f rows/s)",
            self.name,
            rows,
            elapsed,
            rows / elapsed if elapsed else 0.0,
        )

    def _sync_batches(self, batch_config, context=None) -> None:
        """BATCH files; a LOG_BASED stream's first run writes its snapshot as BATCH files
        (in the slot's snapshot), its later runs send the changes as RECORDs."""
        if self.replication_method != log_based.LOG_BASED:
            super()._sync_batches(batch_config, context=context)
            return

        def snapshot_files():
            self._in_log_based_snapshot = True  # the SDK's own batching reads records
            try:
                super(PostgresStream, self)._sync_batches(batch_config, context=context)
            finally:
                self._in_log_based_snapshot = False
            yield from ()

        for _ in log_based.sync(self, snapshot_files):
            pass

    def get_batches(self, batch_config, context=None):
        """Parquet BATCH files of `batch_size` rows each, from Arrow record batches, with
        STATE after every file (the bookmark is the file's last row)."""
        encoding = batch_config.encoding
        plan = self._read_plan()
        if plan.limit is not None:  # the SDK batches without an abort: exactly the limit
            plan = replace(plan, limit=plan.limit - 1)
        if encoding.format != "parquet" or not batchable(plan.record_columns):
            yield from super().get_batches(batch_config, context)
            return
        progress = Progress(plan)
        schema = raw_schema(plan.record_columns, plan.constants)
        tracked_fields = tracked_schema(self.table.columns, progress.tracked)
        read_schema = pa.schema([*schema, *tracked_fields])
        size = int(batch_config.batch_size or 100_000)
        storage = batch_config.storage
        state = self.stream_state
        rows = 0
        selects = [p.render_arrow_select() for p in self._slices(plan)]
        batches = sliced_batches(self._tap.adbc_sessions, selects, self._readers, self._snapshot_id)
        with contextlib.closing(batches):
            for table in sized_tables(batches, read_schema, size):
                progress.note_rows(table, len(schema), 0, table.num_rows)
                rows += table.num_rows
                payload = table.select(range(len(schema)))
                yield encoding, [self._write_table(storage, payload, encoding)]
                progress.apply(state, finished=False)
                self.state_manager.is_flushed = False
        progress.apply(state, finished=True)
        self.state_manager.is_flushed = False
        self.logger.info("stream %s: %d rows in Parquet BATCH files", self.name, rows)

    def _write_table(self, storage, table, encoding) -> str:
        prefix = storage.prefix or ""
        return write_batch_file(storage, prefix, self.name, table, encoding.compression)


def time_extracted() -> str:
    """The RECORDs' `time_extracted`, as the SDK writes it (UTC, ISO 8601)."""
    return dt.datetime.now(dt.UTC).isoformat()
