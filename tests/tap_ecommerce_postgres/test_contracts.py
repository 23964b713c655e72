"""The fast path keeps the SDK's contracts: selection, `--test`, NULL replication keys,
and a failing range read that does not wait for its siblings."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from tap_ecommerce_postgres.arrow_reader import AdbcSessions, sliced_batches
from tap_ecommerce_postgres.connection import ConnectionParameters

from tests.singer import run_singer
from tests.tap_ecommerce_postgres.catalogs import discover, selecting, write_catalog
from tests.tap_ecommerce_postgres.conftest import TAP, records, run_tap

PERSONAL = ["email", "phone"]


def test_deselected_columns_are_in_no_schema_and_no_record(
    tap_config, scratch_conn, tmp_path
) -> None:
    catalog = selecting(discover(tap_config, tmp_path), {"public-customers": PERSONAL})
    messages, _ = run_tap(tap_config, tmp_path, extra=write_catalog(catalog, tmp_path))
    schema = next(m for m in messages if m["type"] == "SCHEMA")
    assert schema["stream"] == "public-customers"
    assert not set(PERSONAL) & set(schema["schema"]["properties"])
    rows = records(messages, "public-customers")
    assert len(rows) == scratch_conn.execute("select count(*) from customers").fetchone()[0]
    assert all(set(row) == set(schema["schema"]["properties"]) for row in rows)
    # only the selected stream is read
    assert {m["stream"] for m in messages if m["type"] in {"SCHEMA", "RECORD"}} == {
        "public-customers"
    }


VIEW_WITH_A_TRAP = """
create or replace function trap(id int) returns text language plpgsql stable as $$
begin
    raise exception 'deselected column was read (id %)', id;
end $$;
create or replace view customer_contacts as
    select customer_id, city, trap(customer_id) as secret from customers;
"""


@pytest.mark.parametrize("sdk_path", [False, True], ids=["fast-path", "sdk-path"])
def test_deselected_columns_are_never_read_from_postgres(
    tap_config, scratch_conn, tmp_path, monkeypatch, sdk_path: bool
) -> None:
    """A view column that raises when Postgres computes it: deselected, the read works."""
    if sdk_path:
        monkeypatch.setenv("TAP_ECOMMERCE_POSTGRES_SDK_RECORD_PATH", "1")
    scratch_conn.execute(VIEW_WITH_A_TRAP)
    catalog = selecting(discover(tap_config, tmp_path), {"public-customer_contacts": ["secret"]})
    try:
        messages, _ = run_tap(tap_config, tmp_path, extra=write_catalog(catalog, tmp_path))
    finally:
        scratch_conn.execute("drop view customer_contacts; drop function trap")
    rows = records(messages, "public-customer_contacts")
    assert len(rows) == scratch_conn.execute("select count(*) from customers").fetchone()[0]
    assert all(set(row) == {"customer_id", "city"} for row in rows)


LAZY_VIEW = """
create or replace view lazy_rows as
    select g as n, 10 / (g - 3) as tenth from generate_series(1, 5) g;
