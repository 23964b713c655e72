"""Ingestion metadata under `<lake>/_meta/`: run manifests and the schema history.

Both are JSON-lines files (one object per line) so that DuckDB reads them directly:
`select * from read_json_auto('<lake>/_meta/manifests/**/*.jsonl')`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, fields
from typing import Any

import pyarrow as pa

from target_minio_parquet.arrow_schema import schema_columns, schema_diff, schema_hash
from target_minio_parquet.profile import RunProfiler
from target_minio_parquet.storage import Lake, safe_name


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass
class StreamManifest:
    """What one run wrote for one stream (possibly across several schema versions)."""

    run_id: str
    source: str
    stream: str
    started_at: str = field(default_factory=_now)
    finished_at: str | None = None
    status: str = "running"
    files: list[dict[str, Any]] = field(default_factory=list)
    total_rows: int = 0
    total_bytes: int = 0
    replication_key: str | None = None
    min_replication_value: str | None = None
    max_replication_value: str | None = None
    schema_hashes: list[str] = field(default_factory=list)
    activated_versions: list[int] = field(default_factory=list)
    load_method: str = "append-only"
    # overwrite: the files of earlier runs this run replaced (deleted once this
    # manifest says "complete"); the stream's current files are then this run's `files`
    replaced_files: list[str] = field(default_factory=list)
    # records the target received for the stream in this run (every path: lines, dicts,
    # BATCH files), whether or not committed yet: the monitor reconciles it with the
    # tap's count and with `total_rows`
    received_rows: int = 0
    # the stream's primary key as its SCHEMA message declared it: the monitor counts the
    # keys the lake holds with it (hard deletes an INCREMENTAL tap cannot see)
    key_properties: list[str] = field(default_factory=list)
    # the column profile of what was committed (profile.py); not serialised itself
    profiler: RunProfiler | None = field(default=None, repr=False)

    def add_file(self, written: dict[str, Any], schema_version: str) -> None:
        self.files.append({**written, "schema_hash": schema_version})
        self.total_rows += written["rows"]
        self.total_bytes += written["bytes"]
        if schema_version not in self.schema_hashes:
            self.schema_hashes.append(schema_version)

    def observe_replication_values(self, low: Any, high: Any) -> None:
        if low is None:
            return
        low, high = str(low), str(high)
        if self.min_replication_value is None or low < self.min_replication_value:
            self.min_replication_value = low
        if self.max_replication_value is None or high > self.max_replication_value:
            self.max_replication_value = high

    def write(self, lake: Lake, status: str) -> str:
        self.status = status
        self.finished_at = _now()
        relative = (
            f"_meta/manifests/source={safe_name(self.source)}/stream={safe_name(self.stream)}/"
            f"{self.run_id}.jsonl"
        )
        return lake.write_text(relative, json.dumps(self.as_dict()) + "\n")

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "profiler"}
        data["profile"] = self.profiler.summary() if self.profiler else None
        return data


def record_schema_version(lake: Lake, source: str, stream: str, schema: pa.Schema) -> str:
    """Add the schema to the stream's history if it is new; returns its hash."""
    version = schema_hash(schema)
    directory = f"_meta/schema_history/source={safe_name(source)}/stream={safe_name(stream)}"
    existing = lake.list_files(directory)
    if any(path.endswith(f"/{version}.jsonl") for path in existing):
        return version
    previous = _latest_entry(lake, existing)
    columns = schema_columns(schema)
    entry = {
        "source": source,
        "stream": stream,
        "schema_hash": version,
        "first_seen_at": _now(),
        "previous_schema_hash": previous["schema_hash"] if previous else None,
        "columns": [{"name": name, "type": text} for name, text in columns.items()],
        **schema_diff(
            {c["name"]: c["type"] for c in previous["columns"]} if previous else None, columns
        ),
    }
    lake.write_text(f"{directory}/{version}.jsonl", json.dumps(entry) + "\n")
    return version


def _latest_entry(lake: Lake, paths: list[str]) -> dict[str, Any] | None:
    latest: dict[str, Any] | None = None
    for path in paths:
        with lake.fs.open_input_stream(path) as stream:
            entry = json.loads(stream.read().decode())
        if latest is None or entry["first_seen_at"] > latest["first_seen_at"]:
            latest = entry
    return latest
