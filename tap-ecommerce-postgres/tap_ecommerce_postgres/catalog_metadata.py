"""What a discovered catalog tells its user about each stream, in Singer's metadata words.

MeltanoLabs' tap-postgres advertises each table's keys, schema and whether it is a view;
this tap adds what a user needs to choose a replication per stream without reading code:
`valid-replication-keys` (the columns an INCREMENTAL read can order and bookmark by) and
`valid-replication-methods` (an extension of the Singer spec, named after
`valid-replication-keys`: the methods this tap can run for the stream). Standard keys:
`table-key-properties`, `forced-replication-method` (only when `stream_options` forces one),
`schema-name`, `database-name`, `is-view`, `inclusion`, `selected-by-default`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from singer_sdk.singerlib import StreamMetadata

from tap_ecommerce_postgres.discovery import TableInfo
from tap_ecommerce_postgres.type_mapping import (
    DECIMAL_TYPES,
    INTEGER_TYPES,
    TIMESTAMP_TYPES,
    Column,
)

FULL_TABLE = "FULL_TABLE"
INCREMENTAL = "INCREMENTAL"
LOG_BASED = "LOG_BASED"
# Exact, ordered types whose `::text` Postgres casts back for the next run's `key >= bookmark`
# (floats are inexact; text orders by collation, arrays and JSON not meaningfully).
REPLICATION_KEY_TYPES = frozenset(INTEGER_TYPES | DECIMAL_TYPES | TIMESTAMP_TYPES | {"date"})


def replication_keys(columns: Sequence[Column]) -> list[str]:
    """Columns an INCREMENTAL read can use as its replication key, in column order."""
    return [c.name for c in columns if not c.is_array and c.base_type in REPLICATION_KEY_TYPES]


def replication_methods(table: TableInfo, *, reads_a_table: bool) -> list[str]:
    """FULL_TABLE always; INCREMENTAL with a usable key column; LOG_BASED for a table (not a
    view or custom query: no publication of its own) with a primary key (changes are
    applied by key)."""
    methods = [FULL_TABLE]
    if replication_keys(table.columns):
        methods.append(INCREMENTAL)
    if reads_a_table and not table.is_view and table.primary_key:
        methods.append(LOG_BASED)
    return methods


@dataclass(slots=True)
class PostgresStreamMetadata(StreamMetadata):
    """The SDK's stream metadata plus the keys it does not model (written hyphenated)."""

    valid_replication_methods: list[str] | None = None
    is_view: bool | None = None
    database_name: str | None = None


def advertised(
    root: StreamMetadata, table: TableInfo, *, reads_a_table: bool, database: str | None
) -> PostgresStreamMetadata:
    """`root` with what discovery knows filled in where `root` says nothing (a catalog's
    own values, e.g. a user's `replication-key`, are kept)."""
    result = PostgresStreamMetadata(**{f.name: getattr(root, f.name) for f in fields(root)})
    defaults = {
        "valid_replication_keys": replication_keys(table.columns),
        "valid_replication_methods": replication_methods(table, reads_a_table=reads_a_table),
        "schema_name": table.schema or None,
        "is_view": table.is_view if reads_a_table else None,
        "database_name": database if reads_a_table else None,
    }
    for name, value in defaults.items():
        if getattr(result, name) is None:
            setattr(result, name, value)
    return result
