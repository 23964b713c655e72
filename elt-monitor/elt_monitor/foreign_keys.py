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


def _values(lake: Lake, paths: list[str], column: str) -> list[str] | None:
    """Non-null values of `column` (or `column.field`) as text; None when unreadable."""
    top, _, inner = column.partition(".")
    found: list[str] = []
    for path in paths:
        where = path.removeprefix("s3://")
        try:
            if top not in pq.read_schema(where, filesystem=lake.fs).names:
                continue
            values = pq.read_table(where, columns=[top], filesystem=lake.fs).column(top)
        except (OSError, pa.ArrowInvalid):
            return None
        if not inner:
            found += [str(v) for v in pc.cast(values.drop_null(), pa.string()).to_pylist()]
            continue
        for text in values.drop_null().to_pylist():
            try:
                value = json.loads(text)
            except (TypeError, json.JSONDecodeError):
                continue
            if isinstance(value, dict) and value.get(inner) is not None:
                found.append(str(value[inner]))
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
    known = set(keys)
    missing = [v for v in values if v not in known]
    return {
        "column": fk.column,
        "references": f"{fk.references}.{fk.key}",
        "checked": len(values),
        "orphans": len(missing),
        "sample": sorted(set(missing))[:SAMPLE],
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
