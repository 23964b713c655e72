"""The fast path against the SDK's own record path, message for message.

`TAP_ECOMMERCE_POSTGRES_SDK_RECORD_PATH=1` sends every stream through the SDK's
`_sync_records` (psycopg rows, `get_records`, the SDK's selection, record limit,
conformance, serializer and STATE cadence). For each configuration below both runs must
print the same SCHEMA, RECORD (minus `time_extracted`) and STATE messages in the same
order. STATE loses only `replication_key_signpost` and ACTIVATE_VERSION / RECORD lose only
`version`: both are the run's own start time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tap_ecommerce_postgres.catalogs import discover, selecting, write_catalog
from tests.tap_ecommerce_postgres.conftest import run_tap
from tests.tap_ecommerce_postgres.test_fidelity import SETUP as FIDELITY

SDK_PATH = "TAP_ECOMMERCE_POSTGRES_SDK_RECORD_PATH"
NULL_KEYS = """
drop table if exists parity_keys;
create table parity_keys (id int primary key, seen timestamp, note text);
insert into parity_keys select g,
    case when g % 5 = 0 then null else timestamp '2025-01-01' + (g / 3) * interval '1 hour' end,
    'n' || g from generate_series(1, 700) g;
"""
INCREMENTAL = {"replication_method": "INCREMENTAL"}


def comparable(messages: list[dict]) -> list[dict]:
    kept = []
    for message in messages:
        if message["type"] == "RECORD":
            message = {k: v for k, v in message.items() if k != "time_extracted"}
            if "version" in message:
                message["version"] = "run"
        elif message["type"] == "STATE":
            for bookmark in message["value"].get("bookmarks", {}).values():
                bookmark.pop("replication_key_signpost", None)
        elif message["type"] == "ACTIVATE_VERSION":
            assert message["version"]  # the run's own start time, as `version` in RECORDs
            message = {**message, "version": "run"}
        elif message["type"] != "SCHEMA":
            continue
        kept.append(message)
    return kept


def assert_same_on_both_paths(
    config: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    state: dict | None = None,
    extra: list[str] | None = None,
) -> list[dict]:
    """Run the tap on the fast path, then on the SDK path; both outputs must match."""
    monkeypatch.delenv(SDK_PATH, raising=False)
    fast, fast_run = run_tap(config, tmp_path, state=state, extra=extra)
    monkeypatch.setenv(SDK_PATH, "1")
    sdk, sdk_run = run_tap(config, tmp_path, state=state, extra=extra)
    monkeypatch.delenv(SDK_PATH)
    # each run really took its path: the fast path's summary line (`--test` stops every
    # stream at its first row, before any summary), the SDK's sync timer
    if "--test" not in (extra or []):
        assert " rows in " in fast_run.stderr
    assert '"metric":"sync_duration"' in sdk_run.stderr.replace(" ", "")
    assert any(m["type"] == "RECORD" for m in fast)
    assert comparable(sdk) == comparable(fast)
    return fast


def test_selection_matches_the_sdk(tap_config, tmp_path, monkeypatch) -> None:
    options = {"public-orders": {**INCREMENTAL, "replication_key": "updated_at"}}
    config = {**tap_config, "stream_options": options, "state_every_n_rows": 150}
    catalog = selecting(
        discover(config, tmp_path),
        {"public-customers": ["email", "phone"], "public-orders": ["shipping_city"]},
    )
    messages = assert_same_on_both_paths(
        config, tmp_path, monkeypatch, extra=write_catalog(catalog, tmp_path)
    )
    assert {m["stream"] for m in messages if m["type"] == "RECORD"} == {
        "public-customers",
        "public-orders",
    }


def test_connection_test_matches_the_sdk(tap_config, tmp_path, monkeypatch) -> None:
    options = {"public-orders": {**INCREMENTAL, "replication_key": "updated_at"}}
    messages = assert_same_on_both_paths(
        {**tap_config, "stream_options": options}, tmp_path, monkeypatch, extra=["--test"]
    )
    assert sum(m["type"] == "RECORD" for m in messages) >= 4


def test_null_keys_and_state_match_the_sdk(tap_config, scratch_conn, tmp_path, monkeypatch):
    scratch_conn.execute(NULL_KEYS)
    options = {"public-parity_keys": {**INCREMENTAL, "replication_key": "seen"}}
    config = {**tap_config, "stream_options": options, "state_every_n_rows": 100}
    catalog = write_catalog(
        selecting(discover(config, tmp_path), {"public-parity_keys": []}), tmp_path
    )
    first = assert_same_on_both_paths(config, tmp_path, monkeypatch, extra=catalog)
    state = [m["value"] for m in first if m["type"] == "STATE"][-1]
    scratch_conn.execute(
        "update parity_keys set seen = seen + interval '1 day' where id % 50 = 1;"
        " insert into parity_keys values (701, null, 'late')"
    )
    assert_same_on_both_paths(config, tmp_path, monkeypatch, state=state, extra=catalog)


def test_full_table_resume_matches_the_sdk(tap_config, scratch_conn, tmp_path, monkeypatch):
    """Resuming after a key, with ACTIVATE_VERSION and each RECORD's `version`."""
    config = {**tap_config, "state_every_n_rows": 200, "emit_activate_version_messages": True}
    catalog = write_catalog(
        selecting(discover(config, tmp_path), {"public-order_items": []}), tmp_path
    )
    first_item = scratch_conn.execute("select min(order_item_id) from order_items").fetchone()[0]
    state = {"bookmarks": {"public-order_items": {"resume_after": [first_item + 99]}}}
    messages = assert_same_on_both_paths(config, tmp_path, monkeypatch, state=state, extra=catalog)
    items = [m for m in messages if m["type"] == "RECORD"]
    assert items[0]["record"]["order_item_id"] == first_item + 100
    assert all(m["version"] for m in items)


def test_every_type_matches_the_sdk(tap_config, scratch_conn, tmp_path, monkeypatch) -> None:
    scratch_conn.execute(FIDELITY)
    catalog = write_catalog(
        selecting(discover(tap_config, tmp_path), {"public-fidelity": []}), tmp_path
    )
    assert_same_on_both_paths(tap_config, tmp_path, monkeypatch, extra=catalog)
