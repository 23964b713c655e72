"""tap-ecommerce-postgres against the real sandbox Postgres (a scratch copy of the shop)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from elt_sandbox.shop.generate import expected_counts

from tests.conftest import TEST_SCALE
from tests.singer import kill_after_state
from tests.tap_ecommerce_postgres.conftest import TAP, last_state, records, run_tap

SHOP = {
    "public-customers": "customer_id",
    "public-products": "product_id",
    "public-orders": "order_id",
    "public-order_items": "order_item_id",
}


def test_full_extract_has_exact_counts_and_sums(tap_config, scratch_conn, tmp_path) -> None:
    messages, result = run_tap(tap_config, tmp_path)
    expected = expected_counts(TEST_SCALE)
    for stream, key in SHOP.items():
        rows = records(messages, stream)
        assert len(rows) == expected[stream.removeprefix("public-")], stream
        assert len({row[key] for row in rows}) == len(rows)
        # the SDK's record_count metric and the per-stream summary line agree with the rows
        assert f'"value":{len(rows)},"tags":{{"stream":"{stream}"' in result.stderr, stream
        assert f"stream {stream}: {len(rows)} rows in " in result.stderr, stream
    source_total = scratch_conn.execute("select sum(total_amount) from orders").fetchone()[0]
    emitted = sum(Decimal(r["total_amount"]) for r in records(messages, "public-orders"))
    assert emitted == source_total


def test_schema_keeps_decimal_precision_keys_and_not_null(tap_config, tmp_path) -> None:
    messages, _ = run_tap(tap_config, tmp_path)
    schema = next(m for m in messages if m["type"] == "SCHEMA" and m["stream"] == "public-orders")
    total = schema["schema"]["properties"]["total_amount"]
    assert total["format"] == "x-singer.decimal"
    assert total["x-sql-datatype-properties"] == {"precision": 12, "scale": 2}
    assert total["type"] == "string"  # NOT NULL
    assert schema["schema"]["properties"]["shipping_city"]["type"] == ["string", "null"]
    assert schema["key_properties"] == ["order_id"]
    order_date = schema["schema"]["properties"]["order_date"]
    assert order_date["format"] == "date-time"


def test_naive_timestamps_gain_an_explicit_offset(tap_config, scratch_conn, tmp_path) -> None:
    messages, _ = run_tap({**tap_config, "source_timezone": "America/New_York"}, tmp_path)
    row = records(messages, "public-orders")[0]
    source = scratch_conn.execute(
        "select order_date from orders where order_id = %s", (row["order_id"],)
    ).fetchone()[0]
    emitted = dt.datetime.fromisoformat(row["order_date"])
    assert emitted.utcoffset() == dt.timedelta(0)
    assert emitted == source.replace(tzinfo=ZoneInfo("America/New_York"))
    assert emitted.replace(tzinfo=None) != source  # the zone really moved the wall clock


def test_incremental_second_run_emits_only_changed_rows(tap_config, scratch_conn, tmp_path) -> None:
    config = {
        **tap_config,
        "stream_options": {
            "public-orders": {"replication_method": "INCREMENTAL", "replication_key": "updated_at"}
        },
    }
    first, _ = run_tap(config, tmp_path)
    state = last_state(first)
    bookmark = state["bookmarks"]["public-orders"]["replication_key_value"]
    ties = scratch_conn.execute(
        "select count(*) from orders where updated_at = %s", (bookmark,)
    ).fetchone()[0]
    changed = [
        row[0]
        for row in scratch_conn.execute(
            "update orders set status = 'shipped', updated_at = %s::timestamp + interval '1 day'"
            " where order_id in (select order_id from orders order by order_id limit"
            " (select count(*) / 100 from orders)) returning order_id",
            (bookmark,),
        )
    ]
    assert changed
    second, _ = run_tap(config, tmp_path, state=state)
    ids = [r["order_id"] for r in records(second, "public-orders")]
    assert set(changed) <= set(ids)
    assert len(ids) == len(changed) + ties


def test_killed_full_table_read_resumes_without_gaps(tap_config, scratch_conn, tmp_path) -> None:
    config = {**tap_config, "state_every_n_rows": 200}
    first_ids, state = kill_after_state(
        TAP,
        config,
        tmp_path,
        "public-order_items",
        "order_item_id",
        resumable=lambda bookmark: bool(bookmark.get("resume_after")),
        min_records=600,
    )
    assert state is not None, "no resumable STATE was emitted before the kill"
    resume_after = state["bookmarks"]["public-order_items"]["resume_after"][0]
    second, _ = run_tap(config, tmp_path, state=state)
    second_ids = [r["order_item_id"] for r in records(second, "public-order_items")]
    assert min(second_ids) == resume_after + 1
    all_ids = {row[0] for row in scratch_conn.execute("select order_item_id from order_items")}
    assert first_ids | set(second_ids) == all_ids
    assert "resume_after" not in last_state(second)["bookmarks"]["public-order_items"]


def test_custom_query_stream_is_filtered_around_the_query(
    tap_config, scratch_conn, tmp_path
) -> None:
    config = {
        **tap_config,
        "schemas": [],  # custom streams only
        "custom_streams": [
            {
                "name": "daily_revenue",
                "sql": "select cast(order_date as date) as day, sum(total_amount) as revenue,"
                " max(updated_at) as updated_at from orders group by 1",
                "key_properties": ["day"],
                "replication_key": "day",
            }
        ],
        "start_date": "2025-12-01T00:00:00Z",
    }
    messages, _ = run_tap(config, tmp_path)
    rows = records(messages, "daily_revenue")
    expected = scratch_conn.execute(
        "select count(*), sum(r) from (select cast(order_date as date) d, sum(total_amount) r"
        " from orders group by 1) x where d >= date '2025-12-01'"
    ).fetchone()
    assert len(rows) == expected[0]
    assert sum(Decimal(r["revenue"]) for r in rows) == expected[1]


def test_discovery_finds_an_added_table_with_comments(tap_config, scratch_conn, tmp_path) -> None:
    scratch_conn.execute(
        "create table if not exists coupons (code text primary key, pct numeric(5,2) not null)"
    )
    scratch_conn.execute("comment on column coupons.pct is 'discount percent'")
    result = subprocess.run(
        [TAP, "--config", str(_write(tmp_path, tap_config)), "--discover"],
        capture_output=True,
        text=True,
        check=True,
    )
    streams = {s["tap_stream_id"]: s for s in json.loads(result.stdout)["streams"]}
    coupons = streams["public-coupons"]
    assert coupons["key_properties"] == ["code"]
    assert coupons["schema"]["properties"]["pct"]["description"] == "discount percent"


def _write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "discover.json"
    path.write_text(json.dumps(config))
    return path


def test_wrong_password_is_a_clear_error_without_the_password(tap_config, tmp_path) -> None:
    secret = "not-the-password-S3cr3t"
    path = _write(tmp_path, {**tap_config, "password": secret})
    result = subprocess.run([TAP, "--config", str(path)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "password authentication failed" in result.stderr
    assert "Could not connect to Postgres" in result.stderr
    assert secret not in result.stderr + result.stdout


@pytest.mark.parametrize("flag", ["--about"])
def test_about_lists_settings_without_secrets(tap_config, tmp_path, flag) -> None:
    result = subprocess.run(
        [TAP, "--config", str(_write(tmp_path, tap_config)), flag, "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    about = json.loads(result.stdout)
    assert {"host", "password", "stream_options", "custom_streams"} <= set(
        about["settings"]["properties"]
    )
    assert tap_config["password"] not in result.stdout


def test_parallel_key_ranges_emit_what_one_session_emits(
    tap_config, scratch_conn, tmp_path
) -> None:
    # 130,000 keys with a gap: five ranges of 26,000 keys for two sessions
    scratch_conn.execute(
        "drop table if exists wide_ids;"
        " create table wide_ids (id bigint primary key, amount numeric(12, 2), note text);"
        " insert into wide_ids select g, g / 100.0, 'row ' || g from generate_series(1, 130000) g"
        " where g not between 40000 and 45000"
    )
    config = {**tap_config, "state_every_n_rows": 20_000}
    single, _ = run_tap({**config, "parallel_readers": 1}, tmp_path)
    parallel, _ = run_tap({**config, "parallel_readers": 2}, tmp_path)

    def stream_messages(messages: list[dict]) -> list[dict]:
        kept = []
        for m in messages:
            if m["type"] == "RECORD" and m["stream"] == "public-wide_ids":
                kept.append(m["record"])
            elif m["type"] == "STATE":
                kept.append(m["value"]["bookmarks"].get("public-wide_ids"))
        return kept

    assert stream_messages(parallel) == stream_messages(single)
    ids = [r["id"] for r in records(parallel, "public-wide_ids")]
    assert ids == sorted(ids) and len(ids) == 130000 - 5001
    assert sum(Decimal(r["amount"]) for r in records(parallel, "public-wide_ids")) == sum(
        Decimal(g) / 100 for g in range(1, 130001) if not 40000 <= g <= 45000
    )
    scratch_conn.execute("drop table wide_ids")


@pytest.mark.parametrize(
    ("key_sql", "key_type"),
    [
        ("timestamp '2025-01-01' + (g / 3) * interval '1 second'", "timestamp"),  # ties of 3
        ("g", "bigint"),  # a nullable integer replication key
    ],
)
def test_parallel_incremental_ranges_keep_ties_and_null_keys(
    tap_config, scratch_conn, tmp_path, key_sql: str, key_type: str
) -> None:
    scratch_conn.execute(
        "drop table if exists events;"
        f" create table events (id int primary key, seen {key_type}, note text);"
        f" insert into events select g, case when g % 1000 = 0 then null else {key_sql} end,"
        " 'n' || g from generate_series(1, 130000) g;"
        " analyze events"
    )
    options = {"public-events": {"replication_method": "INCREMENTAL", "replication_key": "seen"}}
    config = {**tap_config, "state_every_n_rows": 20_000, "stream_options": options}
    single, _ = run_tap({**config, "parallel_readers": 1}, tmp_path)
    parallel, result = run_tap({**config, "parallel_readers": 2}, tmp_path)
    assert "key ranges of seen" in result.stderr  # the parallel read really was cut

    def stream_messages(messages: list[dict]) -> list:
        kept: list = []
        for m in messages:
            if m["type"] == "RECORD" and m["stream"] == "public-events":
                kept.append(m["record"])
            elif m["type"] == "STATE":
                bookmark = dict(m["value"]["bookmarks"].get("public-events") or {})
                bookmark.pop("replication_key_signpost", None)  # the run's start time
                kept.append(bookmark)
        return kept

    assert stream_messages(parallel) == stream_messages(single)
    ids = [r["id"] for r in records(parallel, "public-events")]
    assert sorted(ids) == list(range(1, 130001))  # NULL keys included, nothing twice
    scratch_conn.execute("drop table events")
