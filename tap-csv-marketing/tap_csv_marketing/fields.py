"""Cell parsers for what spreadsheet exports really contain. Pure functions.

Each parser returns the typed value or raises `BadCell` with a reason code; nothing is
guessed: a cell that does not parse is quarantined, never coerced.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation


class BadCell(ValueError):
    """A cell that cannot be read as its column's type."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


NOT_A_VALUE = {"", "n/a", "na", "null", "none", "-", "#n/a", "#value!", "#ref!"}
US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_date(text: str, day_first: bool = False) -> dt.date:
    """ISO (2025-01-31) or US (1/31/2025; 31/1/2025 when day_first)."""
    value = text.strip()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        pass
    match = US_DATE.match(value)
    if match:
        first, second, year = (int(group) for group in match.groups())
        month, day = (second, first) if day_first else (first, second)
        try:
            return dt.date(year, month, day)
        except ValueError as error:
            raise BadCell("unparseable_date", f"{text!r} is not a date: {error}") from None
    raise BadCell("unparseable_date", f"{text!r} is not an ISO or m/d/Y date")


def _normalise_number(text: str, decimal_comma: bool) -> str:
    value = text.strip().replace("\u00a0", " ")
    negative = value.startswith("(") and value.endswith(")")  # accounting negatives
    value = value.strip("()").replace("$", "").replace("€", "").replace("£", "").strip()
    if decimal_comma:
        value = value.replace(" ", "").replace(".", "").replace(",", ".")
    else:
        value = value.replace(",", "").replace(" ", "")
    return f"-{value}" if negative else value


def parse_decimal(text: str, scale: int = 2, decimal_comma: bool = False) -> Decimal:
    """ "$1,234.56", "1 234,56" (decimal_comma), "12%" (-> 0.12) to an exact Decimal."""
    if text.strip().lower() in NOT_A_VALUE:
        raise BadCell("invalid_decimal", f"{text!r} is not a number")
    value = _normalise_number(text, decimal_comma)
    percent = value.endswith("%")
    try:
        number = Decimal(value.rstrip("%"))
    except InvalidOperation:
        raise BadCell("invalid_decimal", f"{text!r} is not a number") from None
    if not number.is_finite():
        raise BadCell("invalid_decimal", f"{text!r} is not a finite number")
    if percent:
        number /= 100
    quantum = Decimal(1).scaleb(-scale)
    rounded = number.quantize(quantum, rounding=ROUND_HALF_UP)
    if rounded != number:
        raise BadCell("too_many_decimals", f"{text!r} has more than {scale} decimals")
    return rounded


def parse_integer(text: str, decimal_comma: bool = False) -> int:
    if text.strip().lower() in NOT_A_VALUE:
        raise BadCell("invalid_integer", f"{text!r} is not a whole number")
    value = _normalise_number(text, decimal_comma)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise BadCell("invalid_integer", f"{text!r} is not a whole number") from None
    if number != number.to_integral_value():
        raise BadCell("invalid_integer", f"{text!r} is not a whole number")
    return int(number)


def parse_text(text: str) -> str:
    value = text.strip()
    if not value:
        raise BadCell("missing_value", "required text is empty")
    return value
