"""target-minio-parquet: Singer target for a typed, atomic Parquet bronze lake.

The target routes messages; the objects it owns do one job each: `MemoryBudget` decides
which buffer to write when memory runs short, `Committer` writes buffers in the
background, `LakeRun` numbers and lists what the run writes, and each `ParquetSink`
buffers one stream. Calls go one way: the target calls the sinks, the sinks call the
budget, the committer and the run, and nothing calls back into the target.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import time
from collections import Counter
from functools import cached_property

import pyarrow as pa
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError, MissingKeyPropertiesError
from singer_sdk.singerlib import SingerMessageType
from singer_sdk.target_base import Target

from target_minio_parquet.budget import MemoryBudget
from target_minio_parquet.committer import Committer
from target_minio_parquet.legacy_schema import normalize_legacy_schema
from target_minio_parquet.manifest import StreamManifest
from target_minio_parquet.reader import RAW_RECORD, FastMsgSpecReader, RecordEnvelope
from target_minio_parquet.run import RUN_STARTED_LINE, LakeRun
from target_minio_parquet.sink import ParquetSink
from target_minio_parquet.storage import (
    DestinationError,
    Lake,
    LakeLocation,
    PrintableArguments,
    printable,
    safe_name,
)
from target_minio_parquet.unnamed_source import UNNAMED_SOURCE

METRIC_EVERY = 10_000  # records between record_count metrics and max-age checks
APPEND_ONLY = "append-only"
OVERWRITE = "overwrite"

# Arrow's default pool (mimalloc) keeps freed pages for reuse, so every flush's transient
# buffers (the JSON parse, casts, the Parquet encoder) stay in the process: measured over
# the shop tables at scale 1, peak RSS 250 MB with mimalloc and 170 MB with the system
# allocator, at the same speed. Flushes are large and few, so reuse buys nothing here.
pa.set_memory_pool(pa.system_memory_pool())


class TargetMinioParquet(Target):
    """Writes every stream as Parquet under `<destination>/<source>/<stream>/<partition>/`."""

    name = "target-minio-parquet"
    default_sink_class = ParquetSink
    message_reader_class = FastMsgSpecReader  # msgspec: 3x faster; JSON numbers -> Decimal

    config_jsonschema = th.PropertiesList(
        th.Property(
            "destination",
            th.StringType,
            default="output/lake",
            description="Local directory, or s3://bucket/prefix, that holds the bronze lake.",
        ),
        th.Property(
            "s3_endpoint_url",
            th.StringType,
            description="S3/MinIO endpoint such as http://127.0.0.1:9000 (default: "
            "AWS_ENDPOINT_URL, else AWS).",
        ),
        th.Property("aws_access_key_id", th.StringType, secret=True, description="S3 access key."),
        th.Property(
            "aws_secret_access_key", th.StringType, secret=True, description="S3 secret key."
        ),
        th.Property("aws_region", th.StringType, default="us-east-1", description="S3 region."),
        th.Property(
            "s3_path_style",
            th.BooleanType,
            default=True,
            description="Path-style addressing (needed by MinIO).",
        ),
        th.Property(
            "s3_verify_tls", th.BooleanType, default=True, description="Verify TLS certificates."
        ),
        th.Property(
            "source_name",
            th.StringType,
            description="Folder for this source in the lake. Default: MELTANO_EXTRACTOR_NAMESPACE"
            " or MELTANO_EXTRACTOR_NAME from Meltano, else 'default'.",
        ),
        th.Property(
            "partition_by",
            th.ObjectType(additional_properties=th.StringType),
            description="Stream name -> date or date-time field: partition that stream by the "
            "field's month (`<field>_month=YYYY-MM`) instead of the extraction date.",
        ),
        th.Property(
            "profile_runs",
            th.BooleanType,
            default=True,
            description="Profile what each run commits (rows by event date and hour, nulls, "
            "sums, categories, duplicate keys) into its manifest, for elt-monitor's data "
            "checks. Costs a few % of throughput (bench/target_parquet.py).",
        ),
        th.Property(
            "event_time_fields",
            th.ObjectType(additional_properties=th.StringType),
            description="Stream name -> the date or date-time field that is the record's "
            "business time, profiled per run (rows by event date and hour) for elt-monitor. "
            "Default: the stream's bookmark when it is a time, else the first of created_at, "
            "created, ordered_at, order_date, occurred_at, event_time, date, day, updated_at.",
        ),
        th.Property(
            "max_buffer_rows",
            th.IntegerType,
            default=50_000,
            description="Rows buffered across all streams; when reached, the largest buffer "
            "is written as a file.",
        ),
        th.Property(
            "max_buffer_bytes",
            th.IntegerType,
            default=128 * 1024 * 1024,
            description="Estimated memory of the buffers across all streams; when reached, "
            "the largest buffer is written as a file.",
        ),
        th.Property(
            "max_rows_per_file",
            th.IntegerType,
            default=1_000_000,
            description="Most rows in one Parquet file (a file never holds more than one "
            "buffer flush, so files are also bounded by max_buffer_rows).",
        ),
        th.Property(
            "row_group_size", th.IntegerType, default=100_000, description="Parquet row group size."
        ),
        th.Property(
            "compression",
            th.StringType,
            default="zstd",
            allowed_values=["zstd", "snappy", "gzip", "lz4", "brotli", "none"],
            description="Parquet compression codec.",
        ),
        th.Property(
            "write_manifests",
            th.BooleanType,
            default=True,
            description="Write a manifest per stream per run and the schema history under _meta/.",
        ),
        th.Property(
            "load_method",
            th.StringType,
            default=APPEND_ONLY,
            allowed_values=[APPEND_ONLY, OVERWRITE],
            description="append-only: every run adds files. overwrite: once a run has "
            "committed all its files, each stream it wrote replaces the files of earlier "
            "runs (its manifest, written first, lists what it replaced; streams without "
            "records in the run keep their files). Bronze has no upsert: staging keeps the "
            "latest row per key.",
        ),
        th.Property(
            "strict_schema",
            th.BooleanType,
            default=False,
            description="Fail the run when a RECORD has fields its stream's SCHEMA does not "
            "declare, instead of keeping them as JSON text in the _sdc_extra column (with "
            "one warning per stream and field).",
        ),
        th.Property(
            "state_flush_seconds",
            th.IntegerType,
            default=60,
            description="On a STATE message, commit all buffers (and forward the STATE) when "
            "this long has passed since the last commit, so long runs checkpoint regularly.",
        ),
    ).to_dict()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.logger.addFilter(PrintableArguments())  # the SDK's lines name streams too
        try:  # config errors fail here, before the first message is read
            self.location = LakeLocation.from_config(dict(self.config))
        except DestinationError as error:
            raise ConfigValidationError(str(error), errors=[str(error)]) from None
        # Records (decoded chunks, SDK-path buffers) are acyclic dicts allocated by the
        # hundred thousand; the default thresholds would rescan them over and over.
        gc.set_threshold(100_000, 50, 100)
        self._started = dt.datetime.now(dt.UTC)
        self._last_commit = time.monotonic()
        self.budget = MemoryBudget(
            max_rows=int(self.config.get("max_buffer_rows", 50_000)),
            max_bytes=int(self.config.get("max_buffer_bytes", 128 * 1024 * 1024)),
        )
        self.committer = Committer()
        # Commits are already serialised in the committer thread; the SDK's parallel
        # drain would only add threads that queue up behind it.
        self.max_parallelism = 1
        self._fast_records = not (
            self.config.get("stream_maps") or self.config.get("flattening_enabled")
        )

    @cached_property
    def lake(self) -> Lake:
        return Lake(self.location)

    @cached_property
    def run(self) -> LakeRun:
        """Created with the first sink, so `--about` and config errors touch no lake.
        The run id is logged at once: elt-monitor finds this run's log block (and the
        tap's counts in it) by the id, even when the run commits no file."""
        run = LakeRun(
            self.lake,
            self.source_name,
            self._started,
            self.config.get("load_method", APPEND_ONLY),
            unnamed_source=self.source_name_is_unnamed,
        )
        self.logger.info(RUN_STARTED_LINE.format(run_id=run.run_id, source=self.source_name))
        return run

    @cached_property
    def source_name(self) -> str:
        return (
            self.config.get("source_name")
            or os.environ.get("MELTANO_EXTRACTOR_NAMESPACE")
            or os.environ.get("MELTANO_EXTRACTOR_NAME")
            or UNNAMED_SOURCE
        )

    @property
    def source_name_is_unnamed(self) -> bool:
        """Neither the config nor Meltano named the source (a pipe without source_name)."""
        return self.source_name == UNNAMED_SOURCE and not self.config.get("source_name")

    # -- records ---------------------------------------------------------------------

    def process_lines(self, file_input) -> Counter[str]:
        """The SDK's callbacks plus RAW_RECORD, the fast lane for RECORD lines."""
        return self.message_reader.process_lines(
            file_input,
            callbacks={
                SingerMessageType.SCHEMA: self._process_schema_message,
                SingerMessageType.RECORD: self._process_record_message,
                SingerMessageType.STATE: self._process_state_message,
                SingerMessageType.ACTIVATE_VERSION: self._process_activate_version_message,
                SingerMessageType.BATCH: self._process_batch_message,
                RAW_RECORD: self._buffer_raw_record,
            },
        )

    def _buffer_raw_record(self, envelope: RecordEnvelope, line: bytes) -> _Lane | None:
        """Buffer a RECORD line undecoded and return the reader's lane for the lines that
        follow; None sends it down the SDK's path (stream maps, flattening, or an unknown
        stream, which the SDK reports)."""
        sink = self._sinks_active.get(envelope.stream) if self._fast_records else None
        if sink is None:
            return None
        lane = _Lane(self, sink)
        lane.take_lines(line, 1)
        return lane

    def buffered(self, sink: ParquetSink, count: int) -> None:
        """After a sink buffered `count` records (either path): tallies, metrics, record
        age, and the shared budget: when it is exhausted the largest buffer is written,
        so a stream the tap has finished gives its memory back and streams a tap
        interleaves record by record still get large files."""
        sink.tally_record_read(count)
        sink.unreported_records += count  # before a drain, which reports them
        if sink.unreported_records >= METRIC_EVERY:
            sink.report_records()
            self._handle_max_record_age()
        if self.budget.exhausted:
            largest = self.budget.largest()
            if isinstance(largest, ParquetSink):
                self.drain_one(largest)

    def _process_record_message(self, message_dict: dict) -> None:
        """Without stream maps, a record only needs buffering: skip the SDK's per-record
        copy, map, validation and metrics (most of a target's CPU)."""
        stream = message_dict.get("stream")
        sink = self._sinks_active.get(stream) if self._fast_records else None
        if sink is None:
            super()._process_record_message(message_dict)  # sink.is_full asks the budget
            return
        record = message_dict["record"]
        for key in sink.key_properties:
            if key not in record:
                raise MissingKeyPropertiesError(
                    f"stream '{printable(stream)}': a record lacks key property '{key}'"
                )
        sink.buffer_record(record, message_dict)
        self.buffered(sink, 1)

    # -- other messages --------------------------------------------------------------

    def _process_schema_message(self, message_dict: dict) -> None:
        """Legacy (draft 3/4) schema forms are rewritten before the SDK checks the schema;
        a changed schema closes the stream's current file before the new one starts."""
        schema, notes = normalize_legacy_schema(message_dict.get("schema"))
        if notes:
            message_dict = {**message_dict, "schema": schema}
            self.logger.info(
                "stream %s: %d legacy JSON-schema forms rewritten (%s%s)",
                printable(str(message_dict.get("stream"))),
                len(notes),
                "; ".join(printable(note) for note in notes[:3]),
                "; ..." if len(notes) > 3 else "",
            )
        bookmarks = message_dict.get("bookmark_properties") or []
        if bookmarks:
            self.run.set_bookmark_key(message_dict["stream"], bookmarks[0])
        super()._process_schema_message(message_dict)
        for retired in self._sinks_to_clear:
            self.drain_one(retired)

    def _process_activate_version_message(self, message_dict: dict) -> None:
        """The stream's buffer is committed first, so the version is recorded after
        every record sent before it."""
        self._drain_stream(message_dict["stream"])
        self.committer.wait()
        super()._process_activate_version_message(message_dict)

    def _process_batch_message(self, message_dict: dict) -> None:
        """Buffered records are committed before the BATCH files: file order = message
        order."""
        self._drain_stream(message_dict["stream"])
        super()._process_batch_message(message_dict)

    def _drain_stream(self, stream_name: str) -> None:
        for stream_map in self.mapper.stream_maps.get(stream_name, []):
            sink = self._sinks_active.get(stream_map.stream_alias)
            if sink is not None:
                self.drain_one(sink)

    def _process_state_message(self, message_dict: dict) -> None:
        super()._process_state_message(message_dict)
        flush_after = int(self.config.get("state_flush_seconds", 60))
        if time.monotonic() - self._last_commit >= flush_after:
            self.drain_all()  # commits every buffer, then forwards the latest STATE
            self._last_commit = time.monotonic()

    # -- commits, STATE and the end of input ------------------------------------------

    def drain_all(self, *, is_endofpipe: bool = False) -> None:
        super().drain_all(is_endofpipe=is_endofpipe)
        self.committer.wait()

    def _write_state_message(self, state: dict) -> None:
        """Called by drain_all once every buffer is handed on: the commits are awaited,
        the manifests record the files committed so far (status "running"), then the
        STATE goes out."""
        self.committer.wait()
        self._write_manifests(status="running")
        super()._write_state_message(state)

    def _write_manifests(self, status: str) -> None:
        if self.config.get("write_manifests", True):
            for manifest in self.run.manifests.values():
                if manifest.files or status != "running":
                    manifest.write(self.lake, status=status)

    def process_endofpipe(self) -> None:
        """Every file is committed before the manifests say "complete"; with overwrite,
        the files each stream replaces are named in its manifest first and deleted
        after, so a run that fails never removes anything, and a crash between the two
        leaves files that the manifest already marks as replaced."""
        super().process_endofpipe()
        self.committer.close()
        manifests = self.run.manifests.values() if "run" in self.__dict__ else []
        overwrite = self.config.get("load_method", APPEND_ONLY) == OVERWRITE
        for manifest in manifests:
            if overwrite and manifest.files:
                manifest.replaced_files = self._earlier_files(manifest)
        if manifests:
            self._write_manifests(status="complete")
        for manifest in manifests:
            for path in manifest.replaced_files:
                self.lake.delete(self.lake.filesystem_path(path))
            if manifest.replaced_files:
                self.logger.info(
                    "stream %s: overwrite replaced %d files of earlier runs",
                    printable(manifest.stream),
                    len(manifest.replaced_files),
                )

    def _earlier_files(self, manifest: StreamManifest) -> list[str]:
        """The stream's Parquet files that this run did not write (as URIs)."""
        ours = {self.lake.filesystem_path(entry["path"]) for entry in manifest.files}
        folder = f"{safe_name(self.source_name)}/{safe_name(manifest.stream)}"
        return [
            self.location.uri(path)
            for path in self.lake.list_files(folder, recursive=True)
            if path.endswith(".parquet") and path not in ours
        ]


class _Lane:
    """The reader's lane for one stream's undecoded RECORD lines: the sink buffers them,
    then the target does its bookkeeping (so the sink never calls the target)."""

    __slots__ = ("_sink", "_target")

    def __init__(self, target: TargetMinioParquet, sink: ParquetSink) -> None:
        self._target = target
        self._sink = sink

    def take_lines(self, lines: bytes, count: int) -> None:
        self._sink.take_lines(lines, count)
        self._target.buffered(self._sink, count)


if __name__ == "__main__":
    TargetMinioParquet.cli()
