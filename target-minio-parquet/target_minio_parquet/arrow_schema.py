"""JSON Schema (from a Singer SCHEMA message) to Arrow types, as pure functions.

Types come from the schema, never from the data, so every file of a stream within one
schema version has the same Arrow schema. Rules:

| JSON Schema                                             | Arrow                        |
|---------------------------------------------------------|------------------------------|
| integer                                                 | int64                        |
| string, format x-singer.decimal, precision P, scale S   | decimal128(P, S)             |
|   (or x-sql-datatype-properties {precision, scale})     |                              |
| number with multipleOf 10^-S (precision P, else from    | decimal128(P, S)             |
|   power-of-ten bounds: |x| < 10^K gives K + S, else 38)  |                              |
| the same when P > 38 (e.g. Postgres' unbounded numeric) | string (the exact text)      |
| string, format x-singer.decimal without precision       | string (the exact text)      |
| number                                                  | float64                      |
| string, format date-time                                | timestamp('us', tz='UTC')    |
| string, format date / time                              | date32 / time64('us')        |
| boolean                                                 | bool                         |
| object with properties (no additionalProperties)        | struct of its properties     |
| array with items                                        | list of the items' type      |
| anything else (free-form object, union of types, {})    | string holding JSON text     |
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import pyarrow as pa

DECIMAL_FORMAT = "x-singer.decimal"
MAX_DECIMAL_PRECISION = 38
JSON_TEXT = pa.string()
JSON_TEXT_KEY = b"x-json"  # field metadata marking a column that holds JSON text
# ... and the JSON types its SCHEMA allows there ("object", "array,string"); absent: any
JSON_TYPES_KEY = b"x-json-types"

# Lineage columns, named once. The SDK declares _sdc_sync_started_at as integer epoch
# milliseconds (Target.initialized_at); it is kept in that form.
EXTRACTED_AT = "_sdc_extracted_at"
RECEIVED_AT = "_sdc_received_at"
BATCHED_AT = "_sdc_batched_at"
DELETED_AT = "_sdc_deleted_at"
SEQUENCE = "_sdc_sequence"
TABLE_VERSION = "_sdc_table_version"
SYNC_STARTED_AT = "_sdc_sync_started_at"
# RECORD fields the SCHEMA does not declare, as one JSON object text (null when none)
EXTRA = "_sdc_extra"

SDC_TIMESTAMP_COLUMNS = (EXTRACTED_AT, RECEIVED_AT, BATCHED_AT)
SDC_COLUMNS: dict[str, pa.DataType] = {
    EXTRACTED_AT: pa.timestamp("us", tz="UTC"),
    RECEIVED_AT: pa.timestamp("us", tz="UTC"),
    BATCHED_AT: pa.timestamp("us", tz="UTC"),
    DELETED_AT: pa.timestamp("us", tz="UTC"),
    SEQUENCE: pa.int64(),
    TABLE_VERSION: pa.int64(),
    SYNC_STARTED_AT: pa.int64(),
    EXTRA: pa.string(),
}
# Set by the sink when it commits a file, whatever a record says
COMMIT_COLUMNS = frozenset({SEQUENCE, RECEIVED_AT, BATCHED_AT, SYNC_STARTED_AT})


def non_null_types(schema: dict[str, Any]) -> list[str]:
    """The JSON types a property allows, without "null"."""
    declared = schema.get("type")
    if declared is None:
        return []
    types = [declared] if isinstance(declared, str) else list(declared)
    return [name for name in types if name != "null"]


def resolve_union(schema: dict[str, Any]) -> dict[str, Any]:
    """Collapse `anyOf`/`oneOf` with a single non-null branch into that branch."""
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if branches:
            real = [b for b in branches if non_null_types(b) or "properties" in b]
            real = [b for b in real if non_null_types(b) != [] or b.get("properties")]
            if len(real) == 1:
                merged = {k: v for k, v in schema.items() if k != keyword}
                return {**merged, **resolve_union(real[0])}
    return schema


def decimal_scale_from_multiple_of(multiple_of: float | str) -> int | None:
    """multipleOf 0.01 -> scale 2; None when it is not a power of ten."""
    exponent = Decimal(str(multiple_of)).normalize().as_tuple()
    if exponent.digits != (1,) or not isinstance(exponent.exponent, int):
        return None
    return max(0, -exponent.exponent)


def power_of_ten_exponent(value: Any) -> int | None:
    """1000 -> 3, 1e62 -> 62; None when `value` is not a whole power of ten."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        exponent = Decimal(str(value)).copy_abs().normalize().as_tuple()
    except ArithmeticError:
        return None
    if exponent.digits != (1,) or not isinstance(exponent.exponent, int):
        return None
    return exponent.exponent if exponent.exponent >= 0 else None


def integer_digits_from_bounds(schema: dict[str, Any]) -> int | None:
    """Digits before the point that power-of-ten bounds allow: pipelinewise and singer-io
    taps describe `numeric(p, s)` as |x| < 10^(p-s) (`exclusiveMaximum` 10^(p-s)); an
    inclusive bound 10^K needs K + 1 digits. None without bounds, or with one that is
    not a power of ten."""
    digits = []
    for keyword, inclusive in (
        ("exclusiveMaximum", False),
        ("exclusiveMinimum", False),
        ("maximum", True),
        ("minimum", True),
    ):
        if keyword not in schema or isinstance(schema[keyword], bool):
            continue  # a draft-4 flag: legacy_schema.py moves the bound first
        exponent = power_of_ten_exponent(schema[keyword])
        if exponent is None:
            return None
        digits.append(exponent + int(inclusive))
    return max(digits) if digits else None


