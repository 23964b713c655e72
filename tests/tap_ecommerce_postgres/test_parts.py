"""The small parts on their own: connection settings, decimal keys, the prefetching
readers (rows and COPY chunks), the CSV reader of BATCH files."""

from __future__ import annotations

import time

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql
from tap_ecommerce_postgres.batches import csv_to_table
from tap_ecommerce_postgres.connection import ConnectionParameters
from tap_ecommerce_postgres.prefetch import copied_chunks, prefetched_rows
from tap_ecommerce_postgres.type_mapping import restore_decimal_keys


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
    # the backend exits just after the client's Terminate message: allow it a moment
    for _ in range(50):
        sessions = scratch_conn.execute(
            "select count(*) from pg_stat_activity where application_name = 'tap-ep-abandon-test'"
        ).fetchone()[0]
        if sessions == 0:
            break
        time.sleep(0.1)
    assert sessions == 0


def test_copied_chunks_cut_whole_rows_even_with_newlines_in_values(tap_config) -> None:
    params = ConnectionParameters.from_config(tap_config)
    statement = sql.SQL(
        "copy (select g, 'line' || g || E'\\nnext,\"q\"' from generate_series(1, 2500) g"
        " order by g) to stdout with (format csv)"
    )
    chunks = list(copied_chunks(params, statement, 1000))
    assert [count for _, count in chunks] == [1000, 1000, 500]
    schema = pa.schema([("g", pa.int64()), ("text", pa.string())])
    tables = [csv_to_table(data, schema, []) for data, _ in chunks]
    assert [t.num_rows for t in tables] == [1000, 1000, 500]
    assert tables[2].column("g")[-1].as_py() == 2500
    assert tables[0].column("text")[0].as_py() == 'line1\nnext,"q"'


def test_csv_keeps_null_apart_from_the_empty_string_and_reads_booleans(tap_config) -> None:
    params = ConnectionParameters.from_config(tap_config)
    statement = sql.SQL(
        "copy (select * from (values (1, null::text, true), (2, '', false), (3, 'x', null))"
        " v order by 1) to stdout with (format csv)"
    )
    [(data, _)] = list(copied_chunks(params, statement, 100))
    schema = pa.schema([("id", pa.int64()), ("text", pa.string()), ("flag", pa.bool_())])
    table = csv_to_table(data, schema, [])
    assert table.column("text").to_pylist() == [None, "", "x"]
    assert table.column("flag").to_pylist() == [True, False, None]


def test_copy_abandoned_early_ends_the_copy_and_the_session(tap_config, scratch_conn) -> None:
    params = ConnectionParameters.from_config(
        {**tap_config, "application_name": "tap-ep-copy-abandon-test"}
    )
    statement = sql.SQL(
        "copy (select g from generate_series(1, 5000000) g) to stdout with (format csv)"
    )
    chunks = copied_chunks(params, statement, 1000)
    assert next(iter(chunks))[1] == 1000
    started = time.monotonic()
    chunks.close()
    assert time.monotonic() - started < 5  # cancelled, not read to the end
    for _ in range(50):
        sessions = scratch_conn.execute(
            "select count(*) from pg_stat_activity"
            " where application_name = 'tap-ep-copy-abandon-test'"
        ).fetchone()[0]
        if sessions == 0:
            break
        time.sleep(0.1)
    assert sessions == 0
