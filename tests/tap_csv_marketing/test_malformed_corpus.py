"""A corpus of malformed export files: each ends in a clear outcome, nothing is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tap_csv_marketing.conftest import run_csv_tap

HEADER = "date,channel,campaign_name,spend,impressions,clicks"
ROW = "2025-01-01,email,Newsletter,10.00,100,5"

# name -> (bytes, expected): ("rows", good, quarantined) or ("error", text in the error)
CORPUS: dict[str, tuple[bytes, tuple]] = {
    "empty": (b"", ("rows", 0, 0)),
    "header_only": (HEADER.encode(), ("rows", 0, 0)),
    "header_only_crlf": (f"{HEADER}\r\n".encode(), ("rows", 0, 0)),
    "bom_header_only": (b"\xef\xbb\xbf" + HEADER.encode(), ("rows", 0, 0)),
    "blank_lines_only": (f"{HEADER}\n\n\n   \n".encode(), ("rows", 0, 0)),
    "duplicate_header": (b"date,date,campaign_name,spend,impressions,clicks\n", ("error", "duplicate column")),
    "missing_column": (b"date,channel,spend,impressions,clicks\n" + ROW.encode(), ("error", "missing required column")),
    "semicolon_delimited": (HEADER.replace(",", ";").encode() + b"\n" + ROW.replace(",", ";").encode(), ("error", "missing required column")),
    "binary_png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", ("error", "missing required column")),
    "undecodable_bytes": (HEADER.encode() + b"\n2025-01-01,email,\x81\x8d\x8f\x90,1.00,1,1\n", ("error", "not UTF-8")),
    "title_case_header": (b" Date , Channel ,Campaign Name,SPEND,Impressions,Clicks\n" + ROW.encode(), ("rows", 1, 0)),
    "extra_unknown_column": (f"{HEADER},notes\n{ROW},hello\n".encode(), ("rows", 1, 0)),
    "open_quote": (f'{HEADER}\n{ROW}\n2025-01-02,email,"Newsletter,1.00,1,1\n'.encode(), ("rows", 1, 1)),
    "nul_byte": (f"{HEADER}\n2025-01-01,email,News\x00letter,1.00,1,1\n{ROW}\n".encode(), ("rows", 1, 1)),
    "mixed_line_endings": (f"{HEADER}\n{ROW}\r\n2025-01-02,email,Newsletter,1.00,1,1\r2025-01-03,email,Newsletter,1.00,1,1\n".encode(), ("rows", 3, 0)),
    "huge_field": (f"{HEADER}\n2025-01-01,email,{'x' * 1_000_000},1.00,1,1\n".encode(), ("rows", 1, 0)),
    "utf16": (f"{HEADER}\n{ROW}\n2025-01-02,email,Café,1.00,1,1\n".encode("utf-16"), ("rows", 2, 0)),
    "cp1252": (f"{HEADER}\n2025-01-02,email,Café – Winter,1.00,1,1\n".encode("cp1252"), ("rows", 1, 0)),
    "trailing_blank_rows": (f"{HEADER}\n{ROW}\n\n\n".encode(), ("rows", 1, 0)),
    "empty_cells_row": (f"{HEADER}\n,,,,,\n{ROW}\n".encode(), ("rows", 1, 0)),
    "short_row": (f"{HEADER}\n2025-01-01,email\n".encode(), ("rows", 0, 1)),
    "long_row": (f"{HEADER}\n{ROW},extra,more\n".encode(), ("rows", 0, 1)),
    "summary_line": (f"{HEADER}\n{ROW}\nTotal,,,10.00,100,5\n".encode(), ("rows", 1, 1)),
    "na_spend": (f"{HEADER}\n2025-01-01,email,Newsletter,N/A,1,1\n".encode(), ("rows", 0, 1)),
    "dollar_thousands": (f'{HEADER}\n2025-01-01,email,Newsletter,"$1,234.56",1,1\n'.encode(), ("rows", 1, 0)),
    "accounting_negative": (f"{HEADER}\n2025-01-01,email,Refund,(12.00),1,1\n".encode(), ("rows", 1, 0)),
    "three_decimals": (f"{HEADER}\n2025-01-01,email,Newsletter,1.234,1,1\n".encode(), ("rows", 0, 1)),
    "percent_clicks": (f"{HEADER}\n2025-01-01,email,Newsletter,1.00,1,5%\n".encode(), ("rows", 0, 1)),
    "us_date": (f"{HEADER}\n1/31/2025,email,Newsletter,1.00,1,1\n".encode(), ("rows", 1, 0)),
    "impossible_date": (f"{HEADER}\n2/30/2025,email,Newsletter,1.00,1,1\n".encode(), ("rows", 0, 1)),
    "datetime_in_date": (f"{HEADER}\n2025-01-31 10:00,email,Newsletter,1.00,1,1\n".encode(), ("rows", 0, 1)),
    "thousands_in_count": (f'{HEADER}\n2025-01-01,email,Newsletter,1.00,"1,234",1\n'.encode(), ("rows", 1, 0)),
    "fraction_in_count": (f"{HEADER}\n2025-01-01,email,Newsletter,1.00,12.5,1\n".encode(), ("rows", 0, 1)),
    "negative_count": (f"{HEADER}\n2025-01-01,email,Newsletter,1.00,-1,1\n".encode(), ("rows", 0, 1)),
    "embedded_newline": (f'{HEADER}\n2025-01-01,email,"News\nletter",1.00,1,1\n{ROW}\n'.encode(), ("rows", 2, 0)),
    "padded_cells": (f"{HEADER}\n 2025-01-01 , email , Newsletter , 1.00 , 1 , 1 \n".encode(), ("rows", 1, 0)),
    "empty_required_text": (f"{HEADER}\n2025-01-01,,Newsletter,1.00,1,1\n".encode(), ("rows", 0, 1)),
}  # fmt: skip


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory) -> tuple[Path, dict, list]:
    directory = tmp_path_factory.mktemp("corpus")
    for name, (data, _) in CORPUS.items():
        (directory / f"marketing_spend_{name}.csv").write_bytes(data)
    config = {"source": str(directory), "quarantine_unreadable_files": True}
    streams, states, _ = run_csv_tap(config, directory)
    return directory, streams, states


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_malformed_file_has_a_clear_outcome(corpus_run, name: str) -> None:
    _, streams, _ = corpus_run
    expected = CORPUS[name][1]
    file_name = f"marketing_spend_{name}.csv"
    good = [r for r in streams["marketing_spend"] if r["_sdc_source_file"].endswith(file_name)]
    bad = [
        r for r in streams["marketing_spend__quarantine"] if r["source_file"].endswith(file_name)
    ]
    if expected[0] == "rows":
        assert (len(good), len(bad)) == expected[1:], [b["reason"] for b in bad]
    else:
        assert not good
        assert len(bad) == 1 and bad[0]["reason"] == "unreadable_file"
        assert expected[1] in bad[0]["detail"] and file_name in bad[0]["detail"]


def test_line_numbers_count_physical_lines(corpus_run) -> None:
    _, streams, _ = corpus_run
    rows = [
        r
        for r in streams["marketing_spend"]
        if r["_sdc_source_file"].endswith("embedded_newline.csv")
    ]
    assert sorted(r["_sdc_source_lineno"] for r in rows) == [2, 4]


def test_an_unreadable_file_fails_the_run_naming_the_file_by_default(tmp_path) -> None:
    (tmp_path / "marketing_spend_dup.csv").write_bytes(CORPUS["duplicate_header"][0])
    _, _, result = run_csv_tap({"source": str(tmp_path)}, tmp_path, check=False)
    assert result.returncode != 0
    assert "marketing_spend_dup.csv" in result.stderr and "duplicate column" in result.stderr
