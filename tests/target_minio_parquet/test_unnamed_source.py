"""Without `source_name`, two taps' streams of one name never mix in one folder.

Real pipes (`tap | target-minio-parquet`): Stripe's `customers` and the CRM's `customers`
both default to `default/customers`; the second is refused with the setting to use, and
nothing of it is written. Named sources, and one stream whose schema evolves within a
run, are unaffected.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
from elt_sandbox.crm_api.data import build as crm_build

from tests.conftest import TEST_SCALE
from tests.target_minio_parquet.conftest import (
    TARGET,
    record_message,
    run_target,
    schema_message,
)

BIN = Path(sys.executable).parent


def pipe(tap: str, tap_config: dict, target_config: dict, tmp_path: Path):
    """`<tap> --config tap.json | target-minio-parquet --config target.json`; returns the
    target's completed process (the tap must succeed)."""
    tap_file = tmp_path / f"{tap}.json"
    tap_file.write_text(json.dumps(tap_config))
    target_file = tmp_path / f"target-{tap}.json"
    target_file.write_text(json.dumps(target_config))
    with subprocess.Popen(
        [str(BIN / tap), "--config", str(tap_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as producer:
        target = subprocess.run(
            [TARGET, "--config", str(target_file)],
            stdin=producer.stdout,
            capture_output=True,
            text=True,
            timeout=300,
        )
        producer.stdout.close()
        tap_code = producer.wait(timeout=300)
    # a refused target closes the pipe: the tap may then fail writing (SIGPIPE)
    assert tap_code == 0 or target.returncode != 0, f"{tap} failed"
    return target


def stripe_config(env: dict) -> dict:
    return {
        "api_key": env["SANDBOX_STRIPE_API_KEY"],
        "api_base": env["SANDBOX_STRIPE_API_BASE"],
        "start_date": "2024-01-01T00:00:00Z",
        "max_requests_per_second": 1000,
    }


def crm_config(env: dict) -> dict:
    return {"api_url": env["SANDBOX_CRM_API_URL"], "api_token": env["SANDBOX_CRM_API_TOKEN"]}


def customer_rows(folder: Path) -> int:
    return pq.read_table(folder, columns=["id"]).num_rows if folder.exists() else 0


def test_a_second_source_of_one_stream_name_is_refused_without_source_name(
    stripe_env, crm_env, tmp_path
) -> None:
    lake = tmp_path / "lake"
    target = {"destination": str(lake)}
    stripe = pipe("tap-stripe-custom", stripe_config(stripe_env), target, tmp_path)
    assert stripe.returncode == 0, stripe.stderr[-2000:]
    stripe_rows = customer_rows(lake / "default" / "customers")
    assert stripe_rows > 0

    crm = pipe("tap-legacy-crm", crm_config(crm_env), target, tmp_path)
    assert crm.returncode != 0
    assert "folder default/customers already holds a stream 'customers'" in crm.stderr
    assert "`source_name`" in crm.stderr
    assert customer_rows(lake / "default" / "customers") == stripe_rows  # nothing mixed in

    again = pipe("tap-stripe-custom", stripe_config(stripe_env), target, tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]  # the same stream may come back


def test_named_sources_write_their_own_folders(stripe_env, crm_env, tmp_path) -> None:
    lake = tmp_path / "lake"
    for tap, config, source in (
        ("tap-stripe-custom", stripe_config(stripe_env), "stripe"),
        ("tap-legacy-crm", crm_config(crm_env), "crm"),
    ):
        result = pipe(tap, config, {"destination": str(lake), "source_name": source}, tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
    assert customer_rows(lake / "stripe" / "customers") > 0
    crm_ids = pq.read_table(lake / "crm" / "customers", columns=["id"]).column("id")
    assert len(set(crm_ids.to_pylist())) == len(crm_build(TEST_SCALE).distinct_ids)
    assert not (lake / "default").exists()


def test_a_stream_whose_schema_evolves_within_a_run_is_one_stream(tmp_path) -> None:
    lake = tmp_path / "lake"
    narrow = {"id": {"type": "integer"}}
    wide = {"id": {"type": "integer"}, "email": {"type": ["string", "null"]}}
    messages = [
        schema_message("people", narrow, ["id"]),
        record_message("people", {"id": 1}),
        schema_message("people", wide, ["id"]),
        record_message("people", {"id": 2, "email": "a@b.c"}),
    ]
    result = run_target({"destination": str(lake), "max_buffer_rows": 1}, messages, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert pq.read_table(lake / "default" / "people").num_rows == 2
    # the next run with the wider schema continues the same folder
    again = run_target({"destination": str(lake)}, messages[2:], tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
