"""Orphans of declared foreign keys: rows of a run whose reference names no row of the
stream it points to (charges -> orders by `metadata.order_id`).

Computed when a run is recorded, from the lake itself: the referencing column of the run's
own files, the referenced key over the referenced stream's committed files (rows of
deleted keys included: a delete explains a missing order, an orphan is a key that never
was). The figure is stored in the ledger row (`orphans`), and the rule that judges it
(`data_rules.orphans`) stays a pure function of ledger rows. A column `a.b` reads field
`b` of the JSON object column `a` (how the target stores nested objects). Keys compare as
text: Stripe metadata holds "10523" where the shop's key is the integer 10523.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from elt_monitor.lake import Lake
from elt_monitor.lake_keys import committed_files
from elt_monitor.settings import ForeignKey

SAMPLE = 5  # orphan values kept in the ledger to show a person


def _values(lake: Lake, paths: list[str], column: str) -> pa.Array | None:
    """Non-null values of `column` (or `column.field`) as an Arrow string array; None
    when a file is unreadable. Kept in Arrow: a year of an orders stream's keys is a
    million values, looked up with one `is_in`."""
    top, _, inner = column.partition(".")
    chunks: list[pa.Array] = []
    for path in paths:
        where = path.removeprefix("s3://")
        try:
            if top not in pq.read_schema(where, filesystem=lake.fs).names:
                continue
            values = pq.read_table(where, columns=[top], filesystem=lake.fs).column(top)
        except (OSError, pa.ArrowInvalid):
            return None
        present = values.drop_null().combine_chunks()
        if inner:
            present = pa.array(_json_fields(present.to_pylist(), inner), pa.string())
        chunks.append(pc.cast(present, pa.string()))
    return pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())


def _json_fields(texts: list[str], name: str) -> list[str]:
    """Field `name` of each JSON object text, as text; objects without it are skipped."""
    found = []
    for text in texts:
        try:
            value = json.loads(text)
        except (TypeError, json.JSONDecodeError):
            continue
        if isinstance(value, dict) and value.get(name) is not None:
            found.append(str(value[name]))
    return found


def orphans(
    lake: Lake, manifests: list[dict[str, Any]], run_files: list[str], fk: ForeignKey
) -> dict[str, Any] | None:
    """{checked, orphans, sample} for one run's files of the referencing stream."""
    values = _values(lake, run_files, fk.column)
    source, stream = fk.references.split("/", 1)
    keys = _values(lake, committed_files(manifests, source, stream), fk.key)
    if values is None or keys is None:
        return None
    missing = values.filter(pc.invert(pc.is_in(values, value_set=keys)))
    return {
        "column": fk.column,
        "references": f"{fk.references}.{fk.key}",
        "checked": len(values),
        "orphans": len(missing),
        "sample": sorted(set(missing.to_pylist()))[:SAMPLE],
    }


def for_rows(
    lake: Lake,
    manifests: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    declared: tuple[ForeignKey, ...],
) -> None:
    """Sets `orphans` (JSON: one entry per declared key) on each successful row of a
    referencing stream."""
    files_of = {
        (m["run_id"], f"{m['source']}/{m['stream']}"): [f["path"] for f in m.get("files") or []]
        for m in manifests
        if m.get("status") == "complete"
    }
    for row in rows:
        name = f"{row['source']}/{row['stream']}"
        mine = [fk for fk in declared if fk.stream == name]
        if not mine or row["status"] != "success":
            continue
        run_files = files_of.get((row["run_id"], name), [])
        if not run_files:
            continue
        found = [entry for fk in mine if (entry := orphans(lake, manifests, run_files, fk))]
        row["orphans"] = json.dumps(found) if found else None
