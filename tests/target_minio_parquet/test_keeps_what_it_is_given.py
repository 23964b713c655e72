"""The target keeps what it is given: undeclared RECORD fields land in `_sdc_extra` (the
same on the Arrow lane, the msgspec fallback and the SDK's per-record path), or fail the
run with `strict_schema`; every row carries the run's `_sdc_sync_started_at`."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from target_minio_parquet.undeclared import extra_fields

from tests.target_minio_parquet.conftest import (
    record_message,
    run_target,
    s3_filesystem,
    s3_target_config,
    schema_message,
)
from tests.target_minio_parquet.test_wire_schema import compact, run_compact

DECIMAL = {"type": ["string", "null"], "format": "x-singer.decimal", "precision": 12, "scale": 2}
TYPED = {"id": {"type": "integer"}, "amount": DECIMAL, "name": {"type": ["string", "null"]}}
WITH_JSON_TEXT = {**TYPED, "meta": {"type": ["object", "null"]}}
WARNING = "RECORD fields not declared in the SCHEMA"


def test_extra_fields_keeps_undeclared_keys_in_record_order() -> None:
    records = [
        {"id": 1, "b": [1, Decimal("2.50")], "a": None},
        {"id": 2},
        {"id": 3, "a": {"x": "é"}},
    ]
    column, names = extra_fields(records, frozenset({"id"}))
    assert column.to_pylist() == ['{"b":[1,2.50],"a":null}', None, '{"a":{"x":"é"}}']
    assert names == ["b", "a"]


def sample(count: int, with_meta: bool) -> list[dict]:
    records = []
    for i in range(1, count + 1):
        record = {"id": i, "amount": f"{i}.25", "name": f"n{i}"}
        if with_meta:
            # a shape that varies (number, then text) defeats Arrow's inference
            record["meta"] = [None, {"k": i}, {"k": f"t{i}", "l": [1]}][i % 3]
        if i % 7 == 0:
            record["coupon"] = f"C{i}"
        if i % 150 == 0:
            record["late"] = {"price": Decimal("1.50"), "list": [1, None]}
        records.append(record)
    return records


def rows(lake: Path) -> list[dict]:
    table = ds.dataset(str(lake), format="parquet").to_table()
    return sorted(table.to_pylist(), key=lambda row: row["id"])


@pytest.mark.parametrize("properties", [TYPED, WITH_JSON_TEXT], ids=["typed", "json-text"])
def test_undeclared_fields_land_in_sdc_extra_alike_on_every_lane(
    tmp_path: Path, properties: dict
) -> None:
    records = sample(400, with_meta="meta" in properties)
    messages = [schema_message("orders", properties, ["id"])]
    for record in records:
        messages.append(record_message("orders", record))
        if record["id"] % 100 == 0:  # a commit per 100 records, whatever the lane
            messages.append({"type": "STATE", "value": {"id": record["id"]}})
    base = {"source_name": "s", "state_flush_seconds": 0}

    lane = run_compact({**base, "destination": str(tmp_path / "lane")}, messages, tmp_path)
    sdk_config = {
        **base,
        "destination": str(tmp_path / "sdk"),
        "stream_maps": {"orders": {"__filter__": "True"}},  # the SDK's per-record path
    }
    sdk = run_compact(sdk_config, messages, tmp_path)
    # "record" first: no lane prefix, so each line is decoded to a dict by the reader
    reordered = [dict(reversed(list(m.items()))) for m in messages]
    dicts = run_compact({**base, "destination": str(tmp_path / "dicts")}, reordered, tmp_path)

    results = {"lane": lane, "sdk": sdk, "dicts": dicts}
    lakes = {}
    for name, result in results.items():
        stderr = result.stderr.decode()
        assert result.returncode == 0, stderr[-3000:]
        warnings = [line for line in stderr.splitlines() if WARNING in line]
        assert len(warnings) == 2, (name, warnings)  # coupon first, late when first seen
        assert warnings[0].endswith(": coupon") and warnings[1].endswith(": late")
        lakes[name] = rows(tmp_path / name)

    columns = [*properties, "_sdc_extra", "_sdc_extracted_at", "_sdc_table_version"]
    for name in ("sdk", "dicts"):
        assert [{k: r[k] for k in columns} for r in lakes["lane"]] == [
            {k: r[k] for k in columns} for r in lakes[name]
        ], name
    by_id = {row["id"]: row for row in lakes["lane"]}
    assert len(by_id) == 400
    assert json.loads(by_id[7]["_sdc_extra"]) == {"coupon": "C7"}
    assert by_id[300]["_sdc_extra"] == '{"late":{"price":1.50,"list":[1,null]}}'
    assert by_id[1]["_sdc_extra"] is None
    assert sum(row["_sdc_extra"] is not None for row in lakes["lane"]) == 57 + 2


def test_strict_schema_fails_the_run_naming_the_fields(tmp_path: Path) -> None:
    messages = [schema_message("orders", TYPED, ["id"])]
    messages += [record_message("orders", r) for r in sample(20, with_meta=False)]
    messages.append({"type": "STATE", "value": {"bookmarks": {"orders": {"id": 20}}}})
    config = {
        "destination": str(tmp_path / "lake"),
        "strict_schema": True,
        "state_flush_seconds": 0,
    }
    result = run_compact(config, messages, tmp_path)
    stderr = result.stderr.decode()
    assert result.returncode != 0
    assert "strict_schema" in stderr and "coupon" in stderr and "orders" in stderr
    assert not result.stdout.strip()  # no STATE
    assert not list((tmp_path / "lake").rglob("*.parquet"))


def test_strict_schema_passes_records_that_match_their_schema(tmp_path: Path) -> None:
    messages = [schema_message("orders", TYPED, ["id"])]
    messages += [record_message("orders", {"id": i, "amount": "1.00"}) for i in range(1, 30)]
    config = {"destination": str(tmp_path / "lake"), "strict_schema": True, "source_name": "s"}
    result = run_compact(config, messages, tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert [row["_sdc_extra"] for row in rows(tmp_path / "lake")] == [None] * 29


def test_extras_and_the_sync_start_on_the_s3_endpoint(
    tmp_path: Path, s3_env: dict[str, str]
) -> None:
    prefix = f"{s3_env['LAKE_BUCKET']}/target-tests/{tmp_path.name}"
    config = s3_target_config(s3_env, f"s3://{prefix}", source_name="s", max_buffer_rows=40)
    messages = [schema_message(name, TYPED, ["id"]) for name in ("a", "b")]
    for record in sample(120, with_meta=False):
        messages += [record_message("a", record), record_message("b", record)]
    before = int(time.time() * 1000)
    result = run_target(config, messages, tmp_path)
    after = int(time.time() * 1000)
    assert result.returncode == 0, result.stderr[-3000:]
    fs = s3_filesystem(s3_env)
    dataset = ds.dataset(f"{prefix}/s", filesystem=fs, format="parquet")
    assert len(dataset.files) >= 6  # several buffers, both streams
    table = dataset.to_table()
    assert table.num_rows == 240
    assert table.schema.field("_sdc_sync_started_at").type == pa.int64()
    started = set(table.column("_sdc_sync_started_at").to_pylist())
    assert len(started) == 1 and before <= next(iter(started)) <= after
    extras = [json.loads(text) for text in table.column("_sdc_extra").drop_null().to_pylist()]
    assert sorted(e["coupon"] for e in extras if "coupon" in e) == sorted(
        f"C{i}" for i in range(7, 121, 7) for _ in "ab"
    )


def test_batch_files_keep_undeclared_fields_too(tmp_path: Path) -> None:
    jsonl = tmp_path / "batch.jsonl"
    jsonl.write_text(
        json.dumps({"id": 1, "amount": "1.00", "coupon": "X"})
        + "\n"
        + json.dumps({"id": 2, "amount": "2.00"})
        + "\n"
    )
    messages = [
        schema_message("orders", TYPED, ["id"]),
        {
            "type": "BATCH",
            "stream": "orders",
            "encoding": {"format": "jsonl", "compression": "none"},
            "manifest": [f"file://{jsonl}"],
        },
    ]
    lake = tmp_path / "lake"
    result = run_target({"destination": str(lake), "source_name": "s"}, messages, tmp_path)
    assert result.returncode == 0, result.stderr
    assert [row["_sdc_extra"] for row in rows(lake)] == ['{"coupon":"X"}', None]
    assert WARNING in result.stderr and "coupon" in result.stderr


def test_compact_helper_is_what_sdk_taps_write() -> None:
    line = compact(record_message("s", {"id": 1, "x": Decimal("1.10")}))
    assert line.startswith(b'{"type":"RECORD","stream":"s","record":{"id":1,"x":1.10}')


def test_undeclared_fields_whose_shape_varies_across_arrow_blocks(tmp_path: Path) -> None:
    """Arrow infers undeclared fields per block; shapes that differ between blocks must
    send the buffer to msgspec, not crash or lose them."""
    messages = [schema_message("orders", TYPED, ["id"])]
    for i in range(1, 20001):
        odd = [{"k": i}, [f"v{i}"], f"text {i}", None][(i * 4) // 20001]
        messages.append(record_message("orders", {"id": i, "amount": "1.00", "odd": odd}))
    result = run_compact(
        {"destination": str(tmp_path / "lake"), "source_name": "s"}, messages, tmp_path
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    by_id = {row["id"]: row for row in rows(tmp_path / "lake")}
    assert len(by_id) == 20000
    assert json.loads(by_id[1]["_sdc_extra"]) == {"odd": {"k": 1}}
    assert json.loads(by_id[6000]["_sdc_extra"]) == {"odd": ["v6000"]}
    assert json.loads(by_id[12000]["_sdc_extra"]) == {"odd": "text 12000"}
    assert json.loads(by_id[19000]["_sdc_extra"]) == {"odd": None}
