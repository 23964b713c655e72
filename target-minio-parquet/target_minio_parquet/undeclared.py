"""RECORD fields a stream's SCHEMA does not declare: kept, announced, or refused.

A tap that sends more than it declares (a new API field, a column added upstream) must
not lose data silently. Such top-level fields are kept as one JSON object per row in
`_sdc_extra`, with one warning per stream and field; with `strict_schema` the run fails
instead, naming them. Every record path (Arrow's lane falls back to msgspec for such a
buffer, the SDK's per-record path, BATCH files) builds the column with the same function,
so they agree byte for byte.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from target_minio_parquet.arrow_schema import EXTRA
from target_minio_parquet.columns import json_text
from target_minio_parquet.storage import printable


def extra_fields(
    records: Sequence[dict[str, Any]], declared: frozenset[str]
) -> tuple[pa.Array, list[str]]:
    """The `_sdc_extra` column: each record's keys outside `declared` as one compact JSON
    object (in the record's key order), null for a record without any; and the names
    found, in order of first appearance."""
    found: dict[str, None] = {}
    texts: list[str | None] = []
    for record in records:
        if not record.keys() - declared:
            texts.append(None)
            continue
        extra = {key: value for key, value in record.items() if key not in declared}
        found.update(dict.fromkeys(extra))
        texts.append(json_text(extra))
    return pa.array(texts, type=pa.string()), list(found)


class UndeclaredFields:
    """One stream's policy for undeclared fields: warn once per field, or fail."""

    def __init__(
        self, stream_name: str, declared: frozenset[str], strict: bool, logger: logging.Logger
    ) -> None:
        self.stream_name = stream_name
        self.declared = declared
        self.strict = strict
        self.logger = logger
        self._warned: set[str] = set()

    def column(self, records: Sequence[dict[str, Any]]) -> pa.Array:
        """`_sdc_extra` for `records` (ValueError under `strict_schema`: the caller
        names the stream, as for any conversion error)."""
        column, names = extra_fields(records, self.declared)
        self.note(names)
        return column

    def batch_column(self, table: pa.Table) -> pa.Array | None:
        """`_sdc_extra` for a BATCH Parquet file: its undeclared columns (null values left
        out, as a column has one in every row); None when it has none."""
        undeclared = [name for name in table.column_names if name not in self.declared]
        if not undeclared:
            return None
        rows = [
            {key: value for key, value in row.items() if value is not None}
            for row in table.select(undeclared).to_pylist()
        ]
        column, names = extra_fields(rows, frozenset())
        self.note(names)
        return column

    def note(self, names: list[str]) -> None:
        if not names:
            return
        if self.strict:
            shown = ", ".join(printable(name) for name in names)
            raise ValueError(
                f"RECORD fields not declared in the stream's SCHEMA: {shown} (setting "
                f"'strict_schema' is on; turn it off to keep such fields in {EXTRA})"
            )
        new = [name for name in names if name not in self._warned]
        if new:
            self._warned.update(new)
            self.logger.warning(
                "stream %s: RECORD fields not declared in the SCHEMA, kept in %s: %s",
                self.stream_name,  # escaped by the logger's PrintableArguments filter
                EXTRA,
                ", ".join(printable(name) for name in new),
            )
