"""The small parts on their own: connection settings, decimal keys, the prefetching
readers (rows, and Arrow batches for BATCH files)."""

from __future__ import annotations

import time

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql
from tap_ecommerce_postgres.arrow_reader import AdbcSessions, arrow_batches, sliced_batches
from tap_ecommerce_postgres.batches import sized_tables
from tap_ecommerce_postgres.connection import ConnectionFailed, ConnectionParameters
from tap_ecommerce_postgres.prefetch import prefetched_rows
from tap_ecommerce_postgres.queries import ReadPlan, range_bounds
from tap_ecommerce_postgres.type_mapping import Column, restore_decimal_keys


def sessions_closed(conn: psycopg.Connection, application_name: str) -> bool:
    """Whether every session named so has gone within 10 s (a backend exits just after
    the client's Terminate message)."""
    query = "select count(*) from pg_stat_activity where application_name = %s"
    for _ in range(100):
        if conn.execute(query, [application_name]).fetchone()[0] == 0:
            return True
        time.sleep(0.1)
    return False


def test_dsn_is_parsed_once_and_the_password_stays_out_of_repr() -> None:
    params = ConnectionParameters.from_config(
        {"sqlalchemy_url": "postgresql+psycopg2://shop:s3cret-pw@db.internal:6543/shop"}
    )
    assert (params.host, params.port, params.user, params.database) == (
        "db.internal",
        6543,
        "shop",
        "shop",
    )
    assert params.password == "s3cret-pw"
    assert "s3cret-pw" not in repr(params) and "s3cret-pw" not in params.describe()


def test_sessions_are_read_only_named_and_time_limited() -> None:
    params = ConnectionParameters.from_config(
        {"host": "h", "user": "u", "database": "d", "statement_timeout_ms": 1500}
    )
    info = psycopg.conninfo.conninfo_to_dict(params.render_conninfo())
    assert info["application_name"] == "tap-ecommerce-postgres"
    assert "default_transaction_read_only=on" in info["options"]
    assert "statement_timeout=1500" in info["options"]
    assert "TimeZone=UTC" in info["options"]


def test_decimal_keys_come_back_after_the_catalog_round_trip() -> None:
    extension = {"precision": 12, "scale": 2}
    decimal = {
        "type": "string",
        "format": "x-singer.decimal",
        "x-sql-datatype-properties": extension,
    }
    schema = {
        "type": "object",
        "properties": {
            "total": decimal,
            "parts": {"type": "array", "items": decimal},
            "free": {"type": "string", "format": "x-singer.decimal"},
        },
    }
    restored = restore_decimal_keys(schema)["properties"]
    assert (restored["total"]["precision"], restored["total"]["scale"]) == (12, 2)
    assert restored["parts"]["items"]["precision"] == 12
    assert "precision" not in restored["free"]
    assert "precision" not in decimal  # the input is not modified


def test_prefetch_keeps_order_across_batches(tap_config) -> None:
    params = ConnectionParameters.from_config(tap_config)
    query = sql.SQL("select g from generate_series(1, 12345) g order by g")
    assert [row[0] for row in prefetched_rows(params, query, [])] == list(range(1, 12346))


def test_prefetch_raises_server_errors_in_the_consumer(tap_config) -> None:
    params = ConnectionParameters.from_config({**tap_config, "statement_timeout_ms": 50})
    query = sql.SQL("select pg_sleep(2)")
    with pytest.raises(psycopg.errors.QueryCanceled):
        list(prefetched_rows(params, query, []))


def test_prefetch_abandoned_early_closes_its_session(tap_config, scratch_conn) -> None:
    params = ConnectionParameters.from_config(
        {**tap_config, "application_name": "tap-ep-abandon-test"}
    )
    rows = prefetched_rows(params, sql.SQL("select g from generate_series(1, 100000) g"), [])
    assert next(iter(rows)) == (1,)
    rows.close()  # the consumer stops: the reader thread ends and its connection closes
    assert sessions_closed(scratch_conn, "tap-ep-abandon-test")


def test_arrow_batches_regroup_into_exact_sizes_in_order(tap_config) -> None:
    params = ConnectionParameters.from_config(tap_config)
    select = "select g, g::text || E'\\nline' from generate_series(1, 25000) g order by g"
    schema = pa.schema([("g", pa.int64()), ("text", pa.string())])
    tables = list(sized_tables(arrow_batches(AdbcSessions(params), select), schema, 10_000))
    assert [t.num_rows for t in tables] == [10_000, 10_000, 5_000]
    assert all(t.schema == schema for t in tables)
    values = [v for t in tables for v in t.column("g").to_pylist()]
    assert values == list(range(1, 25001))
    assert tables[0].column("text")[0].as_py() == "1\nline"


