"""No silent coercion: a value that does not match its declared type stops the run with
an error naming the stream, the field, the record (position and key) and the value, on
every lane alike (the Arrow lane, the msgspec fallback, the SDK's per-record path, with
or without `strict_schema`). Objects, numbers and booleans were stored in string columns
as JSON text, and `"2024-01-15xyz garbage"` as the date 2024-01-15."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from target_minio_parquet.columns import ColumnConversionError, column_array, conform_table

from tests.target_minio_parquet.conftest import record_message, run_target, schema_message
from tests.target_minio_parquet.test_keeps_what_it_is_given import rows
from tests.target_minio_parquet.test_wire_schema import run_compact

DECIMAL = {"type": ["string", "null"], "format": "x-singer.decimal", "precision": 12, "scale": 2}
PROPERTIES = {
    "id": {"type": "integer"},
    "name": {"type": ["string", "null"]},
    "day": {"type": ["string", "null"], "format": "date"},
    "amount": DECIMAL,
    "qty": {"type": ["integer", "null"]},
    "ratio": {"type": ["number", "null"]},
    "paid": {"type": ["boolean", "null"]},
    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
    "card": {"type": ["object", "null"], "properties": {"brand": {"type": ["string", "null"]}}},
    "meta": {"type": ["object", "null"]},  # free-form: kept as JSON text, objects only
    "code": {"type": ["string", "integer", "null"]},  # a union: JSON text of either
}
GOOD = {"name": "n", "day": "2024-01-01", "amount": "1.00", "qty": 1, "ratio": 0.5}

# field, bad value, what the message must say about it
BAD = {
    "object_in_string": ("name", {"a": 1}, "a JSON object where the SCHEMA declares a string"),
    "array_in_string": ("name", ["a"], "a JSON array where the SCHEMA declares a string"),
    "number_in_string": ("name", 5, "a JSON number where the SCHEMA declares a string"),
    "boolean_in_string": ("name", True, "a JSON boolean where the SCHEMA declares a string"),
    "garbage_after_date": ("day", "2024-01-15xyz garbage", "not a YYYY-MM-DD date"),
    "date_time_in_date": ("day", "2024-01-15T10:00:00+02:00", "not a YYYY-MM-DD date"),
    "number_in_date": ("day", 20240115, "a JSON number where the SCHEMA declares a date"),
    "fraction_in_integer": ("qty", 2.5, "a number with a fraction"),
    "boolean_in_integer": ("qty", True, "a JSON boolean where the SCHEMA declares an integer"),
    "text_in_integer": ("qty", "7", "a JSON string where the SCHEMA declares an integer"),
    "boolean_in_number": ("ratio", False, "a JSON boolean where the SCHEMA declares a number"),
    "number_in_boolean": ("paid", 1, "a JSON number where the SCHEMA declares a boolean"),
    "text_in_array": ("tags", "abc", "a JSON string where the SCHEMA declares an array"),
    "text_in_object": ("card", "visa", "a JSON string where the SCHEMA declares an object"),
    "text_in_free_form_object": ("meta", "abc", "a JSON string where the SCHEMA declares object"),
    "object_in_union": (
        "code",
        {"a": 1},
        "a JSON object where the SCHEMA declares integer or string",
    ),
    "decimal_overflow": (
        "amount",
        "12345678901234.00",
        "14 digits before the point; the declared precision 12 with scale 2 holds at most 10",
    ),
    "decimal_rounding": ("amount", "1.234", "3 decimal places; the declared scale is 2"),
    "decimal_underscore": ("amount", "1_000", "not a decimal number"),
}


def messages(bad: dict, count: int = 50, at: int = 37) -> list[dict]:
    """`count` good records of stream `orders`, record `at` carrying `bad`."""
    out = [schema_message("orders", PROPERTIES, ["id"])]
    for i in range(1, count + 1):
        out.append(record_message("orders", {"id": i, **GOOD, **(bad if i == at else {})}))
    return out


def lanes(tmp_path: Path, message_list: list[dict], **config) -> dict:
    """The same messages through every lane: name -> completed process."""
    base = {"source_name": "s", **config}
    # "record" first: no lane prefix, so each line is decoded to a dict by the reader
    reordered = [dict(reversed(list(m.items()))) for m in message_list]
    sdk_maps = {"stream_maps": {"orders": {"__filter__": "True"}}}  # the SDK's path
    runs = {
        "arrow": (base, message_list),
        "dicts": (base, reordered),
        "sdk": ({**base, **sdk_maps}, message_list),
        "strict": ({**base, "strict_schema": True}, message_list),
    }
    results = {}
    for name, (config_for, sent) in runs.items():
        directory = tmp_path / name
        directory.mkdir()
        results[name] = run_compact(
            {**config_for, "destination": str(directory / "lake")}, sent, directory
        )
    return results


def error_line(stderr: bytes) -> str:
    found = re.findall(r"ValueError: (stream 'orders': column .*)", stderr.decode())
    assert found, stderr.decode()[-3000:]
    return found[-1]


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_value_of_another_type_stops_the_run_naming_where_on_every_lane(
    tmp_path: Path, case: str
) -> None:
    field, value, why = BAD[case]
    results = lanes(tmp_path, messages({field: value}))
    errors = {}
    for name, result in results.items():
        assert result.returncode != 0, (name, result.stderr.decode()[-2000:])
        assert not list((tmp_path / name).rglob("*.parquet")), name
        errors[name] = error_line(result.stderr)
    assert len(set(errors.values())) == 1, errors  # the same message on every lane
    message = errors["arrow"]
    shown = json.dumps(value, separators=(",", ":"))
    assert f"column '{field}'" in message and f"cannot hold value {shown} " in message
    assert "the stream's record 37 in this run (key id=37)" in message
    assert why in message


def test_exact_forms_of_one_value_land_alike_on_every_lane(tmp_path: Path) -> None:
    """What is accepted besides the canonical form: exact, and the same on every lane."""
    sent = messages({}, count=3)
    sent[1]["record"].update(qty=2.0, amount=Decimal("12.5"), ratio=3)  # numbers, exact
    sent[1]["record"].update(meta={"k": [1, Decimal("2.50")]}, code=7)
    sent[2]["record"].update(amount="12.340", tags=["x"], card={"brand": "visa"}, code="A7")
    results = lanes(tmp_path, sent)
    tables = {}
    for name, result in results.items():
        assert result.returncode == 0, (name, result.stderr.decode()[-2000:])
        tables[name] = [{k: r[k] for k in PROPERTIES} for r in rows(tmp_path / name / "lake")]
    assert all(table == tables["arrow"] for table in tables.values())
    first, second, _ = tables["arrow"]
    assert first["qty"] == 2 and first["amount"] == Decimal("12.50") and first["ratio"] == 3.0
    assert second["amount"] == Decimal("12.34") and second["day"] == dt.date(2024, 1, 1)
    assert first["meta"] == '{"k":[1,2.50]}' and (first["code"], second["code"]) == ("7", '"A7"')


def test_a_batch_file_with_numbers_for_text_is_refused_not_formatted(tmp_path: Path) -> None:
    path = tmp_path / "batch.parquet"
    pq.write_table(pa.table({"id": [1, 2], "name": pa.array([10, 20], pa.int64())}), path)
    batch = {
        "type": "BATCH",
        "stream": "orders",
        "encoding": {"format": "parquet", "compression": "none"},
        "manifest": [f"file://{path}"],
    }
    config = {"destination": str(tmp_path / "lake"), "source_name": "s"}
    result = run_target(config, [schema_message("orders", PROPERTIES, ["id"]), batch], tmp_path)
    assert result.returncode != 0
    assert "column 'name' (type string) cannot hold value 10 at row 1 of a BATCH file" in (
        result.stderr
    )
    assert not list((tmp_path / "lake").rglob("*.parquet"))


@pytest.mark.parametrize(
    ("data_type", "value", "why"),
    [
        (pa.string(), {"a": 1}, "a JSON object where"),
        (pa.date32(), "2024-01-15xyz garbage", "not a YYYY-MM-DD date"),
        (pa.date32(), dt.datetime(2024, 1, 15, 23, 0), "a JSON datetime where"),
        (pa.time64("us"), 12, "a JSON number where"),
        (pa.timestamp("us", tz="UTC"), 1700000000, "a JSON number where"),
        (pa.int64(), Decimal("2.5"), "a number with a fraction"),
        (pa.float64(), True, "a JSON boolean where"),
        (pa.decimal128(5, 2), "NaN", "not a decimal number"),
        (pa.decimal128(5, 2), Decimal("1000.00"), "declared precision 5 with scale 2"),
        (pa.list_(pa.string()), "abc", "a JSON string where the SCHEMA declares an array"),
    ],
)
def test_column_array_refuses_a_value_of_another_type(data_type, value, why) -> None:
    field = pa.field("c", data_type)
    with pytest.raises(ColumnConversionError, match=re.escape(why)) as raised:
        column_array("c", [None, value], field)
    assert raised.value.row == 1 and raised.value.column == "c"


@pytest.mark.parametrize(
    ("data_type", "value", "stored"),
    [
        (pa.int64(), Decimal("2.0"), 2),
        (pa.float64(), Decimal("0.5"), 0.5),
        (pa.decimal128(5, 2), "1.230", Decimal("1.23")),
        (pa.decimal128(5, 2), 12, Decimal("12.00")),
        (pa.date32(), "2024-02-29", dt.date(2024, 2, 29)),
    ],
)
def test_column_array_takes_exact_forms_of_one_value(data_type, value, stored) -> None:
    assert column_array("c", [value], pa.field("c", data_type)).to_pylist() == [stored]


def test_conform_table_never_formats_a_number_as_text() -> None:
    table = pa.table({"c": pa.array([5], pa.int64())})
    with pytest.raises(ColumnConversionError, match="a JSON number where"):
        conform_table(table, pa.schema([pa.field("c", pa.string())]))
    with pytest.raises(ColumnConversionError, match="a JSON number where"):
        timestamps = pa.schema([pa.field("c", pa.timestamp("us", tz="UTC"))])
        conform_table(pa.table({"c": pa.array([1700000000], pa.int64())}), timestamps)
    free_form = pa.field(
        "c", pa.string(), metadata={b"x-json": b"true", b"x-json-types": b"object"}
    )
    with pytest.raises(ColumnConversionError, match="declares object"):
        conform_table(table, pa.schema([free_form]))
    widened = conform_table(
        pa.table({"c": pa.array([5], pa.int32())}), pa.schema([pa.field("c", pa.int64())])
    )
    assert widened.column("c").to_pylist() == [5]
