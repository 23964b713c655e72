"""The cell grammar: what each column type accepts, as small pure regex-based functions.

Each parser returns the typed value or raises `BadCell` with a reason code. Nothing is
guessed: a cell that does not match its column's grammar exactly is quarantined, never
coerced (no rounding, no "probably a decimal comma", no foreign currency taken at face
value). The README's grammar table is the contract; `tests/tap_csv_marketing/test_grammar.py`
pins every row of it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal


class BadCell(ValueError):
    """A cell that cannot be read as its column's type."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


# What spreadsheets write for "no value". In a typed column they fail the grammar anyway;
# in a text column they are quarantined as missing rather than loaded as a name.
PLACEHOLDERS = frozenset(
    {"n/a", "na", "null", "none", "nan", "-", "--", "#n/a", "#value!", "#ref!", "#div/0!"}
)
# Padding around a number or a date (never around text): ASCII space and tab only.
PADDING = " \t"
MAX_COUNT = 2**63 - 1  # the lake stores counts as int64

ISO_DATE = re.compile(r"(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})")
SLASH_DATE = re.compile(r"(?P<a>[0-9]{1,2})/(?P<b>[0-9]{1,2})/(?P<y>[0-9]{4})")
COUNT = re.compile(r"(?P<sign>[+-]?)(?P<digits>[0-9]+)")
# Digits: either plain, or thousands separators between groups of exactly three.
POINT_NUMBER = r"(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<frac>[0-9]+))?"
COMMA_NUMBER = (
    r"(?P<int>[0-9]{1,3}(?P<sep>[. \u00a0\u202f])[0-9]{3}(?:(?P=sep)[0-9]{3})*|[0-9]+)"
    r"(?:,(?P<frac>[0-9]+))?"
)


@dataclass(frozen=True)
class Currency:
    """The currency a money column is declared in: its ISO code and accepted symbols."""

    code: str
    symbols: tuple[str, ...]


# Symbols that name exactly one of these currencies for a reader of that currency; "$" is
# accepted for every dollar currency because the stream's declared currency decides.
CURRENCIES = {
    "USD": Currency("USD", ("US$", "$")),
    "EUR": Currency("EUR", ("€",)),
    "GBP": Currency("GBP", ("£",)),
    "CAD": Currency("CAD", ("CA$", "C$", "$")),
    "AUD": Currency("AUD", ("AU$", "A$", "$")),
    "CHF": Currency("CHF", ("Fr.",)),
}


def currency(code: str) -> Currency:
    """The declared currency by ISO code; KeyError for a code the grammar does not know."""
    return CURRENCIES[code.upper()]


def _strip_padding(text: str) -> str:
    return text.strip(PADDING)


def _missing(text: str) -> None:
    if not _strip_padding(text):
        raise BadCell("missing_value", "the cell is empty")


def _placeholder(text: str) -> str:
    return " (a placeholder for no value)" if text.strip().lower() in PLACEHOLDERS else ""


def parse_date(text: str, day_first: bool = False) -> dt.date:
    """`YYYY-MM-DD`, or `M/D/YYYY` (`D/M/YYYY` when day_first); nothing else.

    No two-digit years, no times, no month names, no ISO week or basic forms (Python's
    `date.fromisoformat` would take `20250131` and `2025-W05-1`; the grammar does not).
    """
    _missing(text)
    value = _strip_padding(text)
    if match := ISO_DATE.fullmatch(value):
        year, month, day = int(match["y"]), int(match["m"]), int(match["d"])
        hint = "YYYY-MM-DD"
    elif match := SLASH_DATE.fullmatch(value):
        first, second, year = int(match["a"]), int(match["b"]), int(match["y"])
        month, day = (second, first) if day_first else (first, second)
        hint = "D/M/YYYY (day_first)" if day_first else "M/D/YYYY (set day_first for D/M/YYYY)"
    else:
        raise BadCell("unparseable_date", f"{text!r} is not YYYY-MM-DD or a M/D/YYYY date")
    try:
        return dt.date(year, month, day)
    except ValueError as error:
        raise BadCell("unparseable_date", f"{text!r} read as {hint}: {error}") from None


def _money_pattern(declared: Currency, decimal_comma: bool) -> re.Pattern[str]:
    marks = "|".join(re.escape(m) for m in (declared.code, *declared.symbols))
    number = COMMA_NUMBER if decimal_comma else POINT_NUMBER
    return re.compile(
        rf"(?P<minus>-)?(?P<open>\()?(?:(?P<pre>{marks}) ?)?{number}"
        rf"(?: ?(?P<post>{marks}))?(?P<close>\))?"
    )


