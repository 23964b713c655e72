"""tap-stripe-custom's raw payloads: every body the stripe library received, kept without
the key, and a replay of a run that emits the same records without a request."""

from __future__ import annotations

import gzip
import hashlib
import json
import socket

from elt_sandbox.stripe_api.__main__ import DEFAULT_API_KEY

from tests.tap_stripe_custom.conftest import run_stripe_tap, tap_config

SOURCE = "tap-stripe-custom"


def dead_url() -> str:
    """A loopback URL on which nothing listens (a port just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def by_id(streams: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Records per stream, sorted by id (a window lists newest first; ties need an order)."""
    return {name: sorted(records, key=lambda r: r["id"]) for name, records in streams.items()}


def test_a_replay_emits_the_live_runs_records_from_bodies_kept_without_the_key(
    stripe_server, tmp_path
) -> None:
    """A stand-in that answers gateway 502s and replayed pages: the live run retries them,
    the replay gets only the accepted bodies, from a dead URL."""
    lake = tmp_path / "lake"
    base = stripe_server("--rate-gateway", "0.1", "--rate-replay", "0.1", "--seed", "7")
    live, _, live_result = run_stripe_tap(
        tap_config(base, raw_payloads=True, raw_payloads_location=str(lake), page_size=20),
        tmp_path,
    )
    assert sum(len(records) for records in live.values()) > 50
    (folder,) = [p for p in (lake / "_raw" / SOURCE).iterdir() if p.is_dir()]
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    rejected = [row for row in rows if not row["accepted"]]
    assert {"502", "replayed_page"} <= {row["rejected_because"] for row in rejected}
    for row in rows:
        assert row["extraction_method"] == "api_json" and row["method"] == "GET"
        assert row["url"].startswith(f"{base}/v1/{row['stream']}")
        if row["stored"]:
            body = gzip.decompress((folder / row["object"]).read_bytes())
            assert hashlib.sha256(body).hexdigest() == row["sha256"] and len(body) == row["size"]
    for path in folder.rglob("*"):
        data = path.read_bytes()
        data = gzip.decompress(data) if path.suffix == ".gz" else data
        assert DEFAULT_API_KEY.encode() not in data
    assert DEFAULT_API_KEY not in live_result.stderr
    run = json.loads((folder / "run.json").read_text())
    assert run["finished"] and isinstance(run["notes"]["run_boundary"], int)

    replay_config = tap_config(
        dead_url(), raw_payloads_location=str(lake), replay_run=folder.name, page_size=20
    )
    replayed, _, result = run_stripe_tap(replay_config, tmp_path)
    assert by_id(replayed) == by_id(live)
    assert "retries by cause {}" in result.stderr
    accepted = sum(row["accepted"] for row in rows)
    assert f"{accepted} payloads served, 0 accepted payloads not asked for" in result.stderr


def test_a_replay_of_a_missing_run_fails_before_any_record(stripe_env, tmp_path) -> None:
    config = tap_config(dead_url(), raw_payloads_location=str(tmp_path / "nowhere"),
                        replay_run="20260101T000000Z-0123abcd")  # fmt: skip
    streams, _, result = run_stripe_tap(config, tmp_path, check=False)
    assert result.returncode != 0 and not streams
    assert "replay_run 20260101T000000Z-0123abcd:" in result.stderr
    assert "cannot be read (check replay_run and raw_payloads_location)" in result.stderr


def test_a_replay_run_that_is_not_a_run_id_is_a_config_error(stripe_env, tmp_path) -> None:
    config = tap_config(stripe_env["SANDBOX_STRIPE_API_BASE"], replay_run="../../etc")
    _, _, result = run_stripe_tap(config, tmp_path, check=False)
    assert result.returncode != 0 and "replay_run '../../etc' is not a run id" in result.stderr
