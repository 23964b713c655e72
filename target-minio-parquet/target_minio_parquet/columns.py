"""Buffered records to an Arrow table, one column at a time.

Column-wise conversion lets Arrow's C++ casts do the parsing (ISO timestamps, decimal
strings) instead of Python per value; Python per value is used only as a fallback and for
nested values. A value that does not fit its column raises `ColumnConversionError`
naming the column, the row and the value, so the run stops with an actionable message
instead of writing a coerced value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from target_minio_parquet.arrow_schema import JSON_TEXT_KEY

UTC = dt.UTC


class ColumnConversionError(ValueError):
    """A value that cannot be represented in its column's type without loss."""

    def __init__(self, column: str, row: int, value: Any, data_type: pa.DataType, why: str):
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        super().__init__(
            f"column '{column}' (type {data_type}) cannot hold value {shown} at batch row "
            f"{row}: {why}. Fix the tap's SCHEMA for this column or the source value."
        )


_JSON = msgspec.json.Encoder(enc_hook=str, decimal_format="number")


def json_text(value: Any) -> str | None:
    """Compact JSON; Decimals (how the reader decodes JSON numbers) stay numbers."""
    if value is None:
        return None
    return _JSON.encode(value).decode()


def _parse_timestamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = str(value).strip().replace("Z", "+00:00").replace("z", "+00:00")
        parsed = dt.datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _parse_decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def _python_value(value: Any, data_type: pa.DataType) -> Any:
    """Normalise one (possibly nested) value to what pa.array expects for the type."""
    if value is None:
        return None
    if pa.types.is_struct(data_type):
        return {field.name: _python_value(value.get(field.name), field.type) for field in data_type}
    if pa.types.is_list(data_type):
        return [_python_value(item, data_type.value_type) for item in value]
    if pa.types.is_decimal(data_type):
        return _parse_decimal(value)
    if pa.types.is_timestamp(data_type):
        return _parse_timestamp(value)
    if pa.types.is_date32(data_type):
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    if pa.types.is_time64(data_type):
        return value if isinstance(value, dt.time) else dt.time.fromisoformat(str(value))
    if pa.types.is_string(data_type) and not isinstance(value, str):
        return json_text(value)
    if pa.types.is_floating(data_type) and isinstance(value, Decimal):
        return float(value)
    return value


def _slow_array(name: str, values: Sequence[Any], data_type: pa.DataType) -> pa.Array:
    converted = []
    for row, value in enumerate(values):
        try:
            converted.append(_python_value(value, data_type))
        except (ValueError, TypeError, AttributeError, InvalidOperation) as error:
            raise ColumnConversionError(name, row, value, data_type, str(error)) from error
    try:
        return pa.array(converted, type=data_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
        row, value = _first_bad_value(converted, data_type)
        raise ColumnConversionError(name, row, value, data_type, str(error)) from error


def _first_bad_value(values: Sequence[Any], data_type: pa.DataType) -> tuple[int, Any]:
    for row, value in enumerate(values):
        try:
            pa.array([value], type=data_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return row, value
    return -1, None


def _cast_strings(strings: pa.Array, field: pa.Field) -> pa.Array | None:
    """A string column (e.g. from a BATCH file) in the field's type, Arrow-side."""
    if field.type == pa.string():
        return strings  # text, or JSON text that is already serialised
    kind = field.type
    if pa.types.is_decimal(kind) or pa.types.is_timestamp(kind) or pa.types.is_date32(kind):
        return _cast(strings, kind)
    return None


def _string_cast(values: Sequence[Any], data_type: pa.DataType) -> pa.Array | None:
    """Arrow's vectorised parse of string values; None when Python must take over."""
    try:
        strings = pa.array(values, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return _cast(strings, data_type)


def _cast(strings: pa.Array, data_type: pa.DataType) -> pa.Array | None:
    try:
        return strings.cast(data_type)
    except pa.ArrowInvalid:
        if pa.types.is_timestamp(data_type):
            try:  # naive timestamps explicitly gain UTC
                return strings.cast(pa.timestamp("us")).cast(data_type)
            except pa.ArrowInvalid:
                return None
        return None


def column_array(name: str, values: Sequence[Any], field: pa.Field) -> pa.Array:
    """The Arrow array for one column of a batch."""
    data_type = field.type
    if field.metadata and field.metadata.get(JSON_TEXT_KEY):
        return pa.array([json_text(v) for v in values], type=pa.string())
    if (
        pa.types.is_decimal(data_type)
        or pa.types.is_timestamp(data_type)
        or pa.types.is_date32(data_type)
    ):
        fast = _string_cast(values, data_type)
        if fast is not None:
            return fast
        return _slow_array(name, values, data_type)
    if pa.types.is_struct(data_type) or pa.types.is_list(data_type):
        return _slow_array(name, values, data_type)
    try:
        return pa.array(values, type=data_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return _slow_array(name, values, data_type)


def records_to_table(
    records: Sequence[dict[str, Any]],
    schema: pa.Schema,
    overrides: dict[str, pa.Array] | None = None,
) -> pa.Table:
    """Buffered records as one table with exactly `schema`; `overrides` supplies
    ready-made columns (metadata taken from the message rather than the record)."""
    overrides = overrides or {}
    arrays = [
        overrides[field.name]
        if field.name in overrides
        else column_array(field.name, [record.get(field.name) for record in records], field)
        for field in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def epoch_seconds_to_timestamps(values: Sequence[float | None]) -> pa.Array:
    micros = pc.multiply(pa.array(values, type=pa.float64()), 1_000_000)
    return pc.cast(pc.round(micros), pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def conform_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A table read from a BATCH file, cast to the stream's schema (missing columns null)."""
    arrays = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name).combine_chunks()
            if column.type == field.type:
                arrays.append(column)
            elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                cast = _cast_strings(column.cast(pa.string()), field)
                if cast is None:  # Python per value, for the error message or odd values
                    cast = column_array(field.name, column.to_pylist(), field)
                arrays.append(cast)
            else:
                try:
                    arrays.append(column.cast(field.type))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    arrays.append(column_array(field.name, column.to_pylist(), field))
        else:
            arrays.append(pa.nulls(table.num_rows, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