def decimal_type(schema: dict[str, Any]) -> pa.DataType | None:
    """decimal128(P, S) for a decimal property (or exact JSON text when no decimal128
    can hold it), None when it is not one."""
    types = non_null_types(schema)
    if "string" in types and schema.get("format") == DECIMAL_FORMAT:
        extension = schema.get("x-sql-datatype-properties") or {}
        precision = schema.get("precision", extension.get("precision"))
        scale = schema.get("scale", extension.get("scale"))
        if precision is None:
            return None
        return pa.decimal128(min(int(precision), MAX_DECIMAL_PRECISION), int(scale or 0))
    if types == ["number"] and "multipleOf" in schema:
        scale = decimal_scale_from_multiple_of(schema["multipleOf"])
        if scale is None:
            return None
        precision = schema.get("precision")
        if precision is None:
            digits = integer_digits_from_bounds(schema)
            if digits is None:
                return pa.decimal128(MAX_DECIMAL_PRECISION, min(scale, MAX_DECIMAL_PRECISION))
            if digits + scale > MAX_DECIMAL_PRECISION:
                return JSON_TEXT  # exact text: no decimal128 holds it, a float would round
            return pa.decimal128(max(1, digits + scale), scale)
        return pa.decimal128(min(int(precision), MAX_DECIMAL_PRECISION), scale)
    return None


def arrow_type(schema: dict[str, Any]) -> pa.DataType:
    """The Arrow type for one JSON-schema property."""
    schema = resolve_union(schema)
    decimal = decimal_type(schema)
    if decimal is not None:
        return decimal
    types = non_null_types(schema)
    if len(types) != 1:
        if set(types) == {"integer", "number"}:
            return pa.float64()
        return JSON_TEXT
    (kind,) = types
    if kind == "integer":
        return pa.int64()
    if kind == "number":
        return pa.float64()
    if kind == "boolean":
        return pa.bool_()
    if kind == "string":
        return {
            "date-time": pa.timestamp("us", tz="UTC"),
            "date": pa.date32(),
            "time": pa.time64("us"),
        }.get(schema.get("format", ""), pa.string())
    if kind == "object":
        return struct_type(schema)
    if kind == "array":
        items = schema.get("items")
        if isinstance(items, dict) and (non_null_types(resolve_union(items)) or "anyOf" in items):
            return pa.list_(arrow_type(items))
        return JSON_TEXT
    return JSON_TEXT


def struct_type(schema: dict[str, Any]) -> pa.DataType:
    """A struct when the object's properties are fully described, else JSON text."""
    properties = schema.get("properties")
    additional = schema.get("additionalProperties", False)
    if not properties or additional not in (False, None):
        return JSON_TEXT
    return pa.struct([pa.field(name, arrow_type(sub)) for name, sub in properties.items()])


def arrow_field(name: str, schema: dict[str, Any]) -> pa.Field:
    data_type = arrow_type(schema)
    metadata = None
    types = non_null_types(resolve_union(schema))
    if data_type == JSON_TEXT and types != ["string"]:
        metadata = {JSON_TEXT_KEY: b"true"}
        if types:  # a free-form object takes objects only, not a string as '"abc"'
            metadata[JSON_TYPES_KEY] = ",".join(sorted(types)).encode()
    return pa.field(name, data_type, nullable=True, metadata=metadata)


def arrow_schema(json_schema: dict[str, Any]) -> pa.Schema:
    """The Arrow schema for a stream: its properties, then the _sdc metadata columns
    (always all of them, so a stream's files share one schema per SCHEMA version)."""
    fields = [
        arrow_field(name, prop)
        for name, prop in json_schema.get("properties", {}).items()
        if name not in SDC_COLUMNS
    ]
    fields += [pa.field(name, data_type) for name, data_type in SDC_COLUMNS.items()]
    return pa.schema(fields)


def declared_names(schema: pa.Schema) -> frozenset[str]:
    """Record keys the lake has a column for: anything else goes to _sdc_extra (a
    record's own `_sdc_extra` key included, so it is kept rather than overwritten)."""
    return frozenset(name for name in schema.names if name != EXTRA)


def schema_hash(schema: pa.Schema) -> str:
    """A stable short hash of an Arrow schema (names and types, not metadata)."""
    text = json.dumps([[field.name, str(field.type)] for field in schema])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def schema_columns(schema: pa.Schema) -> dict[str, str]:
    """Column name -> type text, the form the schema history stores and compares."""
    return {field.name: str(field.type) for field in schema}


def schema_diff(old: dict[str, str] | None, new: dict[str, str]) -> dict[str, list[str]]:
    """Columns added, removed and changed (old -> new type) between two schema versions."""
    old = old or {}
    return {
        "added": [name for name in new if name not in old],
        "removed": [name for name in old if name not in new],
        "changed": [
            f"{name}: {old[name]} -> {new[name]}"
            for name in new
            if name in old and old[name] != new[name]
        ],
    }
