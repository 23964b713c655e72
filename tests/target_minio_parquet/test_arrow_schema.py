"""The JSON-schema -> Arrow mapping, one rule at a time (pure functions)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from target_minio_parquet.arrow_schema import (
    JSON_TEXT_KEY,
    JSON_TYPES_KEY,
    arrow_field,
    arrow_schema,
    arrow_type,
    decimal_scale_from_multiple_of,
    integer_digits_from_bounds,
    schema_diff,
)

DECIMAL = {"type": ["string", "null"], "format": "x-singer.decimal", "precision": 12, "scale": 2}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer"}, pa.int64()),
        ({"type": ["integer", "null"]}, pa.int64()),
        ({"type": "number"}, pa.float64()),
        ({"type": ["number", "null"], "multipleOf": 0.01}, pa.decimal128(38, 2)),
        (DECIMAL, pa.decimal128(12, 2)),
        (
            {
                "type": "string",
                "format": "x-singer.decimal",
                "x-sql-datatype-properties": {"precision": 5, "scale": 3},
            },
            pa.decimal128(5, 3),
        ),
        ({"type": "string", "format": "x-singer.decimal"}, pa.string()),
        ({"type": "string", "format": "date-time"}, pa.timestamp("us", tz="UTC")),
        ({"type": "string", "format": "date"}, pa.date32()),
        ({"type": "string", "format": "time"}, pa.time64("us")),
        ({"type": "boolean"}, pa.bool_()),
        ({"type": "string"}, pa.string()),
        (
            {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            pa.timestamp("us", tz="UTC"),
        ),
        ({"type": "array", "items": {"type": "integer"}}, pa.list_(pa.int64())),
        ({"type": "array"}, pa.string()),
        (
            {"type": "object", "properties": {"a": {"type": "integer"}, "b": DECIMAL}},
            pa.struct([pa.field("a", pa.int64()), pa.field("b", pa.decimal128(12, 2))]),
        ),
        ({"type": "object"}, pa.string()),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "additionalProperties": True,
            },
            pa.string(),
        ),
        ({"type": ["integer", "number"]}, pa.float64()),
        ({"type": ["string", "integer"]}, pa.string()),
        ({}, pa.string()),
    ],
)
def test_arrow_type(schema: dict, expected: pa.DataType) -> None:
    assert arrow_type(schema) == expected


def test_free_form_objects_are_marked_as_json_text() -> None:
    assert arrow_field("meta", {"type": "object"}).metadata == {
        JSON_TEXT_KEY: b"true",
        JSON_TYPES_KEY: b"object",
    }
    assert arrow_field("any", {}).metadata == {JSON_TEXT_KEY: b"true"}
    union = arrow_field("u", {"type": ["string", "integer", "null"]})
    assert union.metadata == {JSON_TEXT_KEY: b"true", JSON_TYPES_KEY: b"integer,string"}
    assert arrow_field("name", {"type": "string"}).metadata is None


def test_multiple_of_must_be_a_power_of_ten() -> None:
    assert decimal_scale_from_multiple_of(0.001) == 3
    assert decimal_scale_from_multiple_of(1) == 0
    assert decimal_scale_from_multiple_of(0.25) is None
    assert arrow_type({"type": "number", "multipleOf": 0.25}) == pa.float64()


def test_stream_schema_ends_with_the_metadata_columns() -> None:
    schema = arrow_schema({"properties": {"id": {"type": "integer"}, "_sdc_deleted_at": {}}})
    assert schema.names[0] == "id"
    assert schema.names.count("_sdc_deleted_at") == 1
    assert schema.field("_sdc_batched_at").type == pa.timestamp("us", tz="UTC")


def test_schema_diff_reports_added_removed_and_changed() -> None:
    diff = schema_diff({"a": "int64", "b": "string"}, {"a": "double", "c": "string"})
    assert diff == {"added": ["c"], "removed": ["b"], "changed": ["a: int64 -> double"]}


def test_safe_names_keep_safe_names_and_separate_changed_ones() -> None:
    from target_minio_parquet.storage import safe_name

    assert safe_name("public-orders") == "public-orders"
    assert safe_name("a_b") == "a_b"
    assert safe_name("a/b") != safe_name("a_b")
    assert safe_name("a/b").startswith("a_b-")
    for hostile in ("..", "../x", ".hidden", "", "a/../../b", "test:Special Chars!"):
        name = safe_name(hostile)
        assert name and not name.startswith(".") and "/" not in name, name


# pipelinewise-tap-postgres's numeric(p, s), after legacy_schema.py: |x| < 10^(p-s)
def legacy_numeric(integer_digits: int, scale: int) -> dict:
    return {
        "type": ["null", "number"],
        "exclusiveMaximum": 10**integer_digits,
        "exclusiveMinimum": -(10**integer_digits),
        "multipleOf": float(f"1e-{scale}") if scale else 1,
    }


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (legacy_numeric(10, 2), pa.decimal128(12, 2)),  # numeric(12, 2)
        (legacy_numeric(3, 2), pa.decimal128(5, 2)),  # numeric(5, 2)
        (legacy_numeric(0, 4), pa.decimal128(4, 4)),  # numeric(4, 4): |x| < 1
        (legacy_numeric(62, 38), pa.string()),  # unbounded numeric: 100 digits, exact text
        (legacy_numeric(30, 10), pa.string()),  # numeric(40, 10) does not fit decimal128
        ({"type": "number", "maximum": 999, "multipleOf": 0.01}, pa.decimal128(38, 2)),
        ({"type": "number", "maximum": 100, "multipleOf": 0.5}, pa.float64()),  # not 10^-s
    ],
)
def test_decimal_precision_from_power_of_ten_bounds(schema: dict, expected: pa.DataType) -> None:
    assert arrow_type(schema) == expected
    if expected == pa.string():  # kept as the number's exact JSON text
        metadata = {JSON_TEXT_KEY: b"true", JSON_TYPES_KEY: b"number"}  # numbers only
        assert arrow_field("n", schema).metadata == metadata


@pytest.mark.parametrize(
    ("schema", "digits"),
    [
        ({"exclusiveMaximum": 1000}, 3),
        ({"maximum": 1000}, 4),  # 1000 itself needs four digits
        ({"exclusiveMaximum": 10**62, "exclusiveMinimum": -(10**62)}, 62),
        ({"maximum": 999}, None),
        ({"exclusiveMaximum": True, "maximum": 100}, 3),  # an unconverted draft-4 flag
        ({}, None),
    ],
)
def test_integer_digits_from_bounds(schema: dict, digits: int | None) -> None:
    assert integer_digits_from_bounds(schema) == digits
