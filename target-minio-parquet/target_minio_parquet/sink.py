"""One stream's buffer and the Parquet files it commits.

Records arrive as undecoded RECORD lines (the reader's lane, the usual case) or as the
dicts the SDK hands over (stream maps, flattening), and are converted column-wise when
the buffer is flushed (by rows or estimated bytes). Buffered lines are parsed by Arrow's
JSON reader in one call, against a "wire" schema derived from the stream's SCHEMA, so no
Python runs per record or per value (see wire_schema.py); a buffer Arrow cannot parse
exactly is decoded again with msgspec, record by record, which gives the precise error
or handles the odd value. The SDK's per-record JSON-schema validation is skipped on
purpose: it costs most of a target's CPU, and the typed conversion enforces the same
types with a clear error instead.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from singer_sdk.exceptions import InvalidInputLine, MissingKeyPropertiesError
from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchFileFormat, StorageTarget
from singer_sdk.sinks import Sink

from target_minio_parquet.arrow_schema import (
    BATCHED_AT,
    EXTRA,
    EXTRACTED_AT,
    RECEIVED_AT,
    SEQUENCE,
    SYNC_STARTED_AT,
    TABLE_VERSION,
    arrow_schema,
    declared_names,
    schema_hash,
)
from target_minio_parquet.columns import (
    ColumnConversionError,
    column_array,
    conform_table,
    epoch_seconds_to_timestamps,
    records_to_table,
)
from target_minio_parquet.manifest import record_schema_version
from target_minio_parquet.profile import RunProfiler, choose_event_field
from target_minio_parquet.reader import decode_envelope
from target_minio_parquet.storage import PrintableArguments, printable, safe_name
from target_minio_parquet.undeclared import UndeclaredFields
from target_minio_parquet.unnamed_source import check_one_stream_per_folder
from target_minio_parquet.wire_schema import (
    JsonTextReader,
    json_text_fields,
    json_text_types,
    parse_record_lines,
    wire_schema,
)

if TYPE_CHECKING:
    from target_minio_parquet.target import TargetMinioParquet

# A LOG_BASED stream's change position (its rows are changes, not distinct records).
CHANGE_POSITION = "_sdc_lsn"
BYTES_SAMPLE_EVERY = 1000
PYTHON_OVERHEAD = 4.0  # a buffered dict holds ~4x the bytes of its text form
# Buffered runs cost their text; a flush briefly holds a group's joined text and
# Arrow's parse of it beside them.
LINE_FLUSH_FACTOR = 2.0
PARSE_BYTES = 4 << 20  # text Arrow parses at once: bounds the parse's transient memory


class DecodedRecordMessage(msgspec.Struct):
    """A RECORD message decoded in one pass for the fallback path."""

    record: dict[str, Any]
    time_extracted: str | None = None
    version: int | None = None


# JSON numbers become Decimals, as with the SDK's own decoder: decimals stay exact
_decoded_messages = msgspec.json.Decoder(list[DecodedRecordMessage], float_hook=Decimal)


class ParquetSink(Sink):
    """Buffers a stream's records and commits them as typed Parquet files."""

    def __init__(self, target: TargetMinioParquet, stream_name: str, schema: dict, key_properties):
        super().__init__(target, stream_name, schema, key_properties)
        # the logger's name is in every log line: control characters escaped
        self.logger = target.logger.getChild(printable(stream_name))
        self.logger.addFilter(PrintableArguments())
        # the three objects a sink works with; it never calls back into the target
        self.budget = target.budget
        self.committer = target.committer
        self.run = target.run
        self.arrow_schema = arrow_schema(schema)
        self._payload_schema = pa.schema(
            [
                f
                for f in self.arrow_schema
                if f.name not in (RECEIVED_AT, BATCHED_AT, SYNC_STARTED_AT)
            ]
        )
        self._declared = declared_names(self.arrow_schema)
        self._undeclared = UndeclaredFields(
            stream_name,
            self._declared,
            strict=bool(self.config.get("strict_schema", False)),
            logger=self.logger,
        )
        self._records: list[dict[str, Any]] = []
        self._received: list[float] = []
        # The reader's lane: runs of undecoded RECORD lines, each run one bytes object
        self._runs: list[bytes] = []
        self._run_received: list[float] = []
        self._wire_schema = wire_schema(self._payload_schema)
        text_fields = json_text_fields(self._payload_schema)
        # with free-form columns msgspec checks for undeclared keys: Arrow's inference
        # (below) fails on a free-form value whose shape varies
        self._json_text = (
            JsonTextReader(text_fields, self._declared, json_text_types(self._payload_schema))
            if text_fields
            else None
        )
        self.unreported_records = 0  # buffered since the last record_count metric
        self._taken = 0  # records handed to the committer in this run (for error messages)
        self._bytes_per_record = 256.0
        self._schema_version: str | None = None
        self.manifest = self.run.manifest_for(stream_name)
        self.manifest.key_properties = [k for k in (key_properties or []) if k]
        self._event_field_setting = (self.config.get("event_time_fields") or {}).get(stream_name)
        self._profiling = bool(self.config.get("profile_runs", True))
        self._max_rows = int(self.config.get("max_buffer_rows", 50_000))
        self._rows_per_file = max(1, int(self.config.get("max_rows_per_file") or 1_000_000))

    # -- buffering ----------------------------------------------------------------------

    @property
    def max_size(self) -> int:
        return self._max_rows

    @property
    def is_full(self) -> bool:
        """The SDK's per-record path asks this: the target-wide budget is exhausted."""
        return self.budget.exhausted

    def take_lines(self, lines: bytes, count: int) -> None:
        """Buffer a run of `count` complete RECORD lines as they are."""
        self._runs.append(lines)
        self._run_received.extend([time.time()] * count)
        size = len(lines) * LINE_FLUSH_FACTOR
        self.budget.reserve(self, count, size)

    def buffer_record(self, record: dict, message: dict) -> None:
        """The fast path's whole per-record work (see TargetMinioParquet)."""
        record[EXTRACTED_AT] = message.get("time_extracted")
        record[TABLE_VERSION] = message.get("version")
        self._received.append(time.time())
        self._append(record)

    def _append(self, record: dict) -> None:
        if len(self._records) % BYTES_SAMPLE_EVERY == 0:
            self._bytes_per_record = max(64.0, len(repr(record)) * PYTHON_OVERHEAD)
        self._records.append(record)
        self.budget.reserve(self, 1, self._bytes_per_record)

    @property
    def include_sdc_metadata_properties(self) -> bool:
        """Always on: every bronze row carries its lineage timestamps."""
        return True

    def _add_sdc_metadata_to_record(self, record: dict, message: dict, context: dict) -> None:
        record[EXTRACTED_AT] = message.get("time_extracted")
        record[TABLE_VERSION] = message.get("version")
        self._received.append(time.time())

    def _validate_and_parse(self, record: dict) -> dict:
        return record

    def process_record(self, record: dict, context: dict) -> None:
        self._append(record)

    def activate_version(self, new_version: int) -> None:
        """Bronze is append-only: the version is kept in `_sdc_table_version` and in the
        manifest, and old files stay (staging picks the latest version)."""
        self.manifest.activated_versions.append(new_version)  # after the target's drain

    def tally_record_read(self, count: int = 1) -> None:
        """Every record received, on either path, is counted into the run's manifest:
        the count the monitor reconciles with the tap's (data, not a log line)."""
        super().tally_record_read(count)
        self.manifest.received_rows += count

    def report_records(self) -> None:
        """The SDK's record_count metric, counted in steps rather than per record."""
        if self.unreported_records:
            self.record_counter_metric.increment(self.unreported_records)
            self.unreported_records = 0

    def process_batch(self, context: dict) -> None:
        self.report_records()
        if not self._records and not self._runs:
            return
        records, received = self._records, self._received
        runs, run_received = self._runs, self._run_received
        self._records, self._received = [], []
        self._runs, self._run_received = [], []
        self.budget.release(self)
        first = self._taken  # records of this stream before this buffer, in this run
        self._taken += len(received) + len(run_received)

        def convert_and_commit() -> None:
            try:
                tables = [self._dicts_to_table(records, first=first)] if records else []
                if runs:
                    tables.append(self._runs_to_table(runs, first + len(records)))
            except ValueError as error:
                raise ValueError(f"stream '{printable(self.stream_name)}': {error}") from error
            table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
            self._commit(table, received + run_received)

        # the buffer is taken: converting and writing it overlaps reading the next one
        self.committer.submit(convert_and_commit)

    def _runs_to_table(self, runs: list[bytes], first: int) -> pa.Table:
        """Arrow parses the buffer, a few MB at a time, when it can; msgspec when not
        (and for the error: a value that does not fit its column, named with its record).
        `first`: the stream's records in this run before these."""
        if self._wire_schema is not None:
            tables = []
            for group in _groups(runs, PARSE_BYTES):
                # without free-form columns Arrow reads undeclared keys too, to find them
                declared = self._declared if self._json_text is None else None
                parsed = parse_record_lines(group, self._wire_schema, declared)
                if parsed is None or not self._keys_present(parsed):
                    break
                if self._json_text is not None:
                    text_columns = self._json_text.columns(group)
                    if text_columns is None:
                        break
                    for name, column in text_columns.items():
                        parsed = parsed.append_column(name, column)
                try:
                    tables.append(conform_table(parsed, self._payload_schema))
                except ColumnConversionError:
                    break  # msgspec names the record and its key
            else:  # every group parsed (each checked line for line in parse_record_lines)
                return tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        tables = []
        for group in _groups(runs, PARSE_BYTES):
            # one JSON document per line: newlines only ever separate messages
            text = b"".join(group).rstrip(b"\n").replace(b"\n", b",")
            try:
                messages = _decoded_messages.decode(b"[" + text + b"]")
            except msgspec.ValidationError as error:
                _raise_for_bad_line(group)
                raise ValueError(
                    f"a RECORD message's record is not a JSON object: {error}"
                ) from None
            except msgspec.DecodeError:
                _raise_for_bad_line(group)
                raise
            tables.append(
                self._records_to_table(
                    [m.record for m in messages],
                    [m.time_extracted for m in messages],
                    [m.version for m in messages],
                    first,
                )
            )
            first += len(messages)
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)

    def _keys_present(self, parsed: pa.Table) -> bool:
        """Null key values may be missing keys: the msgspec path tells them apart."""
        return all(
            key not in parsed.column_names or parsed.column(key).null_count == 0
            for key in self.key_properties
        )

    def _records_to_table(
        self,
        records: list[dict],
        extracted: list[str | None],
        versions: list[int | None],
        first: int,
    ) -> pa.Table:
        """A group's decoded records (the dicts live only for this group) as a table."""
        for key in self.key_properties:
            if not all(key in record for record in records):
                raise MissingKeyPropertiesError(
                    f"stream '{printable(self.stream_name)}': a record lacks key property '{key}'"
                )
        overrides = {
            EXTRACTED_AT: column_array(
                EXTRACTED_AT, extracted, self._payload_schema.field(EXTRACTED_AT)
            ),
            TABLE_VERSION: pa.array(versions, type=pa.int64()),
        }
        return self._dicts_to_table(records, overrides, first=first)

    def _dicts_to_table(
        self, records: list[dict], overrides: dict | None = None, *, first: int | None = None
    ) -> pa.Table:
        """Records as a table; keys the SCHEMA does not declare go to `_sdc_extra`. A value
        that does not fit its column is named with its record: its position among the
        stream's records in this run (`first` before these; None: a BATCH file's rows)
        and its key."""
        extra = self._undeclared.column(records)
        try:
            return records_to_table(
                records, self._payload_schema, {**(overrides or {}), EXTRA: extra}
            )
        except ColumnConversionError as error:
            record = records[error.row]
            key = ", ".join(f"{k}={record.get(k)!r}" for k in self.key_properties)
            where = (
                f"row {error.row + 1} of a BATCH file"
                if first is None
                else f"the stream's record {first + error.row + 1} in this run"
            )
            raise ValueError(error.describe(where + (f" (key {key})" if key else ""))) from error

    # -- BATCH messages -----------------------------------------------------------------

    def process_batch_files(self, encoding: BaseBatchFileEncoding, files) -> None:
        """BATCH files are committed like buffered records, typed by the stream's SCHEMA."""
        if encoding.format not in (BatchFileFormat.PARQUET, BatchFileFormat.JSONL):
            raise NotImplementedError(f"unsupported BATCH encoding {encoding.format}")
        for path in files:
            self.committer.submit(lambda path=path: self._commit_batch_file(encoding, path))

    def _commit_batch_file(self, encoding: BaseBatchFileEncoding, path: str) -> None:
        received = time.time()
        head, tail = StorageTarget.split_url(path)
        storage = self.batch_config.storage if self.batch_config else None
        file_storage = storage or StorageTarget.from_url(head)
        with file_storage.open(tail, mode="rb") as handle:
            try:
                if encoding.format == BatchFileFormat.PARQUET:
                    table = self._conform_batch_table(pq.read_table(handle))
                else:
                    opener = _gunzip if encoding.compression == "gzip" else _identity
                    lines = opener(handle)
                    rows = [json.loads(line, parse_float=Decimal) for line in lines if line.strip()]
                    table = self._dicts_to_table(rows)
            except ValueError as error:
                raise ValueError(f"stream '{printable(self.stream_name)}': {error}") from error
        self.record_counter_metric.increment(table.num_rows)
        self.manifest.received_rows += table.num_rows
        self._commit(table, [received] * table.num_rows)

    def _conform_batch_table(self, table: pa.Table) -> pa.Table:
        """A BATCH Parquet file cast to the stream's schema, undeclared columns kept."""
        try:
            conformed = conform_table(table, self._payload_schema)
        except ColumnConversionError as error:
            raise ValueError(error.describe(f"row {error.row + 1} of a BATCH file")) from error
        extra = self._undeclared.batch_column(table)
        if extra is None:
            return conformed
        return conformed.set_column(conformed.schema.get_field_index(EXTRA), EXTRA, extra)

    # -- committing ---------------------------------------------------------------------

    def _commit(self, payload: pa.Table, received: list[float]) -> None:
        batched_at = dt.datetime.now(dt.UTC)
        table = self._with_metadata_columns(payload, received, batched_at)
        run = self.run
        if self._schema_version is None:
            recorded = run.schemas_recorded.setdefault(self.stream_name, set())
            if run.unnamed_source:
                check_one_stream_per_folder(
                    run.lake, self.stream_name, schema_hash(self.arrow_schema), recorded
                )
            self._schema_version = record_schema_version(
                run.lake, run.source_name, self.stream_name, self.arrow_schema
            )
            recorded.add(self._schema_version)
        key = run.bookmark_key(self.stream_name)
        if self._profiling:
            self._profiler(key).observe(payload)
        if key and key in table.column_names and table.num_rows:
            bounds = pc.min_max(table.column(key))
            self.manifest.replication_key = key
            self.manifest.observe_replication_values(bounds["min"].as_py(), bounds["max"].as_py())
        for partition, part in self._partitions(table, batched_at):
            for offset in range(0, part.num_rows, self._rows_per_file):
                relative = (
                    f"{safe_name(run.source_name)}/{safe_name(self.stream_name)}/"
                    f"{partition}/{run.next_file_name()}"
                )
                written = run.lake.write_parquet(
                    relative,
                    part.slice(offset, self._rows_per_file),
                    compression=self.config.get("compression", "zstd"),
                    row_group_size=int(self.config.get("row_group_size", 100_000)),
                )
                self.manifest.add_file(written, self._schema_version)
                self.logger.info(
                    "stream %s: committed %s rows to %s",
                    printable(self.stream_name),
                    written["rows"],
                    written["path"],
                )

    def _profiler(self, bookmark: str | None) -> RunProfiler:
        """The run's profiler, made at the first commit (the bookmark key is known by
        then). Duplicate keys are counted except for change streams (`_sdc_lsn`), where
        one key legitimately has many changes in a run."""
        if self.manifest.profiler is None:
            self.manifest.profiler = RunProfiler(
                choose_event_field(self._payload_schema, self._event_field_setting, bookmark),
                list(self.key_properties or []),
                track_keys=CHANGE_POSITION not in self._payload_schema.names,
            )
        return self.manifest.profiler

    def _with_metadata_columns(
        self, payload: pa.Table, received: list[float], batched_at: dt.datetime
    ) -> pa.Table:
        rows = payload.num_rows
        received_array = epoch_seconds_to_timestamps(received[:rows] or [None] * rows)
        batched_array = pa.repeat(pa.scalar(batched_at, type=pa.timestamp("us", tz="UTC")), rows)
        sequence = self.run.next_sequences(rows)
        columns = []
        sync_started = pa.repeat(pa.scalar(self.sync_started_at, type=pa.int64()), rows)
        for field in self.arrow_schema:
            if field.name == RECEIVED_AT:
                columns.append(received_array)
            elif field.name == BATCHED_AT:
                columns.append(batched_array)
            elif field.name == SEQUENCE:
                columns.append(sequence)
            elif field.name == SYNC_STARTED_AT:
                columns.append(sync_started)
            else:
                columns.append(payload.column(field.name))
        return pa.Table.from_arrays(columns, schema=self.arrow_schema)

    def _partitions(self, table: pa.Table, batched_at: dt.datetime):
        field_name = (self.config.get("partition_by") or {}).get(self.stream_name)
        if not field_name or field_name not in table.column_names:
            yield f"extracted_date={batched_at:%Y-%m-%d}", table
            return
        column = table.column(field_name)
        if not (pa.types.is_timestamp(column.type) or pa.types.is_date32(column.type)):
            raise ValueError(
                f"partition_by for '{printable(self.stream_name)}' names "
                f"'{printable(field_name)}', which is {column.type}; use a date or date-time field"
            )
        months = pc.fill_null(pc.strftime(column, format="%Y-%m"), "__null__")
        for month in pc.unique(months).to_pylist():
            yield (
                f"{safe_name(field_name)}_month={month}",
                table.filter(pc.equal(months, month)),
            )


def _groups(runs: list[bytes], group_bytes: int) -> Iterator[list[bytes]]:
    """Consecutive runs in groups of about `group_bytes` (whole runs, in order)."""
    group: list[bytes] = []
    size = 0
    for run in runs:
        group.append(run)
        size += len(run)
        if size >= group_bytes:
            yield group
            group, size = [], 0
    if group:
        yield group


def _raise_for_bad_line(runs: list[bytes]) -> None:
    """Name the first line of a group that is not a RECORD message (as the reader would)."""
    for run in runs:
        for line in run.splitlines():
            try:
                decode_envelope(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                raise InvalidInputLine(f"Unable to parse line as JSON: {line[:200]!r}") from error


def _identity(handle):
    return handle


def _gunzip(handle):
    import gzip

    return gzip.open(handle)