def test_arrow_batches_wrong_password_names_the_server_not_the_password(tap_config) -> None:
    params = ConnectionParameters.from_config({**tap_config, "password": "not-the-pw-42"})
    with pytest.raises(ConnectionFailed) as failure:
        list(arrow_batches(AdbcSessions(params), "select 1"))
    assert "not-the-pw-42" not in str(failure.value)
    assert "password" in str(failure.value) and params.describe() in str(failure.value)


def test_arrow_batches_abandoned_early_close_their_session(tap_config, scratch_conn) -> None:
    params = ConnectionParameters.from_config(
        {**tap_config, "application_name": "tap-ep-arrow-abandon-test"}
    )
    batches = arrow_batches(AdbcSessions(params), "select g from generate_series(1, 3000000) g")
    assert next(iter(batches)).num_rows > 0
    batches.close()
    assert sessions_closed(scratch_conn, "tap-ep-arrow-abandon-test")


def test_sliced_reads_come_back_in_order_from_one_snapshot(tap_config) -> None:
    params = ConnectionParameters.from_config(tap_config)
    selects = [
        f"select g from generate_series({i * 1000 + 1}, {i * 1000 + 1000}) g" for i in range(5)
    ]
    values = [
        v for b in sliced_batches(AdbcSessions(params), selects, 2) for v in b.column(0).to_pylist()
    ]
    assert values == list(range(1, 5001))
    snapshots = [
        b.column(0)[0].as_py()
        for b in sliced_batches(AdbcSessions(params), ["select pg_current_snapshot()::text"] * 4, 3)
    ]
    assert len(snapshots) == 4 and len(set(snapshots)) == 1  # every reader, one snapshot


def test_sliced_read_errors_reach_the_consumer(tap_config) -> None:
    params = ConnectionParameters.from_config(tap_config)
    selects = ["select 1", "select 1 / 0", "select 3"]
    with pytest.raises(RuntimeError, match="division by zero"):
        list(sliced_batches(AdbcSessions(params), selects, 2))


def test_key_ranges_cover_every_key_and_are_rendered_as_literals() -> None:
    plan = ReadPlan(
        relation=sql.Identifier("public", "t"),
        columns=[Column(name="id", data_type="integer", udt_name="int4", nullable=False)],
        source_timezone="UTC",
        order_by=["id"],
        resume_key=["id"],
        resume_after=[7],
    )
    slices = plan.sliced([100, 200])
    assert [s.key_range for s in slices] == [(None, 100), (100, 200), (200, None)]
    middle = slices[1].render_line_select("<", ">\n")
    assert '"id" >= 100' in middle and '"id" < 200' in middle and "> (7)" in middle
    assert middle.endswith('order by src."id"')


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (1, 99_999, []),  # under two ranges' worth of keys: one session
        (1, 100_000, [50_001]),
        (1, 250_000, [50_001, 100_001, 150_001, 200_001]),
        (-50_000, 49_999, [0]),
        (1, 10**12, None),  # capped at max_ranges
    ],
)
def test_range_bounds(low: int, high: int, expected: list[int] | None) -> None:
    bounds = range_bounds(low, high, 50_000, 256)
    if expected is None:
        assert len(bounds) == 255 and bounds == sorted(bounds)
        assert low < bounds[0] and bounds[-1] <= high
    else:
        assert bounds == expected


def test_sessions_are_reused_across_reads_and_closed_at_the_end(tap_config, scratch_conn) -> None:
    name = "tap-ep-session-reuse-test"
    sessions = AdbcSessions(
        ConnectionParameters.from_config({**tap_config, "application_name": name})
    )

    def open_sessions() -> int:
        query = "select count(*) from pg_stat_activity where application_name = %s"
        return scratch_conn.execute(query, [name]).fetchone()[0]

    for _ in range(3):
        assert [b.num_rows for b in arrow_batches(sessions, "select 1")] == [1]
    assert open_sessions() == 1  # one connection served the three reads
    list(sliced_batches(sessions, ["select 1", "select 2"], 2))
    assert open_sessions() == 2
    sessions.close()
    assert sessions_closed(scratch_conn, name)