"""


def test_connection_test_reads_one_row_per_stream_with_a_sql_limit(
    tap_config, scratch_conn, tmp_path
) -> None:
    """`--test` (the SDK's dry run, one record per stream): Postgres itself stops after
    the row that tells the SDK there was more (the view fails on its third row)."""
    scratch_conn.execute(LAZY_VIEW)
    started = time.monotonic()
    messages, result = run_tap(tap_config, tmp_path, extra=["--test"])
    assert result.returncode == 0
    counts: dict[str, int] = {}
    for m in messages:
        if m["type"] == "RECORD":
            counts[m["stream"]] = counts.get(m["stream"], 0) + 1
    tables = ["customers", "products", "orders", "order_items"]
    assert {f"public-{t}" for t in tables} | {"public-lazy_rows"} <= set(counts)
    assert set(counts.values()) == {1}
    assert records(messages, "public-lazy_rows") == [{"n": 1, "tenth": -5}]
    assert time.monotonic() - started < 60


def test_null_replication_keys_never_become_the_bookmark(tap_config, scratch_conn, tmp_path):
    """NULL keys sort last; they are read by a run without a bookmark and the bookmark
    stays the largest non-NULL key, so the next run reads only new rows."""
    scratch_conn.execute(
        "drop table if exists nullable_keys;"
        " create table nullable_keys (id int primary key, seen bigint, note text);"
        " insert into nullable_keys select g, case when g % 7 = 0 then null else g end,"
        " 'n' || g from generate_series(1, 1000) g"
    )
    options = {
        "public-nullable_keys": {"replication_method": "INCREMENTAL", "replication_key": "seen"}
    }
    config = {**tap_config, "state_every_n_rows": 100, "stream_options": options}
    catalog = write_catalog(
        selecting(discover(config, tmp_path), {"public-nullable_keys": []}), tmp_path
    )
    first, _ = run_tap(config, tmp_path, extra=catalog)
    ids = [r["id"] for r in records(first, "public-nullable_keys")]
    assert sorted(ids) == list(range(1, 1001))  # NULL keys read on the first run
    bookmarks = [
        m["value"]["bookmarks"]["public-nullable_keys"]
        for m in first
        if m["type"] == "STATE" and "public-nullable_keys" in m["value"].get("bookmarks", {})
    ]
    assert len(bookmarks) >= 9  # STATE every 100 rows, two of them within the NULL tail
    assert all(b.get("replication_key_value") is not None for b in bookmarks)
    state = first[-1]["value"] if first[-1]["type"] == "STATE" else None
    assert state is not None
    assert state["bookmarks"]["public-nullable_keys"]["replication_key_value"] == 1000

    scratch_conn.execute(
        "insert into nullable_keys values (1001, null, 'late'), (1002, 2000, 'new')"
    )
    second, _ = run_tap(config, tmp_path, state=state, extra=catalog)
    assert [r["id"] for r in records(second, "public-nullable_keys")] == [1000, 1002]
    final = [m["value"] for m in second if m["type"] == "STATE"][-1]
    assert final["bookmarks"]["public-nullable_keys"]["replication_key_value"] == 2000


def test_a_failed_range_cancels_its_sibling_at_once(tap_config, scratch_conn) -> None:
    """Two sessions: the first range sleeps 8 s, the second fails at once. The read fails
    within ~1 s and the sleeping statement is cancelled in Postgres, not abandoned."""
    parameters = ConnectionParameters.from_config(
        {**tap_config, "application_name": "tap-pg-cancel-test"}
    )
    sessions = AdbcSessions(parameters)
    selects = [
        "select pg_sleep(8) as slept",
        "select 10 / (g - 1) as boom from generate_series(1, 1) g",
    ]
    started = time.monotonic()
    with pytest.raises((RuntimeError, OSError)) as failure:
        list(sliced_batches(sessions, selects, 2))
    elapsed = time.monotonic() - started
    sessions.close()
    assert "division by zero" in str(failure.value)  # the cause, not a cancellation
    assert elapsed < 2.5, f"the failure waited {elapsed:.1f} s for its sibling"
    sleeping = scratch_conn.execute(
        "select count(*) from pg_stat_activity where application_name = 'tap-pg-cancel-test'"
        " and state = 'active' and query like '%pg_sleep%'"
    ).fetchone()[0]
    assert sleeping == 0


GUARDED = """
drop table if exists guarded;
create table guarded (id int primary key, note text);
insert into guarded select g, 'n' || g from generate_series(1, 60000) g;
analyze guarded;
create or replace function guard(id int) returns boolean language plpgsql as $$
begin
    -- only the range readers (repeatable read) trip: discovery and the key bounds do not
    if current_setting('transaction_isolation') = 'repeatable read' then
        if id = 1 then perform pg_sleep(15); end if;
        if id = 40000 then raise exception 'range read failed at id %', id; end if;
    end if;
    return true;
end $$;
alter table guarded enable row level security;
create policy guarded_read on guarded for select using (guard(id));
"""


def test_a_tap_run_fails_as_soon_as_one_range_fails(
    tap_config, scratch_db, scratch_conn, tmp_path
) -> None:
    """A table read as two key ranges whose first range sleeps 15 s and whose second
    fails at once (a row-level security policy that runs per row, for a role that is
    not the owner): the tap exits with the error well before the sleep ends."""
    role = f"guarded_{uuid.uuid4().hex[:8]}"
    try:
        scratch_conn.execute(f"create role {role} login password 'guarded-pw'")
    except psycopg.errors.InsufficientPrivilege:
        pytest.skip("the server user may not create roles")
    try:
        scratch_conn.execute(GUARDED)
        scratch_conn.execute(
            f'grant connect on database "{scratch_db}" to {role};'
            f" grant usage on schema public to {role}; grant select on guarded to {role}"
        )
        config = {**tap_config, "user": role, "password": "guarded-pw", "parallel_readers": 2}
        started = time.monotonic()
        run = run_singer(TAP, config, tmp_path, check=False)
        elapsed = time.monotonic() - started
    finally:
        scratch_conn.execute(
            f"drop table if exists guarded; drop function if exists guard;"
            f" drop owned by {role}; drop role {role}"
        )
    assert run.result.returncode != 0
    assert "range read failed at id 40000" in run.result.stderr
    assert elapsed < 8, f"the tap failed after {elapsed:.1f} s (its sibling sleeps 15 s)"
    assert "2 key ranges of id" in run.result.stderr  # two sessions really were at work


def test_an_infinite_bookmark_with_a_start_date_reads_on(tap_config, scratch_conn, tmp_path):
    """The SDK compares bookmark and start_date in Python; Postgres's 'infinity' (the
    text bookmark of an infinite key) cannot be parsed there and is left to Postgres."""
    scratch_conn.execute(
        "drop table if exists endless; create table endless (id int primary key, seen timestamp);"
        " insert into endless values (1, '2025-01-01'), (2, 'infinity')"
    )
    options = {"public-endless": {"replication_method": "INCREMENTAL", "replication_key": "seen"}}
    config = {**tap_config, "stream_options": options, "start_date": "2024-01-01T00:00:00Z"}
    catalog = write_catalog(selecting(discover(config, tmp_path), {"public-endless": []}), tmp_path)
    first, _ = run_tap(config, tmp_path, extra=catalog)
    state = [m["value"] for m in first if m["type"] == "STATE"][-1]
    assert state["bookmarks"]["public-endless"]["replication_key_value"] == "infinity"
    second, _ = run_tap(config, tmp_path, state=state, extra=catalog)
    assert [r["id"] for r in records(second, "public-endless")] == [2]  # the tie, re-read
    scratch_conn.execute("drop table endless")
