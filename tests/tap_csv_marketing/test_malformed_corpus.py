"""A corpus of malformed export files run through the real tap: every case states its exact
outcome (each loaded record's values, or each quarantined line's reason), and the run
must match it exactly. Counting alone would pass with wrong values (the 100x "12,50").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.tap_csv_marketing.conftest import run_csv_tap

HEADER = "date,channel,campaign_name,spend,impressions,clicks"
DEFAULT = {
    "date": "2025-01-01",
    "channel": "email",
    "campaign_name": "Newsletter",
    "spend": "10.00",
    "impressions": "100",
    "clicks": "5",
}
TYPED = {
    "date": "2025-01-01",
    "channel": "email",
    "campaign_name": "Newsletter",
    "spend": "10.00",
    "impressions": 100,
    "clicks": 5,
}


def row(**cells: str) -> str:
    """One CSV line: the default row with some cells replaced (already CSV-quoted)."""
    return ",".join({**DEFAULT, **cells}.values())


def typed(**values) -> dict:
    """The record the tap must emit for `row(...)` with these typed values."""
    return {**TYPED, **values}


@dataclass(frozen=True)
class Expect:
    """Loaded records by line, quarantined (line, reason) pairs, or a whole-file error."""

    loaded: tuple[tuple[int, dict], ...] = ()
    quarantined: tuple[tuple[int, str], ...] = ()
    error: str | None = None


def file(*lines: str, newline: str = "\n") -> bytes:
    return (newline.join((HEADER, *lines)) + newline).encode()


def loads(*records: dict, first_line: int = 2) -> Expect:
    return Expect(loaded=tuple(enumerate(records, start=first_line)))


def rejects(reason: str, line: int = 2) -> Expect:
    return Expect(quarantined=((line, reason),))


def one_cell(column: str, cell: str) -> bytes:
    return file(row(**{column: cell}))


R = row()
SWAPPED = "date,channel,campaign_name,spend,clicks,impressions"  # the two counts swapped
# name -> (file bytes, expected outcome)
CORPUS: dict[str, tuple[bytes, Expect]] = {
    # files that are empty or not exports at all
    "empty": (b"", Expect()),
    "header_only": (HEADER.encode(), Expect()),
    "header_only_crlf": (f"{HEADER}\r\n".encode(), Expect()),
    "bom_header_only": (b"\xef\xbb\xbf" + HEADER.encode(), Expect()),
    "blank_lines_only": (f"{HEADER}\n\n\n   \n".encode(), Expect()),
    "duplicate_header": (b"date,date,campaign_name,spend,impressions,clicks\n", Expect(error="duplicate column")),
    "missing_column": (b"date,channel,spend,impressions,clicks\n" + R.encode(), Expect(error="missing required column")),
    "semicolon_delimited": (HEADER.replace(",", ";").encode() + b"\n" + R.replace(",", ";").encode(), Expect(error="missing required column")),
    "binary_png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", Expect(error="missing required column")),
    "undecodable_bytes": (HEADER.encode() + b"\n2025-01-01,email,\x81\x8d\x8f\x90,1.00,1,1\n", Expect(error="not UTF-8")),
    # layout and CSV structure
    "title_case_header": (b" Date , Channel ,Campaign Name,SPEND,Impressions,Clicks\n" + R.encode(), loads(typed())),
    "extra_unknown_column": (f"{HEADER},notes\n{R},hello\n".encode(), loads(typed())),
    "open_quote": (file(R, row(campaign_name='"Newsletter')), Expect(loaded=((2, typed()),), quarantined=((3, "malformed_csv"),))),
    "open_quote_swallows_the_rest": (file(row(campaign_name='"Newsletter'), R, R), rejects("malformed_csv")),
    "text_after_closing_quote": (file(row(campaign_name='"News"letter'), R), Expect(loaded=((3, typed()),), quarantined=((2, "malformed_csv"),))),
    "nul_byte": (file(row(campaign_name="News\x00letter"), R), Expect(loaded=((3, typed()),), quarantined=((2, "nul_byte"),))),
    "mixed_line_endings": (f"{HEADER}\n{R}\r\n{row(date='2025-01-02')}\r{row(date='2025-01-03')}\n".encode(), loads(typed(), typed(date="2025-01-02"), typed(date="2025-01-03"))),
    "huge_field": (one_cell("campaign_name", "x" * 1_000_000), loads(typed(campaign_name="x" * 1_000_000))),
    "utf16": (f"{HEADER}\n{R}\n{row(campaign_name='Café')}\n".encode("utf-16"), loads(typed(), typed(campaign_name="Café"))),
    "cp1252": (f"{HEADER}\n{row(campaign_name='Café – Winter')}\n".encode("cp1252"), loads(typed(campaign_name="Café – Winter"))),
    "trailing_blank_rows": (file(R, "", ""), loads(typed())),
    "empty_cells_row": (file(",,,,,", R), Expect(loaded=((3, typed()),))),
    "short_row": (file("2025-01-01,email"), rejects("wrong_column_count")),
    "long_row": (file(f"{R},extra,more"), rejects("wrong_column_count")),
    "summary_line": (file(R, "Total,,,10.00,100,5"), Expect(loaded=((2, typed()),), quarantined=((3, "summary_line"),))),
    "embedded_newline": (file(row(campaign_name='"News\nletter"'), R), Expect(loaded=((2, typed(campaign_name="News\nletter")), (4, typed())))),
    # a header line repeated mid-file (two exports pasted together)
    "repeated_header": (file(R, HEADER, row(clicks="7")), Expect(loaded=((2, typed()), (4, typed(clicks=7))))),
    "repeated_header_title_case": (file(R, "Date,Channel,Campaign Name,Spend,Impressions,Clicks", R), Expect(loaded=((2, typed()), (4, typed())))),
    "repeated_header_counts_swapped": (file(row(impressions="100", clicks="5"), SWAPPED, "2025-01-01,email,Newsletter,10.00,7,300"), Expect(loaded=((2, typed()), (4, typed(impressions=300, clicks=7))))),
    "repeated_header_new_column": (file(R, f"{HEADER},notes", f"{R},x", R), Expect(quarantined=((3, "changed_header"), (4, "changed_header"), (5, "changed_header")), loaded=((2, typed()),))),
    "repeated_header_renamed_column": (file(R, HEADER.replace("clicks", "link_clicks"), R), Expect(loaded=((2, typed()),), quarantined=((3, "changed_header"), (4, "changed_header")))),
    "repeated_header_without_unnamed_column": (f"{HEADER},\n{R},\n{HEADER}\n{R}\n".encode(), Expect(loaded=((2, typed()), (4, typed())))),
    "unnamed_trailing_column": (f"{HEADER},\n{R},\n{R},oops\n".encode(), Expect(loaded=((2, typed()),), quarantined=((3, "unnamed_column"),))),
    # text: kept byte for byte
    "quoted_trailing_newline": (one_cell("campaign_name", '"Newsletter\n"'), loads(typed(campaign_name="Newsletter\n"))),
    "quoted_spaces": (one_cell("campaign_name", '"  Newsletter  "'), loads(typed(campaign_name="  Newsletter  "))),
    "quoted_crlf_in_lf_file": (one_cell("campaign_name", '"a\r\nb"'), loads(typed(campaign_name="a\r\nb"))),
    "quoted_delimiter": (one_cell("campaign_name", '"Newsletter, Spring"'), loads(typed(campaign_name="Newsletter, Spring"))),
    "escaped_quotes": (one_cell("campaign_name", '"The ""Best"" Sale"'), loads(typed(campaign_name='The "Best" Sale'))),
    "padded_cells": (file(" 2025-01-01 , email , Newsletter , 1.00 , 1 , 1 "), loads(typed(channel=" email ", campaign_name=" Newsletter ", spend="1.00", impressions=1, clicks=1))),
    "empty_required_text": (one_cell("channel", ""), rejects("missing_value")),
    "blank_quoted_text": (one_cell("channel", '"  "'), rejects("missing_value")),
    "placeholder_text": (one_cell("channel", "#REF!"), rejects("missing_value")),
    # money (declared USD, decimal point)
    "na_spend": (one_cell("spend", "N/A"), rejects("invalid_decimal")),
    "empty_spend": (one_cell("spend", ""), rejects("missing_value")),
    "dollar_thousands": (one_cell("spend", '"$1,234.56"'), loads(typed(spend="1234.56"))),
    "thousands_millions": (one_cell("spend", '"1,234,567.89"'), loads(typed(spend="1234567.89"))),
    "accounting_negative": (one_cell("spend", "(12.00)"), loads(typed(spend="-12.00"))),
    "accounting_negative_dollar": (one_cell("spend", '"($1,000.00)"'), loads(typed(spend="-1000.00"))),
    "minus_dollar": (one_cell("spend", "-$12.50"), loads(typed(spend="-12.50"))),
    "minus_and_parentheses": (one_cell("spend", "-(12.00)"), rejects("invalid_decimal")),
    "negative_zero": (one_cell("spend", "-0.00"), loads(typed(spend="0.00"))),
    "usd_code_suffix": (one_cell("spend", "12.50 USD"), loads(typed(spend="12.50"))),
    "dollar_space": (one_cell("spend", "$ 12.50"), loads(typed(spend="12.50"))),
    "two_currency_marks": (one_cell("spend", "$12.50 USD"), rejects("invalid_decimal")),
    "one_decimal": (one_cell("spend", "12.5"), loads(typed(spend="12.50"))),
    "no_decimals": (one_cell("spend", "12"), loads(typed(spend="12.00"))),
    "three_decimals": (one_cell("spend", "1.234"), rejects("too_many_decimals")),
    "trailing_zero_third_decimal": (one_cell("spend", "12.500"), rejects("too_many_decimals")),
    "comma_decimal_without_setting": (one_cell("spend", '"12,50"'), rejects("invalid_decimal")),
    "bad_thousands_grouping": (one_cell("spend", '"1,23.4"'), rejects("invalid_decimal")),
    "nbsp_thousands_without_setting": (one_cell("spend", "1\u00a0234.56"), rejects("invalid_decimal")),
    "euro_symbol": (one_cell("spend", "€12.50"), rejects("wrong_currency")),
    "pound_suffix": (one_cell("spend", "12.50 £"), rejects("wrong_currency")),
    "eur_code": (one_cell("spend", "EUR 12.50"), rejects("wrong_currency")),
    "canadian_dollar": (one_cell("spend", "CA$12.50"), rejects("wrong_currency")),
    "exponent_amount": (one_cell("spend", "1e3"), rejects("invalid_decimal")),
    "percent_amount": (one_cell("spend", "12%"), rejects("invalid_decimal")),
    "amount_beyond_precision": (one_cell("spend", "12345678901234567.00"), rejects("out_of_range")),
    # counts: optional sign and ASCII digits only
    "thousands_in_count": (one_cell("impressions", '"1,234"'), rejects("invalid_integer")),
    "space_thousands_in_count": (one_cell("impressions", "1 200"), rejects("invalid_integer")),
    "float_clicks": (one_cell("clicks", "1200.0"), rejects("invalid_integer")),
    "exponent_clicks": (one_cell("clicks", "1e3"), rejects("invalid_integer")),
    "fraction_in_count": (one_cell("impressions", "12.5"), rejects("invalid_integer")),
    "percent_clicks": (one_cell("clicks", "5%"), rejects("invalid_integer")),
    "arabic_indic_digits": (one_cell("clicks", "\u0663"), rejects("invalid_integer")),
    "negative_count": (one_cell("impressions", "-1"), rejects("negative_value")),
    "plus_sign_count": (one_cell("clicks", "+5"), loads(typed(clicks=5))),
    "blank_count": (one_cell("clicks", '"   "'), rejects("missing_value")),
    "count_beyond_int64": (one_cell("impressions", "99999999999999999999"), rejects("out_of_range")),
    # dates: YYYY-MM-DD or M/D/YYYY (day_first: D/M/YYYY)
    "us_date": (one_cell("date", "1/31/2025"), loads(typed(date="2025-01-31"))),
    "leap_day": (one_cell("date", "2/29/2024"), loads(typed(date="2024-02-29"))),
    "impossible_date": (one_cell("date", "2/30/2025"), rejects("unparseable_date")),
    "day_first_date_without_setting": (one_cell("date", "31/1/2025"), rejects("unparseable_date")),
    "two_digit_year": (one_cell("date", "1/31/25"), rejects("unparseable_date")),
    "iso_basic_date": (one_cell("date", "20250131"), rejects("unparseable_date")),
    "iso_week_date": (one_cell("date", "2025-W05-1"), rejects("unparseable_date")),
    "unpadded_iso_date": (one_cell("date", "2025-1-5"), rejects("unparseable_date")),
    "datetime_in_date": (one_cell("date", "2025-01-31 10:00"), rejects("unparseable_date")),
}  # fmt: skip


def euro_cell(column: str, cell: str) -> bytes:
    """A row of a decimal-comma file (its default spend written `10,00`)."""
    return file(row(**{"spend": '"10,00"', column: cell}))


# The same tap with `decimal_comma: true`, `currency: EUR`, `day_first: true`.
EURO_CORPUS: dict[str, tuple[bytes, Expect]] = {
    "dot_thousands": (euro_cell("spend", '"1.234,56"'), loads(typed(spend="1234.56"))),
    "space_thousands": (euro_cell("spend", '"1 234,56"'), loads(typed(spend="1234.56"))),
    "euro_prefix": (euro_cell("spend", '"€12,50"'), loads(typed(spend="12.50"))),
    "euro_suffix": (euro_cell("spend", '"12,50 €"'), loads(typed(spend="12.50"))),
    "dollar_in_euro_stream": (euro_cell("spend", '"$12,50"'), rejects("wrong_currency")),
    "decimal_point_in_comma_file": (euro_cell("spend", "12.50"), rejects("invalid_decimal")),
    "three_comma_decimals": (euro_cell("spend", '"1,234"'), rejects("too_many_decimals")),
    "mixed_separators": (euro_cell("spend", '"1.23,45"'), rejects("invalid_decimal")),
    "day_first_date": (euro_cell("date", "31/1/2025"), loads(typed(date="2025-01-31"))),
    "month_thirteen_day_first": (euro_cell("date", "1/13/2025"), rejects("unparseable_date")),
}  # fmt: skip


def _run(tmp_path_factory, corpus: dict, config: dict) -> dict:
    directory = tmp_path_factory.mktemp("corpus")
    for name, (data, _) in corpus.items():
        (directory / f"marketing_spend_{name}.csv").write_bytes(data)
    config = {"source": str(directory), "quarantine_unreadable_files": True, **config}
    streams, _, result = run_csv_tap(config, directory)
    return {"streams": streams, "stderr": result.stderr}


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory) -> dict:
    return _run(tmp_path_factory, CORPUS, {})


@pytest.fixture(scope="module")
def euro_run(tmp_path_factory) -> dict:
    config = {"decimal_comma": True, "currency": "EUR", "day_first": True}
    return _run(tmp_path_factory, EURO_CORPUS, config)


def outcome(run: dict, name: str) -> Expect:
    """What the tap did with one corpus file, in the shape of `Expect`."""
    file_name = f"marketing_spend_{name}.csv"
    loaded = sorted(
        (record.pop("_sdc_source_lineno"), record)
        for record in (dict(r) for r in run["streams"]["marketing_spend"])
        if Path(record.pop("_sdc_source_file")).name == file_name
    )
    bad = [
        r
        for r in run["streams"]["marketing_spend__quarantine"]
        if Path(r["source_file"]).name == file_name
    ]
    if len(bad) == 1 and bad[0]["reason"] == "unreadable_file":
        assert file_name in bad[0]["detail"]
        return Expect(loaded=tuple(loaded), error=bad[0]["detail"])
    return Expect(
        loaded=tuple(loaded), quarantined=tuple(sorted((b["line"], b["reason"]) for b in bad))
    )


def test_the_corpus_covers_at_least_fifty_cases() -> None:
    assert len(CORPUS) + len(EURO_CORPUS) >= 50
    assert all(isinstance(expected, Expect) for _, expected in CORPUS.values())


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_malformed_file_has_its_exact_outcome(corpus_run, name: str) -> None:
    expected = CORPUS[name][1]
    got = outcome(corpus_run, name)
    if expected.error:
        assert got.loaded == () and got.error and expected.error in got.error
    else:
        assert got == expected


@pytest.mark.parametrize("name", sorted(EURO_CORPUS))
def test_decimal_comma_euro_files_have_their_exact_outcome(euro_run, name: str) -> None:
    assert outcome(euro_run, name) == EURO_CORPUS[name][1]


def test_every_quarantined_row_says_where_and_why(corpus_run) -> None:
    rows = corpus_run["streams"]["marketing_spend__quarantine"]
    euro = next(r for r in rows if r["source_file"].endswith("marketing_spend_euro_symbol.csv"))
    assert euro["line"] == 2 and euro["raw_line"] == row(spend="€12.50")
    assert euro["detail"] == "column spend: '€12.50' carries '€'; the column is in USD"
    comma = next(r for r in rows if r["source_file"].endswith("comma_decimal_without_setting.csv"))
    assert "thousands only in groups of three" in comma["detail"]


def test_each_file_reconciles_in_the_log(corpus_run) -> None:
    for name, (_, expected) in CORPUS.items():
        if expected.error:
            continue
        good, bad = len(expected.loaded), len(expected.quarantined)
        line = f"marketing_spend_{name}.csv: {good} good rows, {bad} quarantined ({good + bad} data"
        assert line in corpus_run["stderr"], name


def test_an_unreadable_file_fails_the_run_naming_the_file_by_default(tmp_path) -> None:
    (tmp_path / "marketing_spend_dup.csv").write_bytes(CORPUS["duplicate_header"][0])
    _, _, result = run_csv_tap({"source": str(tmp_path)}, tmp_path, check=False)
    assert result.returncode != 0
    assert "marketing_spend_dup.csv" in result.stderr and "duplicate column" in result.stderr


def test_a_repeated_header_is_counted_in_the_files_report(corpus_run) -> None:
    log = corpus_run["stderr"]
    for name in ("repeated_header", "repeated_header_counts_swapped"):
        line = f"marketing_spend_{name}.csv: 2 good rows, 0 quarantined (2 data lines), 1 repeated header"
        assert line in log, name
    assert "marketing_spend_repeated_header_counts_swapped.csv: line 3 repeats the header" in log
    assert "read by name" in log


def test_a_changed_header_and_an_unnamed_column_say_where_and_why(corpus_run) -> None:
    rows = corpus_run["streams"]["marketing_spend__quarantine"]

    def quarantined(name: str) -> list[dict]:
        found = [r for r in rows if r["source_file"].endswith(f"marketing_spend_{name}.csv")]
        return sorted(found, key=lambda r: r["line"])

    header, after, _ = quarantined("repeated_header_new_column")
    assert header["raw_line"] == f"{HEADER},notes" and "notes" in header["detail"]
    assert after["raw_line"] == f"{row()},x" and "line 3" in after["detail"]
    (unnamed,) = quarantined("unnamed_trailing_column")
    assert unnamed["raw_line"] == f"{row()},oops"
    assert unnamed["detail"] == "column 7 has no name in the header but holds 'oops'"
