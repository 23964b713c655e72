"""Run profiles: computed by the real target from what it commits, recorded in the manifest
(elt-monitor's input for column-level checks), and equal to the same figures computed
independently from the Parquet files the run wrote."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from elt_monitor.log_formats import TARGET_RUN_STARTED
from target_minio_parquet.profile import RunProfiler, choose_event_field, column_kind

from tests.target_minio_parquet.conftest import record_message, run_target, schema_message

PROPERTIES = {
    "id": {"type": "integer"},
    "created_at": {"type": "string", "format": "date-time"},
    "amount": {"type": ["number", "null"], "multipleOf": 0.01, "maximum": 1e12},
    "currency": {"type": ["string", "null"]},
    "email": {"type": ["string", "null"]},
}


def _orders(count: int, start: int = 0) -> list[dict]:
    day = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    return [
        {
            "id": start + i,
            "created_at": (day + dt.timedelta(hours=7 * i)).isoformat(),
            "amount": f"{10 + i}.{i % 100:02d}",
            "currency": "usd" if i % 5 else "eur",
            "email": None if i % 4 == 0 else f"user{i}@example.com",
        }
        for i in range(count)
    ]


def _manifest(lake: Path, stream: str) -> dict:
    [path] = lake.glob(f"_meta/manifests/source=*/stream={stream}/*.jsonl")
    return json.loads(path.read_text())


def test_manifest_profile_matches_the_committed_files(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    records = _orders(300)
    # a duplicate key inside the run is counted, not dropped
    records.append(dict(records[3]))
    messages = [schema_message("orders", PROPERTIES, key=["id"])]
    messages += [json.loads(json.dumps(record_message("orders", r))) for r in records]
    config = {"destination": str(lake), "source_name": "shop", "max_rows_per_file": 120}
    result = run_target(config, messages, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = _manifest(lake, "orders")
    profile = manifest["profile"]
    assert manifest["received_rows"] == len(records) == manifest["total_rows"]

    table = ds.dataset(str(lake / "shop" / "orders"), format="parquet").to_table()
    assert profile["rows"] == table.num_rows
    assert profile["event_field"] == "created_at"
    days = pc.strftime(table["created_at"], format="%Y-%m-%d")
    expected_days = {v["values"]: v["counts"] for v in pc.value_counts(days).to_pylist()}
    assert profile["event_dates"] == dict(sorted(expected_days.items()))
    hours = pc.value_counts(pc.hour(table["created_at"])).to_pylist()
    assert profile["event_hours"] == [
        next((h["counts"] for h in hours if h["values"] == hour), 0) for hour in range(24)
    ]
    amount = profile["columns"]["amount"]
    assert Decimal(amount["sum"]) == sum(Decimal(r["amount"]) for r in records)
    assert amount["kind"] == "decimal"
    assert (amount["min"], amount["max"]) == ("10.00", str(pc.max(table["amount"]).as_py()))
    assert profile["columns"]["email"]["nulls"] == table["email"].null_count > 0
    assert "values" not in profile["columns"]["email"]  # identifiers are no category
    assert profile["columns"]["currency"]["values"] == {
        "usd": sum(r["currency"] == "usd" for r in records),
        "eur": sum(r["currency"] == "eur" for r in records),
    }
    assert profile["key_duplicates"] == 1
    assert not any(name.startswith("_sdc_") for name in profile["columns"])


def test_declared_event_field_wins_and_stream_without_time_has_none(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    properties = {**PROPERTIES, "paid_at": {"type": ["string", "null"], "format": "date-time"}}
    records = [{**r, "paid_at": "2024-12-31T23:00:00+00:00"} for r in _orders(10)]
    messages = [schema_message("orders", properties, key=["id"])]
    messages += [record_message("orders", r) for r in records]
    messages += [schema_message("tags", {"name": {"type": "string"}})]
    messages += [record_message("tags", {"name": "a"})]
    config = {
        "destination": str(lake),
        "source_name": "shop",
        "event_time_fields": {"orders": "paid_at"},
    }
    assert run_target(config, messages, tmp_path).returncode == 0
    assert _manifest(lake, "orders")["profile"]["event_dates"] == {"2024-12-31": 10}
    tags = _manifest(lake, "tags")["profile"]
    assert tags["event_field"] is None and tags["event_dates"] == {}
    assert tags["key_duplicates"] is None  # no key declared: nothing to count


def test_the_run_id_is_logged_before_any_file(tmp_path: Path) -> None:
    """A run that commits nothing still names its run id (elt-monitor attributes the
    tap's counts by it)."""
    lake = tmp_path / "lake"
    messages = [schema_message("orders", PROPERTIES, key=["id"])]
    result = run_target({"destination": str(lake), "source_name": "shop"}, messages, tmp_path)
    assert result.returncode == 0
    manifest = _manifest(lake, "orders")
    assert manifest["total_rows"] == 0 and manifest["received_rows"] == 0
    started = [m for m in map(TARGET_RUN_STARTED.search, result.stderr.splitlines()) if m]
    assert [(m["run"], m["source"]) for m in started] == [(manifest["run_id"], "shop")]


@pytest.mark.parametrize(
    ("data_type", "kind"),
    [
        (pa.decimal128(18, 2), "decimal"),
        (pa.int64(), "number"),
        (pa.float64(), "number"),
        (pa.timestamp("us", tz="UTC"), "time"),
        (pa.date32(), "time"),
        (pa.string(), "text"),
        (pa.bool_(), "bool"),
        (pa.list_(pa.string()), "other"),
    ],
)
def test_column_kind(data_type: pa.DataType, kind: str) -> None:
    assert column_kind(data_type) == kind


def test_choose_event_field() -> None:
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("updated_at", pa.timestamp("us", tz="UTC")),
            ("created", pa.timestamp("us", tz="UTC")),
            ("note", pa.string()),
        ]
    )
    assert choose_event_field(schema) == "created"
    assert choose_event_field(schema, bookmark="updated_at") == "updated_at"
    assert choose_event_field(schema, declared="created", bookmark="updated_at") == "created"
    assert choose_event_field(schema, declared="note") == "created"  # not a time: ignored
    assert choose_event_field(pa.schema([("id", pa.int64())])) is None


