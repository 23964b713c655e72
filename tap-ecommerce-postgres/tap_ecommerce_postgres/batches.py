"""Full loads as Parquet BATCH files: Postgres renders JSON, Arrow's C++ reader parses it.

No per-row Python: rows arrive as JSON text from the same query as the record path, are
joined into newline-delimited chunks and parsed by pyarrow.json with an explicit schema
(decimals and timestamps stay exact text; the target casts them to decimal128 and UTC
timestamps). Streams with json/array columns use the SDK's record batching instead.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from tap_ecommerce_postgres.type_mapping import (
    FLOAT_TYPES,
    INTEGER_TYPES,
    JSON_TYPES,
    Column,
)


def batchable(columns: list[Column]) -> bool:
    """Only flat scalar columns go through Arrow's JSON reader."""
    return not any(c.is_array or c.base_type in JSON_TYPES for c in columns)


def raw_arrow_type(column: Column) -> pa.DataType:
    if column.base_type in INTEGER_TYPES:
        return pa.int64()
    if column.base_type in FLOAT_TYPES:
        return pa.float64()
    if column.base_type == "boolean":
        return pa.bool_()
    return pa.string()  # text, and exact text for decimals, dates and timestamps


def raw_schema(columns: list[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, raw_arrow_type(c)) for c in columns])


def parquet_chunks(json_rows: Iterable[str], schema: pa.Schema) -> pa.Table:
    """Newline-delimited JSON text to a table with exactly `schema`."""
    data = "\n".join(json_rows).encode()
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    return pajson.read_json(
        io.BytesIO(data),
        read_options=pajson.ReadOptions(block_size=64 << 20),
        parse_options=options,
    )


def write_batch_file(storage, prefix: str, stream: str, table: pa.Table, compression: str) -> str:
    """Write one Parquet file to the BATCH storage and return its URL."""
    filename = f"{prefix}{stream}-{uuid.uuid4().hex}.parquet"
    with storage.open(filename, "wb") as handle:
        pq.write_table(table, handle, compression=compression or "none")
    return storage.get_url(filename)
