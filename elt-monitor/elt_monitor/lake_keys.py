"""How many distinct primary keys the lake holds for a stream.

Compared with a tap's count of the whole source table (`source_rows`), it shows rows the
lake keeps that the source no longer has: hard deletes an INCREMENTAL stream cannot see.
Only the key columns of the stream's committed files are read (the files its manifests
list and no later run replaced), so the cost is one narrow column scan per checked stream.
A file that cannot be read makes the count unknown, never smaller.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from elt_monitor.lake import Lake


def committed_files(manifests: Iterable[dict[str, Any]], source: str, stream: str) -> list[str]:
    """The stream's current files: those of complete runs that no later run replaced."""
    mine = [
        m
        for m in manifests
        if m.get("source") == source and m.get("stream") == stream and m.get("status") == "complete"
    ]
    replaced = {path for m in mine for path in m.get("replaced_files") or []}
    return [
        f["path"]
        for m in mine
        for f in m.get("files") or []
        if f.get("path") and f["path"] not in replaced
    ]


def key_columns(manifests: Iterable[dict[str, Any]], source: str, stream: str) -> list[str]:
    """The key the target recorded for the stream in its latest manifest that names one."""
    latest: list[str] = []
    for m in sorted(manifests, key=lambda m: m.get("started_at") or ""):
        if m.get("source") == source and m.get("stream") == stream and m.get("key_properties"):
            latest = list(m["key_properties"])
    return latest


def distinct_keys(
    lake: Lake, manifests: list[dict[str, Any]], source: str, stream: str
) -> int | None:
    """Distinct keys over the stream's committed files; None when the stream declares no
    key or a file cannot be read."""
    keys = key_columns(manifests, source, stream)
    if not keys:
        return None
    tables = []
    for path in committed_files(manifests, source, stream):
        try:
            tables.append(
                pq.read_table(path.removeprefix("s3://"), columns=keys, filesystem=lake.fs)
            )
        except (OSError, KeyError, pa.ArrowInvalid):
            return None
    if not tables:
        return 0
    table = pa.concat_tables(tables, promote_options="permissive")
    return table.group_by(keys).aggregate([]).num_rows
