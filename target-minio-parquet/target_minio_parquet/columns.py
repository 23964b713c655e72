"""Buffered records to an Arrow table, one column at a time.

Column-wise conversion lets Arrow's C++ casts do the parsing (ISO timestamps, decimal
strings) instead of Python per value; Python per value is used only as a fallback and for
nested values. A value that does not match its column's declared type raises
`ColumnConversionError` naming the column, the row and the value, so the run stops with
an actionable message instead of writing a coerced value: no number, boolean, object or
array is stored as text in a string column, no fraction is cut off in an integer column,
no boolean becomes a number, no text after a date is ignored, no decimal is rounded. The
only conversions are exact ones between JSON's forms of one value: a JSON number in a
decimal column (pipelinewise taps send them so) or a whole number written `2.0` in an
integer column.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from target_minio_parquet.arrow_schema import JSON_TEXT_KEY, JSON_TYPES_KEY

UTC = dt.UTC
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# what Arrow's string -> decimal cast reads; Python's Decimal also takes " 1", "1_000", "NaN"
DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Python types that pa.array converts to these Arrow types exactly, without a check
# (Arrow already refuses anything but str for string and bool for boolean)
EXACT_TYPES: dict[pa.DataType, frozenset[type]] = {
    pa.int64(): frozenset({int, type(None)}),
    pa.float64(): frozenset({float, int, type(None)}),
}


class ColumnConversionError(ValueError):
    """A value that does not match its column's declared type (or cannot be held in it
    without loss). `row` is the row in the converted batch; `describe(where)` words the
    message with a better place (the sink names the stream's record and its key)."""

    def __init__(self, column: str, row: int, value: Any, data_type: pa.DataType, why: str):
        self.column, self.row, self.value, self.data_type, self.why = (
            column,
            row,
            value,
            data_type,
            why,
        )
        super().__init__(self.describe(f"batch row {row}"))

    def describe(self, where: str) -> str:
        try:  # as the tap sent it: "5" and 5 differ, True is true
            shown = json_text(self.value) or "null"
        except (TypeError, msgspec.EncodeError):
            shown = repr(self.value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return (
            f"column '{self.column}' (type {self.data_type}) cannot hold value {shown} at "
            f"{where}: {self.why}. Fix the tap's SCHEMA for this column or the source value."
        )


_JSON = msgspec.json.Encoder(enc_hook=str, decimal_format="number")


def json_text(value: Any) -> str | None:
    """Compact JSON; Decimals (how the reader decodes JSON numbers) stay numbers."""
    if value is None:
        return None
    return _JSON.encode(value).decode()


def json_kind(value: Any) -> str:
    """The JSON type a decoded value was sent as, for error messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


# Python types (as msgspec and the SDK decode JSON) that each JSON type admits
JSON_PYTHON_TYPES: dict[str, frozenset[type]] = {
    "object": frozenset({dict}),
    "array": frozenset({list, tuple}),
    "string": frozenset({str}),
    "boolean": frozenset({bool}),
    "integer": frozenset({int}),
    "number": frozenset({int, float, Decimal}),
}


def json_types(field: pa.Field) -> frozenset[str] | None:
    """The JSON types a JSON-text column's SCHEMA allows; None: any (`{}`, unions)."""
    declared = field.metadata.get(JSON_TYPES_KEY) if field.metadata else None
    return frozenset(declared.decode().split(",")) if declared else None


def json_type_problem(values: Sequence[Any], allowed: frozenset[str] | None) -> int | None:
    """The row of the first value whose JSON type the SCHEMA does not allow, else None.
    One C-speed pass over the values' Python types; per value only for `2.0` in an
    integer-only column."""
    if allowed is None:
        return None
    python_types = {type(None)}.union(*(JSON_PYTHON_TYPES.get(t, ()) for t in allowed))
    if python_types.issuperset(map(type, values)):
        return None
    for row, value in enumerate(values):
        if type(value) in python_types:
            continue
        whole = isinstance(value, Decimal | float) and value == value and value % 1 == 0
        if not ("integer" in allowed and whole):
            return row
    return None


def _not_a(kind: str, value: Any) -> TypeError:
    return TypeError(f"a JSON {json_kind(value)} where the SCHEMA declares {kind}")


def _parse_timestamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        parsed = dt.datetime.fromisoformat(text)
    else:
        raise _not_a("a date-time string", value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _parse_date(value: Any) -> dt.date:
    """Exactly `YYYY-MM-DD` (as Arrow's cast): `2024-01-15xyz` is not 2024-01-15, and a
    date-time is not a date (its day depends on a time zone)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise _not_a("a date string", value)
    if not ISO_DATE.fullmatch(value):
        raise ValueError("not a YYYY-MM-DD date")
    return dt.date.fromisoformat(value)


def _parse_time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if not isinstance(value, str):
        raise _not_a("a time string", value)
    return dt.time.fromisoformat(value)


def _parse_decimal(value: Any, data_type: pa.Decimal128Type) -> Decimal:
    """An exact Decimal that fits decimal128(p, s), else an error saying what does not."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise _not_a("a decimal (string or number)", value)
    if isinstance(value, str) and not DECIMAL_TEXT.fullmatch(value):
        raise ValueError("not a decimal number (digits, one '.', an optional sign)")
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError("not a finite number")
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite
    extra_places = -exponent - data_type.scale
    if extra_places > 0 and any(digits[-extra_places:]):
        raise ValueError(
            f"{-exponent} decimal places; the declared scale is {data_type.scale} (never rounded)"
        )
    whole_digits = max(0, len(digits) + exponent) if number else 0
    allowed = data_type.precision - data_type.scale
    if whole_digits > allowed:
        raise ValueError(
            f"{whole_digits} digits before the point; the declared precision "
            f"{data_type.precision} with scale {data_type.scale} holds at most {allowed}"
        )
    return number


def _whole_number(value: Any) -> int:
    """An integer column takes a JSON integer, or a whole number written `2.0`."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise _not_a("an integer", value)
    if isinstance(value, int):
        return value
    if not (Decimal(repr(value)) if isinstance(value, float) else value) % 1 == 0:
        raise ValueError("a number with a fraction where the SCHEMA declares an integer")
    return int(value)


def _python_value(value: Any, data_type: pa.DataType) -> Any:
    """Check one (possibly nested) value against its type and normalise it to what
    pa.array expects; TypeError/ValueError when it does not match."""
    if value is None:
        return None
    if pa.types.is_struct(data_type):
        if not isinstance(value, dict):
            raise _not_a("an object", value)
        return {field.name: _python_value(value.get(field.name), field.type) for field in data_type}
    if pa.types.is_list(data_type):
        if not isinstance(value, list | tuple):
            raise _not_a("an array", value)
        return [_python_value(item, data_type.value_type) for item in value]
    if pa.types.is_decimal(data_type):
        return _parse_decimal(value, data_type)
    if pa.types.is_timestamp(data_type):
        return _parse_timestamp(value)
    if pa.types.is_date32(data_type):
        return _parse_date(value)
    if pa.types.is_time64(data_type):
        return _parse_time(value)
    if pa.types.is_string(data_type):
        if not isinstance(value, str):
            raise _not_a("a string", value)
        return value
    if pa.types.is_integer(data_type):
        return _whole_number(value)
    if pa.types.is_floating(data_type):
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise _not_a("a number", value)
        return float(value)
    if pa.types.is_boolean(data_type) and not isinstance(value, bool):
        raise _not_a("a boolean", value)
    return value


def _slow_array(name: str, values: Sequence[Any], data_type: pa.DataType) -> pa.Array:
    converted = []
    for row, value in enumerate(values):
        try:
            converted.append(_python_value(value, data_type))
        except (ValueError, TypeError, InvalidOperation) as error:
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
        allowed = json_types(field)
        row = json_type_problem(values, allowed)
        if row is not None:
            kinds = " or ".join(sorted(allowed or ()))
            why = f"a JSON {json_kind(values[row])} where the SCHEMA declares {kinds}"
            raise ColumnConversionError(name, row, values[row], data_type, why)
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
    if pa.types.is_time64(data_type):  # pa.array takes 12 as 00:00:00.000012
        return _slow_array(name, values, data_type)
    exact = EXACT_TYPES.get(data_type)
    if exact is not None and not exact.issuperset(map(type, values)):
        return _slow_array(name, values, data_type)  # pa.array would cut 2.5 to 2
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


def _kind(data_type: pa.DataType) -> str:
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        return "number"
    if pa.types.is_decimal(data_type):
        return "number"
    if pa.types.is_temporal(data_type):
        return "temporal"
    return str(data_type.id)  # boolean, struct, list...: only their own kind


def _same_kind(data_type: pa.DataType, field: pa.Field) -> bool:
    """Whether Arrow's cast from `data_type` to the field's type changes only the width
    or unit of one kind of value. Arrow also writes 5 as "5", True as 1.0 and 5 as an
    epoch timestamp when asked: that would be silent coercion, so such columns take
    the per-value checks. Text and JSON text always do (their checks are per value)."""
    if pa.types.is_string(field.type):
        return False
    return _kind(data_type) == _kind(field.type)


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
            elif _same_kind(column.type, field):
                try:  # Arrow's safe cast: an error rather than a lost digit
                    arrays.append(column.cast(field.type))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    arrays.append(column_array(field.name, column.to_pylist(), field))
            else:  # a number for text, a boolean for a number...: checked per value there
                arrays.append(column_array(field.name, column.to_pylist(), field))
        else:
            arrays.append(pa.nulls(table.num_rows, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
