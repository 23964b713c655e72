"""Least privilege: the sandbox's extraction role reads the shop and can do nothing else.

A custom query runs in a read-only transaction, which does not stop
`pg_terminate_backend` or `pg_read_file`; the role does. These tests run the real tap as
the sandbox's `TAP_PG_USER` on the seeded shop database, try each of those calls and a
write, and check the error, that the other session lives and that the data is unchanged.
The admin role (PGUSER) only sets up and checks.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from elt_sandbox.shop.seed import TABLES, table_fingerprints
from psycopg import sql
from tap_ecommerce_postgres.privileges import role_privileges

from tests.singer import SingerRun, run_singer
from tests.tap_ecommerce_postgres.conftest import TAP

WARNING = "a custom_streams query could terminate other sessions or read server files"


@pytest.fixture(scope="module")
def extract_config(pg_env: dict[str, str]) -> dict:
    """Tap settings for the sandbox's extraction role on the shop database."""
    if pg_env["TAP_PG_USER"] == pg_env["PGUSER"]:
        pytest.skip(
            f"the server's user {pg_env['PGUSER']!r} may not create roles (PG_TEST_DSN), so "
            "the sandbox has no separate extraction role to test"
        )
    return {
        "host": pg_env["PGHOST"],
        "port": int(pg_env["PGPORT"]),
        "user": pg_env["TAP_PG_USER"],
        "password": pg_env["TAP_PG_PASSWORD"],
        "database": pg_env["PGDATABASE"],
    }


def custom_query(config: dict, query: str, tmp_path: Path) -> SingerRun:
    """Run the tap with one custom stream and no tables; it is expected to fail."""
    custom = {**config, "schemas": [], "custom_streams": [{"name": "probe", "sql": query}]}
    run = run_singer(TAP, custom, tmp_path, check=False)
    assert run.result.returncode != 0, "the query ran: " + run.result.stdout[-500:]
    return run


def test_the_extraction_role_reads_every_shop_row(extract_config, pg_conn, tmp_path) -> None:
    run = run_singer(TAP, {**extract_config, "schemas": ["public"]}, tmp_path)
    for table in TABLES:
        count = pg_conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(table)))
        assert len(run.records[f"public-{table}"]) == count.fetchone()[0] > 0


def test_tables_created_later_are_readable_by_default_privileges(extract_config, pg_conn) -> None:
    role = extract_config["user"]
    with pg_conn.transaction():
        pg_conn.execute("create table returns_probe (return_id int primary key)")
        readable = pg_conn.execute(
            "select has_table_privilege(%s, 'public.returns_probe', 'select'),"
            " has_table_privilege(%s, 'public.returns_probe', 'insert')",
            [role, role],
        ).fetchone()
        raise psycopg.Rollback()
    assert readable == (True, False)


def test_the_extraction_role_holds_nothing_risky(extract_config) -> None:
    with psycopg.connect(**_libpq(extract_config)) as conn:
        privileges = role_privileges(conn)
    assert (privileges.user, privileges.superuser, privileges.risky_roles) == (
        extract_config["user"],
        False,
        (),
    )
    assert privileges.warning() is None


def test_a_custom_query_cannot_terminate_another_session(
    extract_config, pg_conn, pg_env, tmp_path
) -> None:
    before = table_fingerprints(pg_conn)
    admin = {**extract_config, "user": pg_env["PGUSER"], "password": pg_env["PGPASSWORD"]}
    with psycopg.connect(**_libpq(admin)) as victim:
        pid = victim.info.backend_pid
        run = custom_query(
            extract_config, f"select pg_terminate_backend({pid}) as killed", tmp_path
        )
        assert "permission denied to terminate process" in run.result.stderr
        assert victim.execute("select 1").fetchone() == (1,)  # still connected
    assert table_fingerprints(pg_conn) == before


