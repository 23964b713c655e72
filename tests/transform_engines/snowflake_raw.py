"""Raw tables shaped like target-snowflake's output, filled from the same rows as the lake.

MeltanoLabs target-snowflake (through singer-sdk's SQL sink) creates one table per stream
in the extractor's schema (`TAP_ECOMMERCE_POSTGRES.CUSTOMERS` for `public-customers`),
with upper-case unquoted column names, JSON objects as VARIANT, `date-time` as
TIMESTAMP_NTZ (UTC wall clock), `x-singer.decimal` as NUMBER(p, s), integers as
NUMBER(38, 0), and the `_SDC_*` metadata columns it adds. The column list of every stream
comes from the JSON schemas in tests/transform/bronze.py, so the two test lakes agree.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tests.transform.bronze import STREAM_BY_NAME, STREAMS

SDC_COLUMNS = {
    "_sdc_extracted_at": "timestamp_ntz",
    "_sdc_received_at": "timestamp_ntz",
    "_sdc_batched_at": "timestamp_ntz",
    "_sdc_deleted_at": "varchar",
    "_sdc_sequence": "number(38, 0)",
    "_sdc_table_version": "number(38, 0)",
    "_sdc_sync_started_at": "number(38, 0)",
}


def snowflake_type(prop: Mapping[str, Any]) -> str:
    """A JSON-schema property to the column type target-snowflake creates."""
    types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    if "object" in types or "array" in types:
        return "variant"
    if "integer" in types:
        return "number(38, 0)"
    if "boolean" in types:
        return "boolean"
    if prop.get("format") == "date-time":
        return "timestamp_ntz"
    if prop.get("format") == "date":
        return "date"
    if prop.get("format") == "x-singer.decimal":
        return f"number({prop['precision']}, {prop['scale']})"
    return "varchar"


def raw_table(stream: str) -> tuple[str, str, dict[str, str]]:
    """(schema, table, {column: type}) of a stream, as target-snowflake names them."""
    source, folder = STREAM_BY_NAME[stream]
    columns = {
        name: snowflake_type(prop) for name, prop in STREAMS[(source, folder)]["properties"].items()
    }
    return source.upper(), folder.split("-")[-1].upper(), {**columns, **SDC_COLUMNS}


def sql_literal(value: Any, column_type: str) -> str:
    if value is None:
        return "null"
    if column_type == "variant":
        return f"parse_json('{json.dumps(value)}')"
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
        return f"'{utc.isoformat(sep=' ')}'::timestamp_ntz"
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'::date"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def load(cursor: Any, database: str, streams: Mapping[str, list[dict[str, Any]]]) -> None:
    """Create the raw database, schemas and tables and insert `streams` into them."""
    cursor.execute(f"create database if not exists {database}")
    sequence = 0
    batched_at = dt.datetime(2025, 6, 1, 12, 0)
    for stream, rows in streams.items():
        schema, table, columns = raw_table(stream)
        cursor.execute(f"create schema if not exists {database}.{schema}")
        ddl = ", ".join(f"{name} {kind}" for name, kind in columns.items())
        cursor.execute(f"create or replace table {database}.{schema}.{table} ({ddl})")
        for row in rows:
            sequence += 1
            values = {
                "_sdc_extracted_at": batched_at,
                "_sdc_received_at": batched_at,
                "_sdc_batched_at": batched_at,
                "_sdc_sequence": sequence,
                **row,
            }
            literals = ", ".join(
                sql_literal(values.get(name), kind) for name, kind in columns.items()
            )
            cursor.execute(
                f"insert into {database}.{schema}.{table} ({', '.join(columns)}) select {literals}"
            )
