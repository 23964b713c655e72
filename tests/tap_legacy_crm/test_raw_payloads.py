"""tap-legacy-crm's raw payloads: kept as received without secrets, bounded, expired, and
replayed to the same records with no request to the CRM."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import socket
from pathlib import Path

from elt_sandbox.crm_api.__main__ import DEFAULT_TOKEN
from elt_sandbox.services.s3 import s3_client

from tests.tap_legacy_crm.conftest import crm_config, run_crm_tap

SOURCE = "tap-legacy-crm"


def dead_url() -> str:
    """A loopback URL on which nothing listens (a port just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def run_folders(lake: Path) -> list[Path]:
    return sorted(p for p in (lake / "_raw" / SOURCE).iterdir() if p.is_dir())


def manifest(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def test_every_body_is_kept_gzipped_with_its_manifest_row_and_no_token(
    crm_server, crm_expected_ids, tmp_path
) -> None:
    """On a CRM of its own without injected faults: the session's CRM draws a malformed
    page now and then (depending on the requests before), whose kept body is a rejected
    row of its own and not one of the pages the tap counts."""
    lake = tmp_path / "lake"
    base_url = crm_server()
    config = crm_config(base_url, raw_payloads=True, raw_payloads_location=str(lake))
    records, _, result = run_crm_tap(config, tmp_path)
    (folder,) = run_folders(lake)
    rows = manifest(folder)
    assert len(rows) == int(result.stderr.split("pages requested=")[1].split()[0])
    ids = set()
    for row in rows:
        assert row["extraction_method"] == "api_json" and row["stream"] == "customers"
        assert row["status"] == 200 and row["accepted"] and row["stored"]
        assert row["url"].startswith(base_url + "/api/v1/customers?page=")
        dt.datetime.fromisoformat(row["request_time"])
        body = gzip.decompress((folder / row["object"]).read_bytes())
        assert len(body) == row["size"]
        assert hashlib.sha256(body).hexdigest() == row["sha256"]
        ids.update(int(str(r["id"]).strip()) for r in json.loads(body)["data"])
    assert ids == set(crm_expected_ids) == {r["id"] for r in records}
    run = json.loads((folder / "run.json").read_text())
    assert run["finished"] and run["payloads"] == len(rows)
    for path in folder.rglob("*"):
        data = path.read_bytes()
        assert DEFAULT_TOKEN.encode() not in (
            gzip.decompress(data) if path.suffix == ".gz" else data
        )
    assert DEFAULT_TOKEN not in result.stderr


def test_a_replay_emits_the_live_runs_records_without_a_request(
    crm_server, crm_expected_ids, tmp_path
) -> None:
    """The flaky API is why replay exists: the live run retries 5xx, malformed and wrong
    pages; the replay gets only the accepted bodies, from a dead URL."""
    lake = tmp_path / "lake"
    base = crm_server("--rate-5xx", "0.2", "--rate-malformed", "0.2", "--sticky-page", "3:2")
    live_config = crm_config(base, raw_payloads=True, raw_payloads_location=str(lake))
    live, _, live_result = run_crm_tap(live_config, tmp_path)
    assert sorted(r["id"] for r in live) == crm_expected_ids
    (folder,) = run_folders(lake)
    rows = manifest(folder)
    rejected = [row for row in rows if not row["accepted"]]
    assert rejected, "the fault server refused no body: nothing was retried"
    assert {row["rejected_because"] for row in rejected} & {"500", "503", "malformed_body"}

    replay_config = crm_config(
        dead_url(), raw_payloads_location=str(lake), replay_run=folder.name, max_retries=0
    )
    replayed, states, result = run_crm_tap(replay_config, tmp_path)
    assert replayed == live  # record for record, in the API's order
    assert "reconciled=yes" in result.stderr and "retries_by_cause={}" in result.stderr
    assert (
        f"Replay of run {folder.name}: {sum(r['accepted'] for r in rows)} payloads served, 0 "
        in (result.stderr)
    )
    assert states[-1]["bookmarks"]["customers"]["updated_since"]
    assert run_folders(lake) == [folder], "a replay keeps no payloads of its own"
    assert "Keeping raw payloads" in live_result.stderr


def test_a_replay_that_asks_for_what_the_run_did_not_record_stops_naming_it(
    crm_env, tmp_path
) -> None:
    lake = tmp_path / "lake"
    config = crm_config(crm_env["SANDBOX_CRM_API_URL"], raw_payloads=True,
                        raw_payloads_location=str(lake))  # fmt: skip
    run_crm_tap(config, tmp_path)
    (folder,) = run_folders(lake)
    replay = crm_config(dead_url(), raw_payloads_location=str(lake), replay_run=folder.name,
                        per_page=50)  # fmt: skip
    _, _, result = run_crm_tap(replay, tmp_path, check=False)
    assert result.returncode != 0
    assert "asked for GET /api/v1/customers?page=1&per_page=50" in result.stderr
    assert "did not record" in result.stderr


def test_a_body_over_the_bound_is_not_kept_says_so_and_its_replay_stops_there(
    crm_server, tmp_path
) -> None:
    """On a CRM of its own without injected faults: page 1 is a full page, over the bound.
    (The session's CRM drew a malformed page 1 of under 1,000 bytes once: kept, and the
    first page over the bound was page 2.)"""
    lake = tmp_path / "lake"
    config = crm_config(crm_server(), raw_payloads=True,
                        raw_payloads_location=str(lake), raw_payloads_max_bytes=1000)  # fmt: skip
    records, _, result = run_crm_tap(config, tmp_path)
    assert records, "the run completes: the copy is an audit aid, the records the product"
    (folder,) = run_folders(lake)
    rows = manifest(folder)
    over = [row for row in rows if row["size"] > 1000]
    assert over and over[0]["seq"] == 1
    for row in rows:
        assert row["stored"] == (row["size"] <= 1000) and row["sha256"]
    assert all(not row["object"] for row in over)
    assert all("over raw_payloads_max_bytes (1000)" in row["skipped_reason"] for row in over)
    assert len(list(folder.glob("*.gz"))) == len(rows) - len(over)
    assert "Raw payload 1 (" in result.stderr and "not kept" in result.stderr
    replay = crm_config(dead_url(), raw_payloads_location=str(lake), replay_run=folder.name)
    _, _, replayed = run_crm_tap(replay, tmp_path, check=False)
    assert replayed.returncode != 0 and "payload 1 (GET /api/v1/customers?page=1" in (
        replayed.stderr
    )
    assert "was not kept" in replayed.stderr


def test_run_folders_beyond_the_retention_are_removed_when_a_run_starts(crm_env, tmp_path) -> None:
    lake = tmp_path / "lake"
    root = lake / "_raw" / SOURCE
    now = dt.datetime.now(dt.UTC)
    old = root / f"{(now - dt.timedelta(days=8)).strftime('%Y%m%dT%H%M%SZ')}-0000beef"
    recent = root / f"{(now - dt.timedelta(days=6)).strftime('%Y%m%dT%H%M%SZ')}-0000cafe"
    not_ours = root / "notes"
    for folder in (old, recent, not_ours):
        folder.mkdir(parents=True)
        (folder / "manifest.jsonl").write_text("")
    config = crm_config(crm_env["SANDBOX_CRM_API_URL"], raw_payloads=True,
                        raw_payloads_location=str(lake), raw_payloads_retention_days=7)  # fmt: skip
    _, _, result = run_crm_tap(config, tmp_path)
    left = {p.name for p in run_folders(lake)}
    assert old.name not in left
    assert {recent.name, "notes"} <= left and len(left) == 3  # + this run's folder
    assert f"older than 7 days: {old.name}" in result.stderr


def test_payloads_kept_on_s3_replay_from_s3_and_no_key_is_written(
    crm_env, s3_env, tmp_path
) -> None:
    prefix = f"raw-test-{tmp_path.name}"
    s3 = {
        "raw_payloads_location": f"s3://{s3_env['LAKE_BUCKET']}/{prefix}",
        "raw_payloads_s3_endpoint_url": s3_env["AWS_ENDPOINT_URL"],
        "raw_payloads_aws_access_key_id": s3_env["AWS_ACCESS_KEY_ID"],
        "raw_payloads_aws_secret_access_key": s3_env["AWS_SECRET_ACCESS_KEY"],
        "raw_payloads_aws_region": s3_env["AWS_DEFAULT_REGION"],
    }
    client = s3_client(s3_env)
    expired = f"{prefix}/_raw/{SOURCE}/20200101T000000Z-0000beef/manifest.jsonl"
    client.put_object(Bucket=s3_env["LAKE_BUCKET"], Key=expired, Body=b"")
    live, _, result = run_crm_tap(
        crm_config(crm_env["SANDBOX_CRM_API_URL"], raw_payloads=True, **s3), tmp_path
    )
    listed = client.list_objects_v2(Bucket=s3_env["LAKE_BUCKET"], Prefix=f"{prefix}/_raw/{SOURCE}/")
    # (pyarrow keeps an empty marker for the parent of a folder it deletes)
    keys = [item["Key"] for item in listed["Contents"] if not item["Key"].endswith("/")]
    assert expired not in keys and "older than 30 days: 20200101T000000Z-0000beef" in result.stderr
    (run_id,) = {key.split("/")[3] for key in keys}
    bodies = [client.get_object(Bucket=s3_env["LAKE_BUCKET"], Key=k)["Body"].read() for k in keys]
    manifest_rows = [
        json.loads(line)
        for key, body in zip(keys, bodies, strict=True)
        if key.endswith("/manifest.jsonl")
        for line in body.decode().splitlines()
    ]
    assert len([k for k in keys if k.endswith(".json.gz")]) == len(manifest_rows) > 1
    for secret in (DEFAULT_TOKEN, s3_env["AWS_SECRET_ACCESS_KEY"]):
        assert secret not in result.stderr
        assert not any(secret.encode() in body for body in bodies)
    replayed, _, _ = run_crm_tap(crm_config(dead_url(), replay_run=run_id, **s3), tmp_path)
    assert replayed == live