_PATTERNS: dict[tuple[Currency, bool], re.Pattern[str]] = {}


def _well_formed(match: re.Match[str] | None) -> bool:
    """One currency mark at most, balanced parentheses, and not both minus and parentheses."""
    return (
        match is not None
        and not (match["pre"] and match["post"])
        and bool(match["open"]) == bool(match["close"])
        and not (match["minus"] and match["open"])
    )


def _foreign_currency(value: str, declared: Currency) -> str | None:
    """The currency mark in `value` that is not the declared currency's, if any."""
    own = (declared.code, *declared.symbols)
    for code, other in CURRENCIES.items():
        for mark in (code, *other.symbols):
            if mark not in own and mark in value:
                return mark
    own_chars = "".join(own)
    for char in value:
        if unicodedata.category(char) == "Sc" and char not in own_chars:
            return char
    code = re.search(r"(?<![A-Za-z])[A-Z]{3}(?![A-Za-z])", value)
    return code[0] if code and code[0] != declared.code else None


def parse_money(
    text: str, declared: Currency, scale: int = 2, decimal_comma: bool = False
) -> Decimal:
    """An exact Decimal with `scale` places from a money cell; see the README grammar.

    Accepts an optional minus (or accounting parentheses), the declared currency's symbol
    or code before or after the digits, thousands separators only between groups of three
    (`,`; with decimal_comma one of `.`, space, no-break space) and at most `scale`
    decimals. Everything else is quarantined: another currency (`wrong_currency`), more
    decimals than the scale (`too_many_decimals`, never rounded), anything else
    (`invalid_decimal`, e.g. `12,50` without decimal_comma, `1e3`, `12%`).
    """
    _missing(text)
    value = _strip_padding(text)
    key = (declared, decimal_comma)
    pattern = _PATTERNS.get(key) or _PATTERNS.setdefault(key, _money_pattern(*key))
    match = pattern.fullmatch(value)
    if not _well_formed(match):
        if foreign := _foreign_currency(value, declared):
            raise BadCell(
                "wrong_currency", f"{text!r} carries {foreign!r}; the column is in {declared.code}"
            )
        separator = "a decimal comma" if decimal_comma else "a decimal point"
        raise BadCell(
            "invalid_decimal",
            f"{text!r} is not an amount ({separator}, thousands only in groups of three)"
            + _placeholder(text),
        )
    assert match is not None  # for the type checker: _well_formed said so
    digits = re.sub(r"[^0-9]", "", match["int"])
    fraction = match["frac"] or ""
    if len(fraction) > scale:
        raise BadCell("too_many_decimals", f"{text!r} has more than {scale} decimal places")
    number = Decimal(f"{digits}.{fraction.ljust(scale, '0')}" if scale else digits)
    if len(number.as_tuple().digits) > 18:
        raise BadCell("out_of_range", f"{text!r} does not fit decimal(18,{scale})")
    negative = bool(match["minus"] or match["open"])
    return -number if negative and number else number


def parse_count(text: str) -> int:
    """A non-negative whole number written as an optional sign and ASCII digits only.

    `1,200`, `1200.0`, `1e3`, `12%` and Unicode digits are quarantined (`invalid_integer`);
    a negative count is `negative_value`.
    """
    _missing(text)
    value = _strip_padding(text)
    match = COUNT.fullmatch(value)
    if match is None:
        raise BadCell(
            "invalid_integer", f"{text!r} is not a whole number (digits only)" + _placeholder(text)
        )
    number = int(match["digits"])
    if match["sign"] == "-" and number:
        raise BadCell("negative_value", f"{text!r} is negative")
    if number > MAX_COUNT:
        raise BadCell("out_of_range", f"{text!r} does not fit a 64-bit integer")
    return number


def parse_text(text: str) -> str:
    """The cell exactly as the CSV holds it (after unquoting): no trimming, no case change.

    Blank (only spaces/tabs) and placeholder cells (`N/A`, `#REF!`, ...) are `missing_value`:
    required text with no value is quarantined rather than loaded as a name.
    """
    _missing(text)
    if text.strip().lower() in PLACEHOLDERS:
        raise BadCell("missing_value", f"{text!r} is a placeholder for no value")
    return text


def parse_object(text: str) -> dict:
    """A cell holding a JSON object (numbers exact), for an `object` column read from CSV."""
    _missing(text)
    try:
        value = json.loads(text, parse_float=Decimal)
    except ValueError as error:
        raise BadCell("invalid_json_object", f"{text!r} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise BadCell("invalid_json_object", f"{text!r} is not a JSON object")
    return value
