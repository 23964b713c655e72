"""Edge values of every supported type, compared value by value with what the tap emits."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow.parquet as pq

from tests.tap_ecommerce_postgres.conftest import records, run_tap
from tests.tap_ecommerce_postgres.test_batch import run_pipe

SETUP = """
drop table if exists fidelity;
drop type if exists mood;
create type mood as enum ('sad', 'ok', 'happy');
create table fidelity (
    id int primary key,
    small smallint, big bigint, money_exact numeric(38, 10), free_numeric numeric,
    real_value real, double_value double precision, flag boolean,
    naive timestamp, zoned timestamptz, day date, clock time,
    doc json, docb jsonb, ints int[], texts text[], uid uuid, raw bytea, feeling mood, note text,
    floats float8[], amounts numeric(10, 2)[]
);
insert into fidelity values
 (1, -32768, 9223372036854775807, 1234567890123456789012345678.0123456789, 0.000000000000000000001,
  1.5, 2.25, true, '2025-03-09 02:30:00.123456', '2025-11-28 23:59:59.999999-05', '2024-02-29',
  '23:59:59.999999', '{"a": [1, {"b": null}]}', '{"z": {"y": "ü"}}', '{1,2,null}', '{"a,b",""}',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff', 'happy', 'Zoë 東京 🚀 "quoted" \\ back',
  '{1.5,NaN,-Infinity,null}', '{12.30,NaN,null}'),
 (2, null, null, 'NaN', 'NaN', 'NaN', 'Infinity', false, 'infinity', '-infinity', 'infinity',
  null, 'null', '[]', '{}', '{}', null, null, null, '', '{}', null),
 (3, 0, 0, -0.0000000001, -1e-3, 0, 0, null, '0001-01-01 00:00:00', '9999-12-31 23:59:59.999999+00',
  '0001-01-01', '00:00:00', '3', '"text"', null, null, null, '\\x', 'sad', null, null, '{}'),
 (4, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
  null, null, null, null, null, null);
"""


def test_every_type_keeps_its_value(tap_config, scratch_conn, tmp_path) -> None:
    scratch_conn.execute(SETUP)
    messages, _ = run_tap(tap_config, tmp_path)
    rows = {row["id"]: row for row in records(messages, "public-fidelity")}
    schema = next(m for m in messages if m["type"] == "SCHEMA" and m["stream"] == "public-fidelity")
    properties = schema["schema"]["properties"]
    one, two, three = rows[1], rows[2], rows[3]
    # NULL stays NULL in every type (a timestamp's infinity clamp once turned it into 0001)
    assert {n: v for n, v in rows[4].items() if n != "id" and v is not None} == {}

    assert one["small"] == -32768 and one["big"] == 9223372036854775807
    assert one["money_exact"] == "1234567890123456789012345678.0123456789"
    assert properties["money_exact"]["x-sql-datatype-properties"] == {"precision": 38, "scale": 10}
    # the suite-wide convention, read by target-minio-parquet as decimal128(38, 10)
    assert properties["money_exact"]["format"] == "x-singer.decimal"
    assert (properties["money_exact"]["precision"], properties["money_exact"]["scale"]) == (38, 10)
    assert one["free_numeric"] == "0.000000000000000000001"
    assert "precision" not in properties["free_numeric"]
    assert three["money_exact"] == "-0.0000000001"
    assert two["money_exact"] is None and two["free_numeric"] is None  # NaN -> null
    assert one["real_value"] == 1.5 and one["double_value"] == 2.25
    assert two["real_value"] is None and two["double_value"] is None  # NaN, Infinity -> null
    assert one["floats"] == [1.5, None, None, None]  # elements mapped like scalars
    assert one["amounts"] == ["12.30", None, None]
    assert two["floats"] == [] and two["amounts"] is None and three["amounts"] == []
    assert one["flag"] is True and two["flag"] is False and three["flag"] is None

    assert one["naive"] == "2025-03-09T02:30:00.123456+00:00"
    assert one["zoned"] == "2025-11-29T04:59:59.999999+00:00"
    assert two["naive"] == "9999-12-31T23:59:59.999999+00:00"  # +infinity clamped
    assert two["zoned"] == "0001-01-01T00:00:00+00:00"  # -infinity clamped
    assert three["naive"] == "0001-01-01T00:00:00+00:00"
    assert three["zoned"] == "9999-12-31T23:59:59.999999+00:00"
    assert one["day"] == "2024-02-29" and two["day"] == "9999-12-31"
    assert three["day"] == "0001-01-01"
    assert one["clock"] == "23:59:59.999999"
    assert properties["clock"]["format"] == "time"

    assert one["doc"] == {"a": [1, {"b": None}]} and one["docb"] == {"z": {"y": "ü"}}
    assert two["docb"] == [] and three["doc"] == 3 and three["docb"] == "text"
    assert one["ints"] == [1, 2, None] and one["texts"] == ["a,b", ""]
    assert two["ints"] == [] and three["ints"] is None
    assert properties["ints"]["items"]["type"] == ["integer", "null"]
    assert one["uid"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert one["raw"] == "\\x00ff" and three["raw"] == "\\x"
    assert one["feeling"] == "happy"
    assert one["note"] == 'Zoë 東京 🚀 "quoted" \\ back' and two["note"] == ""


def test_every_type_lands_in_the_lake(tap_config, scratch_conn, tmp_path) -> None:
    """The same edge values through the real target: nothing the tap emits is refused."""
    scratch_conn.execute(SETUP)
    lake = tmp_path / "lake"
    (tmp_path / "tap.json").write_text(json.dumps(tap_config))
    (tmp_path / "target.json").write_text(
        json.dumps({"destination": str(lake), "source_name": "shop"})
    )
    run_pipe(tmp_path / "tap.json", tmp_path / "target.json")
    rows = {row["id"]: row for row in pq.read_table(lake / "shop" / "public-fidelity").to_pylist()}
    assert rows[1]["money_exact"] == Decimal("1234567890123456789012345678.0123456789")
    assert rows[1]["floats"] == [1.5, None, None, None]
    # information_schema has no precision for array elements: exact text, not decimal128
    assert rows[1]["amounts"] == ["12.30", None, None]
    assert rows[2]["real_value"] is None and rows[2]["money_exact"] is None
    assert json.loads(rows[1]["docb"]) == {"z": {"y": "ü"}}
    assert rows[1]["note"] == 'Zoë 東京 🚀 "quoted" \\ back'
    assert rows[3]["zoned"] == dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
    partition = {"id", "extracted_date"}  # the target's Hive partition column
    columns = [n for n in rows[4] if n not in partition and not n.startswith("_sdc_")]
    assert {n: rows[4][n] for n in columns if rows[4][n] is not None} == {}
