"""A corpus of malformed and edge JSON / NDJSON files run through the real tap: every case
states its exact outcome (each loaded record, each quarantined record's position and reason,
or the whole-file error), and the run must match it exactly. The policy per case is the
README's "JSON files" table; the numbers are compared parsed as Decimal, never as floats.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from tests.tap_csv_marketing.conftest import run_csv_tap

R = {
    "event_id": "e1",
    "date": "2025-01-01",
    "platform": "meta",
    "campaign_id": "C1",
    "impressions": 100,
    "clicks": 5,
    "cost": 12.5,
    "attributes": {"age": "18-24"},
}
T = {**R, "cost": "12.50"}  # what the tap emits for R


def line(**changes) -> str:
    """One NDJSON line: R with some values replaced (a value `...` drops the key)."""
    record = {k: v for k, v in {**R, **changes}.items() if v is not ...}
    return json.dumps(record, ensure_ascii=False)


def raw_line(**texts: str) -> str:
    """R as JSON text with some values given as raw JSON text (NaN, 1e400, escapes)."""
    parts = [f'"{k}":{texts.get(k, json.dumps(v))}' for k, v in R.items()]
    parts += [f'"{k}":{v}' for k, v in texts.items() if k not in R]
    return "{" + ",".join(parts) + "}"


def ndjson(*lines: str, newline: str = "\n") -> bytes:
    return "".join(f"{text}{newline}" for text in lines).encode()


def array(*items: str) -> bytes:
    return ("[" + ",".join(items) + "]").encode()


def typed(**values) -> dict:
    return {**T, **values}


@dataclass(frozen=True)
class Expect:
    """Loaded records by position, quarantined (position, reason) pairs, or a file error."""

    loaded: tuple[tuple[int, dict], ...] = ()
    quarantined: tuple[tuple[int, str], ...] = ()
    error: str | None = None


def loads(*records: dict) -> Expect:
    return Expect(loaded=tuple(enumerate(records, start=1)))


def rejects(reason: str, position: int = 1) -> Expect:
    return Expect(quarantined=((position, reason),))


def fails(text: str) -> Expect:
    return Expect(error=text)


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


L = line()
BIG = "x" * 10_000_000
# name -> (file extension, bytes, expected outcome)
CORPUS: dict[str, tuple[str, bytes, Expect]] = {
    # NDJSON: a bad line is quarantined with its line number; the rest of the file loads
    "nd_plain": ("ndjson", ndjson(L, line(event_id="e2")), loads(T, typed(event_id="e2"))),
    "nd_jsonl_extension": ("jsonl", ndjson(L), loads(T)),
    "nd_empty_file": ("ndjson", b"", Expect()),
    "nd_blank_lines": ("ndjson", ndjson("", L, "  ", line(event_id="e2")), Expect(loaded=((2, T), (4, typed(event_id="e2"))))),
    "nd_crlf": ("ndjson", ndjson(L, L, newline="\r\n"), loads(T, T)),
    "nd_no_final_newline": ("ndjson", ndjson(L) + L.encode(), loads(T, T)),
    "nd_cut_off_last_line": ("ndjson", ndjson(L) + L[:40].encode(), fails("ends inside line 2")),
    "nd_bom": ("ndjson", b"\xef\xbb\xbf" + ndjson(L), loads(T)),
    "nd_utf16": ("ndjson", "\n".join([L, line(campaign_id="Café")]).encode("utf-16"), loads(T, typed(campaign_id="Café"))),
    "nd_invalid_utf8": ("ndjson", ndjson(L) + line(campaign_id="C\udcff").encode("utf-8", "surrogateescape") + b"\n", Expect(loaded=((1, T),), quarantined=((2, "invalid_utf8"),))),
    "nd_not_json": ("ndjson", ndjson("not json", L), Expect(loaded=((2, T),), quarantined=((1, "not_json"),))),
    "nd_concatenated_on_one_line": ("ndjson", ndjson(L + L), rejects("not_json")),
    "nd_nan": ("ndjson", ndjson(raw_line(cost="NaN")), rejects("nan_or_infinity")),
    "nd_infinity": ("ndjson", ndjson(raw_line(cost="-Infinity")), rejects("nan_or_infinity")),
    "nd_duplicate_keys": ("ndjson", ndjson(raw_line()[:-1] + ',"cost":2}'), rejects("duplicate_key")),
    "nd_nested_duplicate_keys": ("ndjson", ndjson(raw_line(attributes='{"a":1,"a":2}')), rejects("duplicate_key")),
    "nd_deep_nesting_refused": ("ndjson", ndjson(raw_line(attributes=nested(100))), rejects("too_deep")),
    "nd_nesting_within_limit": ("ndjson", ndjson(raw_line(attributes=nested(40))), loads(typed(attributes=json.loads(nested(40))))),
    "nd_very_deep_nesting": ("ndjson", ndjson(raw_line(attributes="[" * 100_000 + "]" * 100_000)), rejects("too_deep")),
    "nd_10mb_string": ("ndjson", ndjson(line(campaign_id=BIG)), loads(typed(campaign_id=BIG))),
    "nd_40_digit_count": ("ndjson", ndjson(raw_line(impressions="1" * 40)), rejects("out_of_range")),
    "nd_40_digit_cost": ("ndjson", ndjson(raw_line(cost="1" * 40)), rejects("out_of_range")),
    "nd_1e400_cost": ("ndjson", ndjson(raw_line(cost="1e400")), rejects("out_of_range")),
    "nd_1e-400_cost": ("ndjson", ndjson(raw_line(cost="1e-400")), rejects("too_many_decimals")),
    "nd_big_numbers_kept_exact_in_json": ("ndjson", ndjson(raw_line(attributes='{"n":' + "9" * 40 + ',"x":1e400,"f":0.1}')), loads(typed(attributes={"n": int("9" * 40), "x": Decimal("1E+400"), "f": Decimal("0.1")}))),
    "nd_exponent_cost": ("ndjson", ndjson(raw_line(cost="1e3")), loads(typed(cost="1000.00"))),
    "nd_three_decimals": ("ndjson", ndjson(raw_line(cost="12.500")), rejects("too_many_decimals")),
    "nd_negative_zero_cost": ("ndjson", ndjson(raw_line(cost="-0.0")), loads(typed(cost="0.00"))),
    "nd_cost_string_by_the_csv_grammar": ("ndjson", ndjson(line(cost="$1,234.50")), loads(typed(cost="1234.50"))),
    "nd_cost_wrong_currency": ("ndjson", ndjson(line(cost="€12.50")), rejects("wrong_currency")),
    "nd_cost_boolean": ("ndjson", ndjson(line(cost=True)), rejects("wrong_type")),
    "nd_count_float": ("ndjson", ndjson(raw_line(impressions="100.0")), rejects("invalid_integer")),
    "nd_count_boolean": ("ndjson", ndjson(line(clicks=True)), rejects("wrong_type")),
    "nd_count_negative": ("ndjson", ndjson(line(clicks=-1)), rejects("negative_value")),
    "nd_count_string": ("ndjson", ndjson(line(clicks="7")), loads(typed(clicks=7))),
    "nd_date_number": ("ndjson", ndjson(line(date=20250101)), rejects("wrong_type")),
    "nd_date_us_string": ("ndjson", ndjson(line(date="1/31/2025")), loads(typed(date="2025-01-31"))),
    "nd_impossible_date": ("ndjson", ndjson(line(date="2025-02-30")), rejects("unparseable_date")),
    "nd_text_number": ("ndjson", ndjson(line(campaign_id=17)), rejects("wrong_type")),
    "nd_text_placeholder": ("ndjson", ndjson(line(platform="N/A")), rejects("missing_value")),
    "nd_missing_key": ("ndjson", ndjson(line(clicks=...)), rejects("missing_value")),
    "nd_null_value": ("ndjson", ndjson(line(clicks=None)), rejects("missing_value")),
    "nd_attributes_not_object": ("ndjson", ndjson(line(attributes=["a"])), rejects("wrong_type")),
    "nd_unknown_field_kept": ("ndjson", ndjson(line(coupon="C7")), loads(typed(coupon="C7"))),
    "nd_lone_surrogate": ("ndjson", ndjson(raw_line(campaign_id='"C\\ud800"')), rejects("lone_surrogate")),
    "nd_lone_low_surrogate": ("ndjson", ndjson(raw_line(campaign_id='"\\udc00C"')), rejects("lone_surrogate")),
    "nd_surrogate_pair": ("ndjson", ndjson(raw_line(campaign_id='"\\ud83d\\ude00"')), loads(typed(campaign_id="\U0001f600"))),
    "nd_escaped_backslash_then_u": ("ndjson", ndjson(raw_line(campaign_id='"\\\\ud800"')), loads(typed(campaign_id="\\ud800"))),
    "nd_nul_escape": ("ndjson", ndjson(raw_line(campaign_id='"C\\u00001"')), rejects("nul_byte")),
    "nd_raw_nul_byte": ("ndjson", ndjson(raw_line(campaign_id='"C\x001"')), rejects("not_json")),
    "nd_mixed_types": ("ndjson", ndjson(L, line(impressions="abc"), line(cost={"v": 1}), "[1]", "null", "5", '"text"'), Expect(loaded=((1, T),), quarantined=((2, "invalid_integer"), (3, "wrong_type"), (4, "not_an_object"), (5, "not_an_object"), (6, "not_an_object"), (7, "not_an_object")))),
    "nd_gzip": ("ndjson.gz", gzip.compress(ndjson(L, L)), loads(T, T)),
    "nd_gzip_cut_off": ("ndjson.gz", gzip.compress(ndjson(L, L))[:-12], fails("gzip")),
    "nd_json_array_in_ndjson_file": ("ndjson", array(L, L), rejects("not_an_object")),
    # JSON arrays: a bad record is quarantined with its index; a bad document loads nothing
    "arr_plain": ("json", array(L, line(event_id="e2")), loads(T, typed(event_id="e2"))),
    "arr_pretty_printed": ("json", json.dumps([R], indent=2).encode(), loads(T)),
    "arr_empty_array": ("json", b"[]", Expect()),
    "arr_empty_file": ("json", b"", fails("empty file")),
    "arr_null_document": ("json", b"null", fails("no array of records at the top level: the document is a JSON null")),
    "arr_object_document": ("json", L.encode(), fails("the document is a JSON object")),
    "arr_truncated": ("json", array(L, L, L)[:-30], fails("premature EOF")),
    "arr_unterminated_array": ("json", array(L, L)[:-1], fails("not one complete JSON document")),
    "arr_concatenated_documents": ("json", array(L) + array(L), fails("trailing garbage")),
    "arr_nan_literal": ("json", array(raw_line(cost="NaN")), fails("not one complete JSON document")),
    "arr_bom": ("json", b"\xef\xbb\xbf" + array(L), loads(T)),
    "arr_utf16": ("json", f"[{L}]".encode("utf-16"), loads(T)),
    "arr_utf16_be": ("json", b"\xfe\xff" + f"[{L}]".encode("utf-16-be"), loads(T)),
    "arr_invalid_utf8": ("json", array(L).replace(b"meta", b"m\xffta"), fails("not one complete JSON document")),
    "arr_duplicate_keys": ("json", array(L, raw_line(attributes='{"a":1,"a":2}'), L, raw_line()[:-1] + ',"cost":2}', raw_line(attributes='{"l":[{"b":1,"b":1}]}')), Expect(loaded=((1, T), (3, T)), quarantined=((2, "duplicate_key"), (4, "duplicate_key"), (5, "duplicate_key")))),
    "arr_deep_nesting": ("json", array(raw_line(attributes=nested(100))), fails("nested deeper than 64 levels")),
    "arr_very_deep_nesting": ("json", b"[" * 100_000 + b"]" * 100_000, fails("nested deeper than 64 levels")),
    "arr_10mb_string": ("json", array(line(campaign_id=BIG)), loads(typed(campaign_id=BIG))),
    "arr_40_digit_count": ("json", array(raw_line(impressions="1" * 40)), rejects("out_of_range")),
    "arr_1e400_cost": ("json", array(raw_line(cost="1e400")), rejects("out_of_range")),
    "arr_big_numbers_kept_exact_in_json": ("json", array(raw_line(attributes='{"n":' + "9" * 40 + ',"x":1e400}')), loads(typed(attributes={"n": int("9" * 40), "x": Decimal("1E+400")}))),
    "arr_lone_surrogate": ("json", array(L, raw_line(campaign_id='"C\\ud800"')), fails("lone UTF-16 surrogate escape")),
    "arr_surrogate_pair": ("json", array(raw_line(campaign_id='"\\ud83d\\ude00"')), loads(typed(campaign_id="\U0001f600"))),
    "arr_nul_escape": ("json", array(L, raw_line(campaign_id='"C\\u00001"')), Expect(loaded=((1, T),), quarantined=((2, "nul_byte"),))),
    "arr_raw_nul_byte": ("json", array(raw_line(campaign_id='"C\x001"')), fails("not one complete JSON document")),
    "arr_mixed_types": ("json", array(L, "5", "null", '"x"', f"[{L}]", line(clicks="many")), Expect(loaded=((1, T),), quarantined=((2, "not_an_object"), (3, "not_an_object"), (4, "not_an_object"), (5, "not_an_object"), (6, "invalid_integer")))),
    "arr_gzip": ("json.gz", gzip.compress(array(L, L)), loads(T, T)),
    "arr_unknown_field_kept": ("json", array(line(coupon={"code": "C7", "pct": 0.15})), loads(typed(coupon={"code": "C7", "pct": Decimal("0.15")}))),
}  # fmt: skip


def _file_name(name: str) -> str:
    return f"ad_events_{name}.{CORPUS[name][0]}"


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory) -> dict:
    directory = tmp_path_factory.mktemp("json-corpus")
    for name, (_, data, _) in CORPUS.items():
        (directory / _file_name(name)).write_bytes(data)
    config = {"source": str(directory), "quarantine_unreadable_files": True}
    _, _, result = run_csv_tap(config, directory)
    streams: dict[str, list[dict]] = {}
    for text in result.stdout.splitlines():  # parsed again: numbers as Decimal, not float
        message = json.loads(text, parse_float=Decimal)
        if message["type"] == "RECORD":
            streams.setdefault(message["stream"], []).append(message["record"])
    return {"streams": streams, "stderr": result.stderr}


def outcome(run: dict, name: str) -> Expect:
    """What the tap did with one corpus file, in the shape of `Expect`."""
    file_name = _file_name(name)
    loaded = sorted(
        ((record.pop("_sdc_source_lineno"), record)
         for record in (dict(r) for r in run["streams"].get("ad_events", []))
         if Path(record.pop("_sdc_source_file")).name == file_name),
        key=lambda pair: pair[0],
    )  # fmt: skip
    bad = [
        r
        for r in run["streams"].get("ad_events__quarantine", [])
        if Path(r["source_file"]).name == file_name
    ]
    if len(bad) == 1 and bad[0]["reason"] == "unreadable_file":
        assert file_name in bad[0]["detail"]
        return Expect(loaded=tuple(loaded), error=bad[0]["detail"])
    return Expect(
        loaded=tuple(loaded), quarantined=tuple(sorted((b["line"], b["reason"]) for b in bad))
    )


def test_the_corpus_covers_each_named_edge() -> None:
    names = " ".join(CORPUS)
    for edge in ("bom", "utf16", "nan", "infinity", "duplicate_keys", "deep_nesting",
                 "10mb_string", "40_digit", "1e400", "lone_surrogate", "nul", "mixed_types",
                 "empty_array", "null_document", "concatenated"):  # fmt: skip
        assert edge in names, edge


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_json_file_has_its_exact_outcome(corpus_run, name: str) -> None:
    expected = CORPUS[name][2]
    got = outcome(corpus_run, name)
    if expected.error:
        assert got.loaded == () and got.error and expected.error in got.error, got.error
    else:
        assert got == expected


def test_each_file_reconciles_in_the_log(corpus_run) -> None:
    for name, (_, _, expected) in CORPUS.items():
        if expected.error:
            continue
        good, bad = len(expected.loaded), len(expected.quarantined)
        text = f"{_file_name(name)}: {good} good rows, {bad} quarantined ({good + bad} data"
        assert text in corpus_run["stderr"], name


def test_quarantined_records_say_where_and_why(corpus_run) -> None:
    rows = corpus_run["streams"]["ad_events__quarantine"]

    def one(name: str, position: int) -> dict:
        file_name = _file_name(name)
        return next(
            r for r in rows if r["source_file"].endswith(file_name) and r["line"] == position
        )

    mixed = one("arr_mixed_types", 6)
    assert mixed["detail"].startswith("at /5: column clicks: 'many' is not a whole number")
    assert json.loads(mixed["raw_line"]) == {**R, "clicks": "many"}
    assert one("arr_mixed_types", 2) == {**one("arr_mixed_types", 2), "raw_line": "5"}
    nan = one("nd_nan", 1)
    assert nan["raw_line"] == raw_line(cost="NaN") and "NaN is not a JSON number" in nan["detail"]
    truncated = next(r for r in rows if r["source_file"].endswith(_file_name("arr_truncated")))
    size = len(CORPUS["arr_truncated"][1])
    assert truncated["line"] == 0 and f"(at or before byte {size})" in truncated["detail"]


def test_a_broken_document_fails_the_run_naming_file_and_offset(tmp_path) -> None:
    data = array(L, L, L)[:-30]
    (tmp_path / "ad_events_cut.json").write_bytes(data)
    run = run_csv_tap({"source": str(tmp_path)}, tmp_path, check=False)
    streams, _, result = run
    assert result.returncode != 0
    assert (
        f"ad_events_cut.json: not one complete JSON document: parse error: premature EOF (at or before byte {len(data)})"
        in result.stderr
    )
    assert not streams.get("ad_events")  # the two whole records before the cut: not loaded