def test_a_custom_query_cannot_read_server_files(extract_config, pg_conn, tmp_path) -> None:
    run = custom_query(extract_config, "select pg_read_file('postgresql.conf') as f", tmp_path)
    assert "permission denied for function pg_read_file" in run.result.stderr
    assert not run.records


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("select setval('orders_order_id_seq', 1) as v", "permission denied for sequence"),
        ("select lo_from_bytea(0, 'x') as oid", "read-only transaction"),
    ],
)
def test_a_custom_query_cannot_write(extract_config, pg_conn, query, refusal, tmp_path) -> None:
    """A query cannot hold INSERT/UPDATE/DELETE (it is wrapped as a subquery), but a
    function can write: a sequence reset, a large object."""
    before = table_fingerprints(pg_conn)
    sequence = pg_conn.execute("select last_value from orders_order_id_seq").fetchone()
    run = custom_query(extract_config, query, tmp_path)
    assert refusal in run.result.stderr
    assert table_fingerprints(pg_conn) == before
    assert pg_conn.execute("select last_value from orders_order_id_seq").fetchone() == sequence


def test_the_role_cannot_write_even_outside_a_read_only_session(extract_config, pg_conn) -> None:
    """The role, not only the tap's read-only sessions, refuses writes and DDL."""
    before = table_fingerprints(pg_conn)
    with psycopg.connect(**_libpq(extract_config), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="table orders"):
            conn.execute("update orders set status = 'hacked'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="schema public"):
            conn.execute("create table public.stolen (x int)")
    assert table_fingerprints(pg_conn) == before


def test_a_superuser_gets_one_warning_at_start(pg_env, tmp_path) -> None:
    config = {
        "host": pg_env["PGHOST"],
        "port": int(pg_env["PGPORT"]),
        "user": pg_env["PGUSER"],
        "password": pg_env["PGPASSWORD"],
        "database": pg_env["PGDATABASE"],
        "schemas": [],
        "custom_streams": [{"name": "one", "sql": "select 1 as a"}],
    }
    run = run_singer(TAP, config, tmp_path)
    assert run.result.stderr.count(WARNING) == 1
    assert f"Connected as {pg_env['PGUSER']!r}, a superuser" in run.result.stderr


@pytest.mark.parametrize("granted", ["pg_signal_backend", "pg_read_server_files"])
def test_a_role_that_may_signal_or_read_files_gets_the_warning(
    granted, pg_env, pg_conn, tmp_path
) -> None:
    role = f"tap_probe_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    pg_conn.execute(
        sql.SQL("create role {} login password {}").format(
            sql.Identifier(role), sql.Literal(password)
        )
    )
    try:
        pg_conn.execute(
            sql.SQL("grant {} to {}").format(sql.Identifier(granted), sql.Identifier(role))
        )
        config = {
            "host": pg_env["PGHOST"],
            "port": int(pg_env["PGPORT"]),
            "user": role,
            "password": password,
            "database": pg_env["PGDATABASE"],
            "schemas": [],
            "custom_streams": [{"name": "one", "sql": "select 1 as a"}],
        }
        run = run_singer(TAP, config, tmp_path)
        assert f"Connected as {role!r}, a member of {granted}: {WARNING}" in run.result.stderr
    finally:
        pg_conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def _libpq(config: dict) -> dict:
    return {
        "host": config["host"],
        "port": config["port"],
        "user": config["user"],
        "password": config["password"],
        "dbname": config["database"],
    }


def test_without_createrole_the_sandbox_falls_back_to_its_user_with_a_warning(
    pg_env, pg_conn, caplog
) -> None:
    """PG_TEST_DSN naming an ordinary user: no role is created, the taps use that user."""
    from elt_sandbox.services.postgres import PostgresService

    role = f"tap_plain_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    pg_conn.execute(
        sql.SQL("create role {} login password {}").format(
            sql.Identifier(role), sql.Literal(password)
        )
    )
    try:
        settings = {**pg_env, "PGUSER": role, "PGPASSWORD": password}
        env = PostgresService._extraction_role(settings)
    finally:
        pg_conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))
    assert env == {"TAP_PG_USER": role, "TAP_PG_PASSWORD": password}
    assert "may not create roles, so 'elt_extract' was not created" in caplog.text
