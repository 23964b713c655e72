"""record_json.py, value by value: what it writes itself, and what it leaves to Postgres.
The parity with Postgres's own rendering is tested on a real slot in test_log_based.py."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from tap_ecommerce_postgres.cdc import record_json


@pytest.mark.parametrize(
    ("convert", "text", "expected"),
    [
        (record_json.decimal_text, b"-0.0000000001", b'"-0.0000000001"'),
        (record_json.decimal_text, b"NaN", None),
        (record_json.decimal_text, b"-Infinity", None),
        (record_json.float_number, b"1e+100", b"1e+100"),
        (record_json.float_number, b"Infinity", None),
        (record_json.boolean, b"t", b"true"),
        (record_json.boolean, b"f", b"false"),
        (record_json.boolean, b"maybe", None),
        (record_json.json_string, b"plain", b'"plain"'),
        (record_json.json_string, 'a"b\\c\n\x01ü'.encode(), b'"a\\"b\\\\c\\n\\u0001\xc3\xbc"'),
        (record_json.raw_json, b'{"a": 1}', b'{"a": 1}'),
        (record_json.utc_timestamp, b"2025-03-09 02:30:00.5", b'"2025-03-09T02:30:00.5+00:00"'),
        (record_json.utc_timestamp, b"infinity", None),
        (record_json.utc_timestamp, b"0044-03-15 00:00:00 BC", None),
        (record_json.zoned_timestamp, b"2025-01-01 00:00:00+00", b'"2025-01-01T00:00:00+00:00"'),
        (record_json.zoned_timestamp, b"2025-01-01 00:00:00+02", None),  # not a UTC session
        (record_json.zoned_timestamp, b"-infinity", None),
        (record_json.plain_date, b"2024-02-29", b'"2024-02-29"'),
        (record_json.plain_date, b"0044-03-15 BC", None),
    ],
)
def test_converters(convert, text: bytes, expected: bytes | None) -> None:
    assert convert(text) == expected


def test_plan_renders_record_columns_in_order_with_change_columns() -> None:
    relation = [("id", 23), ("total", 1700), ("at", 1184), ("note", 25)]
    plan = record_json.plan(relation, ["id", "note", "total", "at", "gone"], "UTC")
    assert plan is not None
    assert plan.render((b"7", b"1", b"junk", None), 99, None) is None  # "junk" at `at`
    line = plan.render((b"7", b"12.30", b"2025-01-01 00:00:00+00", b'say "hi"'), 99, None)
    assert json.loads(line) == {
        "id": 7,
        "note": 'say "hi"',
        "total": "12.30",
        "at": "2025-01-01T00:00:00+00:00",
        "_sdc_lsn": 99,
        "_sdc_deleted_at": None,
    }
    assert list(json.loads(line)) == ["id", "note", "total", "at", "_sdc_lsn", "_sdc_deleted_at"]
    deleted = dt.datetime(2025, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC)
    line = plan.render((b"7", None, None, None), 100, deleted)  # a delete: the key only
    assert json.loads(line)["_sdc_deleted_at"] == "2025-01-02T03:04:05.6+00:00"
    assert json.loads(line)["note"] is None


def test_plan_leaves_other_types_and_zones_to_postgres() -> None:
    assert record_json.plan([("id", 23), ("tags", 1009)], ["id", "tags"], "UTC") is None
    assert record_json.plan([("id", 23), ("tags", 1009)], ["id"], "UTC") is not None
    assert record_json.plan([("at", 1114)], ["at"], "America/New_York") is None
    assert record_json.plan([("at", 1114)], ["at"], "Etc/UTC") is not None


def test_postgres_time_trims_the_fraction_as_postgres_does() -> None:
    value = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert record_json.postgres_time(value) == b"2025-01-02T03:04:05+00:00"
    assert record_json.postgres_time(value.replace(microsecond=120)) == (
        b"2025-01-02T03:04:05.00012+00:00"
    )
