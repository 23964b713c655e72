"""The README's grammar table, cell by cell: each accepted form and its exact value, each
refused form and its exact reason. Pure functions, no services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from tap_csv_marketing.fields import (
    BadCell,
    currency,
    parse_count,
    parse_date,
    parse_money,
    parse_text,
)

USD, EUR, CAD = currency("USD"), currency("EUR"), currency("CAD")


@pytest.mark.parametrize(
    ("text", "declared", "value"),
    [
        ("12.50", USD, "12.50"),
        ("12.5", USD, "12.50"),
        ("12", USD, "12.00"),
        ("0012.50", USD, "12.50"),
        ("1,234.56", USD, "1234.56"),
        ("1,234,567", USD, "1234567.00"),
        ("$1,234.56", USD, "1234.56"),
        ("US$12.50", USD, "12.50"),
        ("$ 12.50", USD, "12.50"),
        ("USD 12.50", USD, "12.50"),
        ("USD12.50", USD, "12.50"),
        ("12.50 USD", USD, "12.50"),
        ("12.50$", USD, "12.50"),
        ("-12.50", USD, "-12.50"),
        ("-$12.50", USD, "-12.50"),
        ("(12.50)", USD, "-12.50"),
        ("($1,234.56)", USD, "-1234.56"),
        ("-0.00", USD, "0.00"),
        (" 12.50\t", USD, "12.50"),
        ("1234567890123456.78", USD, "1234567890123456.78"),
        ("$12.50", CAD, "12.50"),
        ("CA$12.50", CAD, "12.50"),
        ("€12.50", EUR, "12.50"),
    ],
)
def test_money_accepted(text: str, declared, value: str) -> None:
    result = parse_money(text, declared)
    assert result == Decimal(value) and str(result) == value


@pytest.mark.parametrize(
    ("text", "declared", "value"),
    [
        ("12,50", EUR, "12.50"),
        ("1.234,56", EUR, "1234.56"),
        ("1 234,56", EUR, "1234.56"),
        ("1\u00a0234,56", EUR, "1234.56"),
        ("1\u202f234\u202f567,00", EUR, "1234567.00"),
        ("1.234", EUR, "1234.00"),
        ("€ 12,50", EUR, "12.50"),
        ("12,50 €", EUR, "12.50"),
        ("(12,50 €)", EUR, "-12.50"),
    ],
)
def test_money_accepted_with_decimal_comma(text: str, declared, value: str) -> None:
    assert str(parse_money(text, declared, decimal_comma=True)) == value


@pytest.mark.parametrize(
    ("text", "declared", "decimal_comma", "reason"),
    [
        ("", USD, False, "missing_value"),
        ("  ", USD, False, "missing_value"),
        ("N/A", USD, False, "invalid_decimal"),
        ("12,50", USD, False, "invalid_decimal"),
        ("1,23.4", USD, False, "invalid_decimal"),
        ("1,2345.00", USD, False, "invalid_decimal"),
        (",123.00", USD, False, "invalid_decimal"),
        ("1 234.56", USD, False, "invalid_decimal"),
        ("1.234.567", USD, False, "invalid_decimal"),
        (".50", USD, False, "invalid_decimal"),
        ("12.", USD, False, "invalid_decimal"),
        ("1e3", USD, False, "invalid_decimal"),
        ("12%", USD, False, "invalid_decimal"),
        ("+12.50", USD, False, "invalid_decimal"),
        ("$-12.50", USD, False, "invalid_decimal"),
        ("12.50-", USD, False, "invalid_decimal"),
        ("-(12.50)", USD, False, "invalid_decimal"),
        ("(12.50", USD, False, "invalid_decimal"),
        ("$12.50 USD", USD, False, "invalid_decimal"),
        ("$$12.50", USD, False, "invalid_decimal"),
        ("Infinity", USD, False, "invalid_decimal"),
        ("NaN", USD, False, "invalid_decimal"),
        ("1_000.00", USD, False, "invalid_decimal"),
        ("\u0661\u0662.50", USD, False, "invalid_decimal"),
        ("€12.50", USD, False, "wrong_currency"),
        ("12.50 €", USD, False, "wrong_currency"),
        ("£12.50", USD, False, "wrong_currency"),
        ("¥1200", USD, False, "wrong_currency"),
        ("₹12.50", USD, False, "wrong_currency"),
        ("EUR 12.50", USD, False, "wrong_currency"),
        ("12.50 SEK", USD, False, "wrong_currency"),
        ("CA$12.50", USD, False, "wrong_currency"),
        ("A$12.50", USD, False, "wrong_currency"),
        ("$12.50", EUR, True, "wrong_currency"),
        ("USD 12,50", EUR, True, "wrong_currency"),
        ("US$12.50", CAD, False, "wrong_currency"),
        ("1.234", USD, False, "too_many_decimals"),
        ("12.500", USD, False, "too_many_decimals"),
        ("0.001", USD, False, "too_many_decimals"),
        ("1,234", EUR, True, "too_many_decimals"),
        ("12.50", EUR, True, "invalid_decimal"),
        ("1.23,45", EUR, True, "invalid_decimal"),
        ("1.234 567,00", EUR, True, "invalid_decimal"),
        ("12345678901234567.00", USD, False, "out_of_range"),
    ],
)
def test_money_refused(text: str, declared, decimal_comma: bool, reason: str) -> None:
    with pytest.raises(BadCell) as caught:
        parse_money(text, declared, decimal_comma=decimal_comma)
    assert caught.value.reason == reason


def test_money_refusals_explain_themselves() -> None:
    with pytest.raises(BadCell, match=r"'€12.50' carries '€'; the column is in USD"):
        parse_money("€12.50", USD)
    with pytest.raises(BadCell, match=r"decimal point, thousands only in groups of three"):
        parse_money("12,50", USD)
    with pytest.raises(BadCell, match=r"placeholder for no value"):
        parse_money("#N/A", USD)
    with pytest.raises(BadCell, match=r"more than 2 decimal places"):
        parse_money("1.005", USD)


@pytest.mark.parametrize(
    ("text", "value"), [("0", 0), ("42", 42), ("+5", 5), ("-0", 0), ("007", 7), (" 12 ", 12)]
)
def test_count_accepted(text: str, value: int) -> None:
    assert parse_count(text) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "missing_value"),
        ("\t", "missing_value"),
        ("N/A", "invalid_integer"),
        ("1,200", "invalid_integer"),
        ("1 200", "invalid_integer"),
        ("1200.0", "invalid_integer"),
        ("12.5", "invalid_integer"),
        ("1e3", "invalid_integer"),
        ("5%", "invalid_integer"),
        ("1_000", "invalid_integer"),
        ("0x10", "invalid_integer"),
        ("\u0663", "invalid_integer"),
        ("\uff11\uff12", "invalid_integer"),
        ("--1", "invalid_integer"),
        ("$5", "invalid_integer"),
        ("-1", "negative_value"),
        ("-40", "negative_value"),
        ("9223372036854775808", "out_of_range"),
    ],
)
def test_count_refused(text: str, reason: str) -> None:
    with pytest.raises(BadCell) as caught:
        parse_count(text)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("text", "day_first", "value"),
    [
        ("2025-01-31", False, dt.date(2025, 1, 31)),
        ("1/31/2025", False, dt.date(2025, 1, 31)),
        ("01/02/2025", False, dt.date(2025, 1, 2)),
        ("01/02/2025", True, dt.date(2025, 2, 1)),
        ("31/1/2025", True, dt.date(2025, 1, 31)),
        ("2024-02-29", False, dt.date(2024, 2, 29)),
        (" 2025-01-31 ", False, dt.date(2025, 1, 31)),
    ],
)
def test_date_accepted(text: str, day_first: bool, value: dt.date) -> None:
    assert parse_date(text, day_first) == value


@pytest.mark.parametrize(
    ("text", "day_first", "reason"),
    [
        ("", False, "missing_value"),
        ("2025-13-45", False, "unparseable_date"),
        ("2025-02-29", False, "unparseable_date"),
        ("31/05/2025", False, "unparseable_date"),
        ("1/13/2025", True, "unparseable_date"),
        ("1/31/25", False, "unparseable_date"),
        ("20250131", False, "unparseable_date"),
        ("2025-W05-1", False, "unparseable_date"),
        ("2025-1-5", False, "unparseable_date"),
        ("2025-01-31T00:00:00", False, "unparseable_date"),
        ("2025-01-31 10:00", False, "unparseable_date"),
        ("Jan 31, 2025", False, "unparseable_date"),
        ("31.01.2025", False, "unparseable_date"),
        ("2025/01/31", False, "unparseable_date"),
        ("\u0662025-01-31", False, "unparseable_date"),
    ],
)
def test_date_refused(text: str, day_first: bool, reason: str) -> None:
    with pytest.raises(BadCell) as caught:
        parse_date(text, day_first)
    assert caught.value.reason == reason


def test_a_day_first_date_read_month_first_says_which_setting_decides() -> None:
    with pytest.raises(BadCell, match="set day_first for D/M/YYYY"):
        parse_date("31/05/2025")


@pytest.mark.parametrize(
    "text", ["Newsletter", "  padded  ", "line\n", "a\r\nb", 'say "hi"', "Café \u2013 Winter", "x"]
)
def test_text_is_kept_byte_for_byte(text: str) -> None:
    assert parse_text(text) == text


@pytest.mark.parametrize("text", ["", "   ", "\t", "N/A", "null", "#REF!", "-", "#N/A"])
def test_blank_or_placeholder_text_is_missing(text: str) -> None:
    with pytest.raises(BadCell) as caught:
        parse_text(text)
    assert caught.value.reason == "missing_value"
