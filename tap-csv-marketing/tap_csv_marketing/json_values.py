"""A JSON record to a layout's typed record, by the same grammar as a CSV cell.

JSON values arrive typed, so each column kind says what it takes (README, "JSON files"):
a JSON string goes through the column's CSV cell grammar unchanged (`fields.py`: a date
string follows the date grammar, `"$1,234.56"` the money grammar); a JSON number is taken
at its exact value (ijson and the NDJSON parser give Decimal or int, never float) under
the same limits as a cell: money at most `scale` decimals (never rounded) and 18 digits,
counts whole, non-negative and within int64. `null` or an absent key is `missing_value`
(every column is required, as in the CSV layouts); any other JSON type is `wrong_type`.
Pure functions.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tap_csv_marketing.exports import DECIMAL_SCHEMA, ExportLayout
from tap_csv_marketing.fields import MAX_COUNT, BadCell

NAMES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def json_type(value: Any) -> str:
    """The JSON type name of a parsed value (`number` for int and Decimal)."""
    for kind, name in NAMES.items():
        if isinstance(value, kind):
            return name
    return "number"


def _wrong(value: Any, wanted: str) -> BadCell:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return BadCell("wrong_type", f"{shown} is a JSON {json_type(value)}, not {wanted}")


def money_number(value: int | Decimal, scale: int) -> str:
    """A JSON number as a money value with `scale` places: exact, never rounded."""
    number = Decimal(value)
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # NaN/Infinity never reach here (refused as not JSON)
    if exponent < -scale:
        raise BadCell("too_many_decimals", f"{value} has more than {scale} decimal places")
    if number and number.adjusted() + 1 > DECIMAL_SCHEMA["precision"] - scale:
        raise BadCell("out_of_range", f"{value} does not fit decimal(18,{scale})")
    exact = number.quantize(Decimal(1).scaleb(-scale))
    return str(exact if exact else abs(exact))  # -0 is 0.00, as in a CSV cell


def count_number(value: int | Decimal) -> int:
    """A JSON number as a count: a whole number written without fraction or exponent."""
    if not isinstance(value, int):
        raise BadCell("invalid_integer", f"{value} is not a whole number (digits only)")
    if value < 0:
        raise BadCell("negative_value", f"{value} is negative")
    if value > MAX_COUNT:
        raise BadCell("out_of_range", f"{value} does not fit a 64-bit integer")
    return value


def typed_value(kind: str, value: Any, cell: Callable[[str], Any]) -> Any:
    """One column's value from a JSON value; `cell` is the column's CSV grammar."""
    if value is None:
        raise BadCell("missing_value", "the value is null or absent")
    if kind == "object":
        if isinstance(value, dict):
            return value
        raise _wrong(value, "an object")
    if isinstance(value, str):
        return cell(value)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        wanted = {"date": "a date string", "text": "a string"}.get(kind, "a number")
        raise _wrong(value, wanted)
    if kind == "decimal":
        return money_number(value, DECIMAL_SCHEMA["scale"])
    if kind == "count":
        return count_number(value)
    raise _wrong(value, "a date string" if kind == "date" else "a string")


def type_json_record(
    layout: ExportLayout, value: Any, cells: dict[str, Callable[[str], Any]]
) -> dict[str, Any]:
    """The typed record for one JSON value; raises BadCell with the reason otherwise.

    Keys the layout does not declare are kept as they are: the stream's schema allows
    additional properties, so they reach the target, which keeps them in `_sdc_extra`.
    """
    if not isinstance(value, dict):
        raise BadCell("not_an_object", f"a JSON {json_type(value)}, not an object")
    record = dict(value)
    for column in layout.columns:
        try:
            record[column.name] = typed_value(
                column.kind, value.get(column.name), cells[column.name]
            )
        except BadCell as error:
            raise BadCell(error.reason, f"column {column.name}: {error}") from None
    return record