def test_profiler_merges_tables_and_drops_categories_that_grow_too_many() -> None:
    profiler = RunProfiler("day", ["id"], track_keys=True)
    first = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "day": pa.array([dt.date(2025, 1, 1), dt.date(2025, 1, 2)]),
            "status": ["a", "b"],
        }
    )
    second = pa.table(
        {
            "id": pa.array([2, 3], pa.int64()),
            "day": pa.array([dt.date(2025, 1, 2), None]),
            "status": [f"s{i}" for i in range(2)],
        }
    )
    profiler.observe(first)
    profiler.observe(second)
    many = pa.table(
        {
            "id": pa.array(range(10, 40), pa.int64()),
            "day": pa.array([dt.date(2025, 1, 3)] * 30),
            "status": [f"x{i}" for i in range(30)],
        }
    )
    profiler.observe(many)
    summary = profiler.summary()
    assert summary["rows"] == 34
    assert summary["event_dates"] == {"2025-01-01": 1, "2025-01-02": 2, "2025-01-03": 30}
    assert summary["event_hours"] is None  # dates have no hour
    assert summary["key_duplicates"] == 1
    assert summary["columns"]["id"]["sum"] == 1 + 2 + 2 + 3 + sum(range(10, 40))
    assert "values" not in summary["columns"]["status"]


def test_event_days_and_hours_by_arithmetic_match_the_calendar() -> None:
    """Days and hours come from the instant's arithmetic (not per-value formatting):
    the same as the calendar's, before 1970 too, for every timestamp unit."""
    moments = [
        dt.datetime(1969, 12, 31, 23, 30, tzinfo=dt.UTC),
        dt.datetime(1970, 1, 1, 0, 0, tzinfo=dt.UTC),
        dt.datetime(2025, 3, 9, 7, 59, 59, 999999, tzinfo=dt.UTC),
    ]
    for unit in ("s", "ms", "us", "ns"):
        profiler = RunProfiler("t", [], track_keys=False)
        values = [m.replace(microsecond=0) if unit == "s" else m for m in moments]
        profiler.observe(pa.table({"t": pa.array(values, pa.timestamp(unit, tz="UTC"))}))
        summary = profiler.summary()
        assert summary["event_dates"] == {"1969-12-31": 1, "1970-01-01": 1, "2025-03-09": 1}
        assert [h for h, n in enumerate(summary["event_hours"]) if n] == [0, 7, 23], unit
