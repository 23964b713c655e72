"""JSON and NDJSON exports through the real tap: the records path, the format override,
bookmarks, S3 and HTTP sources, and the settings' checks."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from pathlib import Path

import pyarrow.fs as pafs

from tests.tap_csv_marketing.conftest import run_csv_tap

EVENT = {
    "event_id": "e1",
    "date": "2025-01-01",
    "platform": "meta",
    "campaign_id": "C1",
    "impressions": 100,
    "clicks": 5,
    "cost": 12.5,
    "attributes": {"age": "18-24"},
}
DAYS = [
    {"date": "2025-01-01", "channel": "email", "planned_budget": 100},
    {"date": "2025-01-02", "channel": "email", "planned_budget": 99.99},
]


def events(*ids: str) -> bytes:
    return "".join(json.dumps({**EVENT, "event_id": i}) + "\n" for i in ids).encode()


def test_budget_plan_reads_the_records_under_days_and_a_path_can_be_set(tmp_path) -> None:
    (tmp_path / "budget_plan_2025.json").write_text(json.dumps({"currency": "USD", "days": DAYS}))
    streams, _, _ = run_csv_tap({"source": str(tmp_path)}, tmp_path)
    assert [
        (r["date"], r["planned_budget"], r["_sdc_source_lineno"]) for r in streams["budget_plan"]
    ] == [
        ("2025-01-01", "100.00", 1),
        ("2025-01-02", "99.99", 2),
    ]
    nested = tmp_path / "nested"
    nested.mkdir()
    (nested / "budget_plan_2025.json").write_text(json.dumps({"plan": {"a.b": 1, "per/day": DAYS}}))
    config = {"source": str(nested), "json_records_paths": {"budget_plan": "/plan/per~1day"}}
    streams, _, _ = run_csv_tap(config, tmp_path)
    assert len(streams["budget_plan"]) == 2
    _, _, result = run_csv_tap({"source": str(nested)}, tmp_path, check=False)
    assert result.returncode != 0
    assert (
        "budget_plan_2025.json: no array of records at '/days' (json_records_paths): the "
        "document is a JSON object" in result.stderr
    )


def test_the_format_can_be_declared_per_stream(tmp_path) -> None:
    (tmp_path / "ad_events_2025.txt").write_bytes(events("e1", "e2"))
    config = {"source": str(tmp_path), "file_patterns": {"ad_events": "ad_events*.txt"}}
    _, _, result = run_csv_tap(config, tmp_path, check=False)
    assert result.returncode != 0 and "missing required column" in result.stderr  # read as CSV
    config["file_formats"] = {"ad_events": "ndjson"}
    streams, _, _ = run_csv_tap(config, tmp_path)
    assert [r["event_id"] for r in streams["ad_events"]] == ["e1", "e2"]


def test_settings_are_checked_before_any_record(tmp_path) -> None:
    config = {"source": str(tmp_path), "file_formats": {"ad_events": "xml"}}
    _, _, result = run_csv_tap(config, tmp_path, check=False)
    assert result.returncode != 0  # the SDK checks allowed_values from config_jsonschema
    assert (
        "'xml' is not one of ('csv', 'json', 'ndjson') in config['file_formats']" in result.stderr
    )
    config = {
        "source": str(tmp_path),
        "json_records_paths": {"budget_plan": "days", "ad_events": "/a.b"},
    }
    _, _, result = run_csv_tap(config, tmp_path, check=False)
    assert result.returncode != 0
    assert (
        "setting 'json_records_paths': budget_plan: 'days' is not a JSON pointer" in result.stderr
    )
    assert "setting 'json_records_paths': ad_events: '/a.b': a key with '.'" in result.stderr
    assert '"type":"RECORD"' not in result.stdout


def test_a_file_is_read_once_and_a_changed_file_again(tmp_path) -> None:
    source = tmp_path / "exports"
    source.mkdir()
    (source / "ad_events_1.ndjson").write_bytes(events("a1", "a2"))
    (source / "ad_events_2.json.gz").write_bytes(gzip.compress(json.dumps([EVENT]).encode()))
    first, states, _ = run_csv_tap({"source": str(source)}, tmp_path)
    assert len(first["ad_events"]) == 3
    again, states_2, result = run_csv_tap({"source": str(source)}, tmp_path, state=states[-1])
    assert not again.get("ad_events") and "ad_events_1.ndjson: unchanged" in result.stderr
    # the same bytes written again (a new mtime): hashed, found the same, skipped
    (source / "ad_events_2.json.gz").write_bytes((source / "ad_events_2.json.gz").read_bytes())
    (source / "ad_events_1.ndjson").write_bytes(events("a1", "a2", "a3"))
    third, _, result = run_csv_tap({"source": str(source)}, tmp_path, state=states_2[-1])
    assert [r["event_id"] for r in third["ad_events"]] == ["a1", "a2", "a3"]
    assert "ad_events_2.json.gz: same content as the last run, skipped" in result.stderr
    bookmark = states_2[-1]["bookmarks"]["ad_events"]["files"][str(source / "ad_events_2.json.gz")]
    stored = (source / "ad_events_2.json.gz").read_bytes()
    assert bookmark["size"] == len(stored)  # the compressed size, as listed


def test_reads_json_and_gzipped_ndjson_from_s3(s3_env, tmp_path) -> None:
    bucket = s3_env["LAKE_BUCKET"]
    prefix = f"json-exports-{uuid.uuid4().hex[:8]}"
    scheme, _, host = s3_env["AWS_ENDPOINT_URL"].partition("://")
    fs = pafs.S3FileSystem(
        access_key=s3_env["AWS_ACCESS_KEY_ID"],
        secret_key=s3_env["AWS_SECRET_ACCESS_KEY"],
        endpoint_override=host,
        scheme=scheme,
        region=s3_env.get("AWS_REGION", "us-east-1"),
    )
    files = {
        "ad_events_1.ndjson.gz": gzip.compress(events("s1", "s2")),
        "budget_plan_1.json": json.dumps({"days": DAYS}).encode(),
    }
    for name, data in files.items():
        with fs.open_output_stream(f"{bucket}/{prefix}/{name}", compression=None) as out:
            out.write(data)
    config = {
        "source": f"s3://{bucket}/{prefix}",
        "s3_endpoint_url": s3_env["AWS_ENDPOINT_URL"],
        "aws_access_key_id": s3_env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": s3_env["AWS_SECRET_ACCESS_KEY"],
    }
    streams, _, result = run_csv_tap(config, tmp_path)
    assert [r["event_id"] for r in streams["ad_events"]] == ["s1", "s2"]
    assert (
        streams["ad_events"][0]["_sdc_source_file"]
        == f"s3://{bucket}/{prefix}/ad_events_1.ndjson.gz"
    )
    assert [r["planned_budget"] for r in streams["budget_plan"]] == ["100.00", "99.99"]
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in result.stderr
    fs.delete_dir(f"{bucket}/{prefix}")


def test_reads_one_ndjson_url_with_its_token_redacted(export_server, tmp_path) -> None:
    export_server.files["/feed/ad_events_2025.ndjson"] = events("h1", "h2") + b"oops\n"
    url = f"{export_server.base_url}/feed/ad_events_2025.ndjson?token=s3cr3t-tok"
    streams, states, result = run_csv_tap({"source": url}, tmp_path)
    shown = f"{export_server.base_url}/feed/ad_events_2025.ndjson?token=***"
    assert [r["event_id"] for r in streams["ad_events"]] == ["h1", "h2"]
    assert {r["_sdc_source_file"] for r in streams["ad_events"]} == {shown}
    (bad,) = streams["ad_events__quarantine"]
    assert (bad["source_file"], bad["line"], bad["reason"]) == (shown, 3, "not_json")
    everything = result.stdout + result.stderr + json.dumps(states)
    assert "s3cr3t-tok" not in everything
    assert os.environ.get("NO_SUCH") is None  # no environment is needed for a URL source


def test_undeclared_fields_reach_the_record_and_stay_exact(tmp_path) -> None:
    line = json.dumps({**EVENT, "coupon": "C7"})[:-1] + ', "rate": 0.1000000000000000055511}\n'
    (tmp_path / "ad_events_x.ndjson").write_text(line)
    _, _, result = run_csv_tap({"source": str(tmp_path)}, tmp_path)
    assert '"coupon":"C7","rate":0.1000000000000000055511' in result.stdout
    schema = next(
        json.loads(text)
        for text in result.stdout.splitlines()
        if '"SCHEMA"' in text and '"ad_events"' in text
    )
    assert schema["schema"]["additionalProperties"] is True
    assert Path(tmp_path / "ad_events_x.ndjson").exists()
