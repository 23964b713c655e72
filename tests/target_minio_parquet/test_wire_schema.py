"""The Arrow JSON lane: the pure wire-schema functions, and the real target fed compact
RECORD lines (the exact bytes SDK taps write), against the msgspec path on the same data."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from decimal import Decimal
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import simplejson
from target_minio_parquet.arrow_schema import JSON_TEXT_KEY
from target_minio_parquet.reader import RecordEnvelope, record_prefix
from target_minio_parquet.wire_schema import (
    JsonTextReader,
    json_text_fields,
    parse_record_lines,
    wire_schema,
    wire_type,
)

from tests.target_minio_parquet.conftest import TARGET, record_message, schema_message

DECIMAL = {"type": ["string", "null"], "format": "x-singer.decimal", "precision": 12, "scale": 2}
PROPERTIES = {
    "id": {"type": "integer"},
    "amount": DECIMAL,
    "ratio": {"type": ["number", "null"]},
    "paid": {"type": ["boolean", "null"]},
    "at": {"type": ["string", "null"], "format": "date-time"},
    "day": {"type": ["string", "null"], "format": "date"},
    "name": {"type": ["string", "null"]},
    "card": {
        "type": ["object", "null"],
        "properties": {"brand": {"type": ["string", "null"]}, "exp_year": {"type": "integer"}},
    },
    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
    "meta": {"type": ["object", "null"]},  # free-form: JSON text, read by msgspec
}


def lake_schema(fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(
        [
            *fields,
            pa.field("_sdc_extracted_at", pa.timestamp("us", tz="UTC")),
            pa.field("_sdc_sequence", pa.int64()),
            pa.field("_sdc_table_version", pa.int64()),
        ]
    )


@pytest.mark.parametrize(
    ("data_type", "expected"),
    [
        (pa.int64(), pa.int64()),
        (pa.float64(), pa.float64()),
        (pa.bool_(), pa.bool_()),
        (pa.string(), pa.string()),
        (pa.decimal128(12, 2), pa.string()),
        (pa.timestamp("us", tz="UTC"), pa.string()),
        (pa.date32(), pa.string()),
        (pa.time64("us"), pa.string()),
        (pa.struct([("a", pa.int64())]), pa.struct([("a", pa.int64())])),
        (pa.list_(pa.string()), pa.list_(pa.string())),
        (pa.struct([("a", pa.decimal128(5, 2))]), None),  # nested casts: msgspec path
        (pa.list_(pa.timestamp("us", tz="UTC")), None),
    ],
)
def test_wire_type(data_type: pa.DataType, expected: pa.DataType | None) -> None:
    assert wire_type(pa.field("c", data_type)) == expected


def test_json_text_columns_are_left_to_msgspec() -> None:
    json_text = pa.field("meta", pa.string(), metadata={JSON_TEXT_KEY: "1"})
    payload = lake_schema([pa.field("id", pa.int64()), json_text])
    assert wire_type(json_text) is None
    schema = wire_schema(payload)
    assert schema is not None and schema.field("record").type == pa.struct([("id", pa.int64())])
    assert json_text_fields(payload) == ["meta"]
    line = compact(
        record_message("s", {"id": 1, "meta": {"a": [1, Decimal("2.50"), None], "b": "x"}})
    )
    columns = JsonTextReader(["meta"]).columns([line, compact(record_message("s", {"id": 2}))])
    assert columns is not None
    assert columns["meta"].to_pylist() == ['{"a":[1,2.50,null],"b":"x"}', None]


def test_wire_schema_reads_envelope_columns_from_the_message() -> None:
    schema = wire_schema(lake_schema([pa.field("id", pa.int64())]))
    assert schema is not None
    assert schema.names == ["record", "time_extracted", "version"]
    assert schema.field("record").type == pa.struct([("id", pa.int64())])


def compact(message: dict) -> bytes:
    """A message as an SDK tap writes it (simplejson, compact, decimals as numbers)."""
    text = simplejson.dumps(message, separators=(",", ":"), ensure_ascii=False, use_decimal=True)
    return text.encode() + b"\n"


WIRE = wire_schema(
    lake_schema([pa.field("id", pa.int64()), pa.field("amount", pa.decimal128(12, 2))])
)


def test_parse_keeps_decimal_text_and_envelope_values() -> None:
    lines = [
        compact({**record_message("s", {"id": 1, "amount": "0.10", "extra": [1]}), "version": 7}),
        compact(record_message("s", {"id": 2, "amount": None})),
    ]
    parsed = parse_record_lines(lines, WIRE)
    assert parsed is not None
    assert parsed.column("amount").to_pylist() == ["0.10", None]
    assert parsed.column("_sdc_table_version").to_pylist() == [7, None]
    assert parsed.column("_sdc_extracted_at").to_pylist()[0].startswith("2026-01-02T03:04:05")


@pytest.mark.parametrize(
    "line",
    [
        b'{"type":"RECORD","stream":"s","record":{"id":1,"amount":12.5}}\n',  # number as text
        b'{"type":"RECORD","stream":"s","record":{"id":1.5,"amount":"1"}}\n',  # fraction
        b'{"type":"RECORD","stream":"s","record":{"id":1,"id":2}}\n',  # key given twice
        b'{"type":"RECORD","stream":"s","record":{"id":1,"amount":"1"\n',  # truncated
        b'{"type":"RECORD","stream":"s","record":null}\n',
    ],
)
def test_anything_arrow_cannot_parse_exactly_is_declined(line: bytes) -> None:
    good = compact(record_message("s", {"id": 1, "amount": "1.00"}))
    assert parse_record_lines([good, line], WIRE) is None


def run_compact(config: dict, messages: list[dict], tmp_path: Path) -> subprocess.CompletedProcess:
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    payload = b"".join(compact(m) for m in messages)
    return subprocess.run(
        [TARGET, "--config", str(config_file)], input=payload, capture_output=True, timeout=300
    )


def lake_rows(lake: Path) -> list[dict]:
    table = ds.dataset(str(lake / "s"), format="parquet").to_table()
    return sorted(table.to_pylist(), key=lambda row: row["id"])


def sample_records(count: int) -> list[dict]:
    start = dt.datetime(2025, 3, 30, 0, 59, 59, 999999, tzinfo=dt.UTC)
    return [
        {
            "id": i,
            "amount": f"{(i * 7919) % 100000 - 50000}.{i % 100:02d}",
            "ratio": i / 7,
            "paid": i % 3 == 0,
            "at": (start + dt.timedelta(microseconds=i * 1_000_001)).isoformat(),
            "day": f"2025-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
            "name": f"Zoë 東京 🚀 {i}" if i % 5 else None,
            "card": {"brand": "visa", "exp_year": 2030 + i % 5} if i % 4 else None,
            "tags": ["a", str(i)] if i % 2 else [],
            "meta": {"n": i, "price": Decimal(f"{i}.10"), "l": [None, "é"]} if i % 3 else None,
        }
        for i in range(1, count + 1)
    ]


def test_compact_lines_take_the_arrow_lane_and_match_the_sdk_path(tmp_path: Path) -> None:
    records = sample_records(3000)
    messages = [schema_message("orders", PROPERTIES, ["id"])]
    messages += [record_message("orders", r) for r in records]
    first = compact(messages[1])
    prefix = record_prefix(first, msgspec.json.decode(first, type=RecordEnvelope))
    assert prefix == b'{"type":"RECORD","stream":"orders","record":'

    lane = run_compact({"destination": str(tmp_path / "a"), "source_name": "s"}, messages, tmp_path)
    assert lane.returncode == 0, lane.stderr.decode()
    # stream maps send every record down the SDK's dict path: the reference
    sdk_config = {
        "destination": str(tmp_path / "b"),
        "source_name": "s",
        "stream_maps": {"orders": {"__filter__": "True"}},
    }
    sdk = run_compact(sdk_config, messages, tmp_path)
    assert sdk.returncode == 0, sdk.stderr.decode()

    fast, reference = lake_rows(tmp_path / "a"), lake_rows(tmp_path / "b")
    assert len(fast) == len(reference) == 3000
    payload = [*PROPERTIES, "_sdc_extracted_at", "_sdc_table_version"]
    for got, want in zip(fast, reference, strict=True):
        assert {k: got[k] for k in payload} == {k: want[k] for k in payload}
    assert sum(row["amount"] for row in fast) == sum(Decimal(r["amount"]) for r in records)
    assert fast[0]["at"] == dt.datetime(2025, 3, 30, 1, 0, 1, 0, tzinfo=dt.UTC)


def test_a_decimal_sent_as_a_json_number_falls_back_and_stays_exact(tmp_path: Path) -> None:
    messages = [schema_message("orders", {"id": {"type": "integer"}, "amount": DECIMAL}, ["id"])]
    messages += [record_message("orders", {"id": i, "amount": f"{i}.25"}) for i in range(1, 50)]
    payload = b"".join(compact(m) for m in messages)
    payload += b'{"type":"RECORD","stream":"orders","record":{"id":50,"amount":0.1}}\n'
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"destination": str(tmp_path / "lake"), "source_name": "s"}))
    result = subprocess.run(
        [TARGET, "--config", str(config_file)], input=payload, capture_output=True, timeout=300
    )
    assert result.returncode == 0, result.stderr.decode()
    rows = lake_rows(tmp_path / "lake")
    assert [row["id"] for row in rows] == list(range(1, 51))
    assert rows[-1]["amount"] == Decimal("0.10")
    assert sum(row["amount"] for row in rows) == sum(
        Decimal(f"{i}.25") for i in range(1, 50)
    ) + Decimal("0.1")


def test_a_malformed_line_inside_a_run_of_records_stops_before_any_file_or_state(
    tmp_path: Path,
) -> None:
    messages = [schema_message("orders", {"id": {"type": "integer"}}, ["id"])]
    messages += [record_message("orders", {"id": i}) for i in range(1, 20)]
    payload = b"".join(compact(m) for m in messages)
    payload += b'{"type":"RECORD","stream":"orders","record":{"id":20,\n'
    payload += compact({"type": "STATE", "value": {"bookmarks": {"orders": {"id": 20}}}})
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"destination": str(tmp_path / "lake"), "source_name": "s"}))
    result = subprocess.run(
        [TARGET, "--config", str(config_file)], input=payload, capture_output=True, timeout=300
    )
    assert result.returncode != 0
    assert b"Unable to parse line as JSON" in result.stderr and b'"id":20,' in result.stderr
    assert b"STATE" not in result.stdout and not result.stdout.strip()
    assert not list((tmp_path / "lake").rglob("*.parquet"))


def test_a_failed_background_commit_stops_the_run_before_any_later_state(tmp_path: Path) -> None:
    messages = [schema_message("orders", {"id": {"type": "integer"}, "amount": DECIMAL}, ["id"])]
    messages += [record_message("orders", {"id": i, "amount": "1.00"}) for i in range(1, 40)]
    messages.append(record_message("orders", {"id": 40, "amount": "1.234"}))  # too many digits
    messages += [record_message("orders", {"id": i, "amount": "2.00"}) for i in range(41, 200)]
    messages.append({"type": "STATE", "value": {"bookmarks": {"orders": {"id": 199}}}})
    config = {
        "destination": str(tmp_path / "lake"),
        "source_name": "s",
        "max_buffer_rows": 50,  # the bad row's buffer is committed mid-stream
        "state_flush_seconds": 0,
    }
    result = run_compact(config, messages, tmp_path)
    assert result.returncode != 0
    assert b"amount" in result.stderr and b"1.234" in result.stderr
    assert not result.stdout.strip()  # no STATE: what follows the bad row is not durable
    committed = list((tmp_path / "lake").rglob("*.parquet"))
    rows = sum(pq.read_metadata(path).num_rows for path in committed)
    assert rows < 40  # only buffers before the bad one may have been committed


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            b'{"type": "RECORD", "stream": "a b", "record": {"id": 1}}\n',
            b'{"type": "RECORD", "stream": "a b", "record": ',
        ),
        (
            b'{"stream":"s","type":"RECORD","version":3,"record":{"id":1}}\n',
            b'{"stream":"s","type":"RECORD","version":3,"record":',
        ),
        (b'{"record":{"id":1},"type":"RECORD","stream":"s"}\n', None),  # record first: no prefix
    ],
)
def test_record_prefix_holds_exactly_the_type_and_stream(
    line: bytes, expected: bytes | None
) -> None:
    head = msgspec.json.decode(line, type=RecordEnvelope)
    assert record_prefix(line, head) == expected


def test_spaced_lines_and_other_key_orders_land_like_compact_ones(tmp_path: Path) -> None:
    schema = schema_message("orders", {"id": {"type": "integer"}, "amount": DECIMAL}, ["id"])
    spaced = [json.dumps(schema)]
    for i in range(1, 301):
        message = record_message("orders", {"id": i, "amount": f"{i}.10"})
        spaced.append(
            json.dumps(message) if i % 100 else json.dumps(dict(reversed(list(message.items()))))
        )
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"destination": str(tmp_path / "lake"), "source_name": "s"}))
    result = subprocess.run(
        [TARGET, "--config", str(config_file)],
        input="\n".join(spaced).encode() + b"\n",
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()
    rows = lake_rows(tmp_path / "lake")
    assert [row["id"] for row in rows] == list(range(1, 301))
    assert sum(row["amount"] for row in rows) == sum(Decimal(f"{i}.10") for i in range(1, 301))


def test_a_failed_commit_among_several_streams_is_never_lost(tmp_path: Path) -> None:
    properties = {"id": {"type": "integer"}, "amount": DECIMAL}
    messages = [schema_message(name, properties, ["id"]) for name in ("a", "b", "c")]
    for i in range(1, 31):
        for name in ("a", "b", "c"):
            amount = "9.999" if (name, i) == ("b", 17) else "1.00"  # one value that cannot fit
            messages.append(record_message(name, {"id": i, "amount": amount}))
    messages.append({"type": "STATE", "value": {"bookmarks": {"c": {"id": 30}}}})
    config = {"destination": str(tmp_path / "lake"), "source_name": "s", "state_flush_seconds": 0}
    result = run_compact(config, messages, tmp_path)
    assert result.returncode != 0
    assert b"9.999" in result.stderr
    assert not result.stdout.strip()  # the STATE never goes out
    assert not list((tmp_path / "lake").rglob("b/**/*.parquet"))
