"""Postgres column types to JSON Schema, as pure functions (see README for the table).

Decimals follow the suite's convention: an exact string with `format: x-singer.decimal`
plus `precision` and `scale`, which target-minio-parquet reads as decimal128(p, s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DECIMAL_FORMAT = "x-singer.decimal"
INTEGER_TYPES = {"smallint", "integer", "bigint", "int2", "int4", "int8", "oid"}
FLOAT_TYPES = {"real", "double precision", "float4", "float8"}
DECIMAL_TYPES = {"numeric", "decimal"}
TIMESTAMP_TYPES = {
    "timestamp without time zone",
    "timestamp with time zone",
    "timestamp",
    "timestamptz",
}
TIME_TYPES = {"time without time zone", "time with time zone", "time", "timetz"}
JSON_TYPES = {"json", "jsonb"}
ANY_JSON = ["object", "array", "string", "number", "integer", "boolean", "null"]
UDT_TO_TYPE = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "timetz": "time with time zone",
    "time": "time without time zone",
    "varchar": "character varying",
    "bpchar": "character",
}


@dataclass(frozen=True)
class Column:
    """What discovery knows about one column."""

    name: str
    data_type: str  # information_schema.data_type, e.g. "numeric", "ARRAY", "USER-DEFINED"
    udt_name: str  # e.g. "numeric", "_int4", "order_status"
    nullable: bool = True
    precision: int | None = None
    scale: int | None = None
    description: str | None = None

    @property
    def base_type(self) -> str:
        if self.data_type == "ARRAY":
            return UDT_TO_TYPE.get(self.udt_name.lstrip("_"), self.udt_name.lstrip("_"))
        return self.data_type.lower()

    @property
    def is_array(self) -> bool:
        return self.data_type == "ARRAY"

    @property
    def is_integer(self) -> bool:
        """A scalar integer column (Arrow int64, bookmarked as a number)."""
        return not self.is_array and self.base_type in INTEGER_TYPES

    @property
    def is_naive_timestamp(self) -> bool:
        return self.base_type in {"timestamp without time zone", "timestamp"}


def scalar_schema(base_type: str, precision: int | None, scale: int | None) -> dict[str, Any]:
    """JSON schema (without nullability) for one non-array Postgres type."""
    if base_type in INTEGER_TYPES:
        return {"type": "integer"}
    if base_type in DECIMAL_TYPES:
        schema: dict[str, Any] = {"type": "string", "format": DECIMAL_FORMAT}
        if precision is not None:
            # Both spellings: the SDK's catalog round trip keeps only the x- extension.
            exact = {"precision": precision, "scale": scale or 0}
            schema |= {**exact, "x-sql-datatype": "numeric", "x-sql-datatype-properties": exact}
        return schema
    if base_type in FLOAT_TYPES:
        return {"type": "number"}
    if base_type == "boolean":
        return {"type": "boolean"}
    if base_type in TIMESTAMP_TYPES:
        return {"type": "string", "format": "date-time"}
    if base_type == "date":
        return {"type": "string", "format": "date"}
    if base_type in TIME_TYPES:
        return {"type": "string", "format": "time"}
    if base_type in JSON_TYPES:
        return {"type": ANY_JSON}
    if base_type == "uuid":
        return {"type": "string", "format": "uuid"}
    return {"type": "string"}  # text, varchar, enum, bytea (hex), interval, money, inet...


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    declared = schema["type"]
    types = [declared] if isinstance(declared, str) else list(declared)
    if "null" not in types:
        types.append("null")
    return {**schema, "type": types}


def column_schema(column: Column) -> dict[str, Any]:
    """The JSON schema of a column, NOT NULL reflected, comment as description."""
    if column.is_array:
        element = nullable(scalar_schema(column.base_type, column.precision, column.scale))
        schema: dict[str, Any] = {"type": "array", "items": element}
    else:
        schema = scalar_schema(column.base_type, column.precision, column.scale)
    if column.nullable:
        schema = nullable(schema)
    if column.description:
        schema["description"] = column.description
    return schema


def restore_decimal_keys(schema: dict[str, Any]) -> dict[str, Any]:
    """Put `precision`/`scale` back on decimal properties after a catalog round trip.

    The SDK's catalog model keeps only known keywords (including the `x-sql-datatype-*`
    extension) and drops the suite's top-level `precision`/`scale`; the SCHEMA messages
    must carry them, so they are copied back from the extension.
    """
    restored = dict(schema)
    extension = restored.get("x-sql-datatype-properties") or {}
    if restored.get("format") == DECIMAL_FORMAT and "precision" in extension:
        restored.setdefault("precision", extension["precision"])
        restored.setdefault("scale", extension.get("scale", 0))
    if isinstance(restored.get("items"), dict):
        restored["items"] = restore_decimal_keys(restored["items"])
    if isinstance(restored.get("properties"), dict):
        restored["properties"] = {
            name: restore_decimal_keys(value) for name, value in restored["properties"].items()
        }
    return restored
