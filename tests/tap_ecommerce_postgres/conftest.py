"""A scratch copy of the shop database per test module, so tests may change data freely."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from elt_sandbox.shop.seed import seed

from tests.conftest import TEST_SCALE
from tests.singer import run_singer

TAP = str(Path(sys.executable).parent / "tap-ecommerce-postgres")


def connect(env: dict[str, str], dbname: str) -> psycopg.Connection:
    return psycopg.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        password=env["PGPASSWORD"],
        dbname=dbname,
        autocommit=True,
    )


@pytest.fixture(scope="module")
def scratch_db(pg_env: dict[str, str]) -> Iterator[str]:
    name = f"tap_pg_{uuid.uuid4().hex[:8]}"
    with connect(pg_env, "postgres") as admin:
        admin.execute(f'create database "{name}"')
    with connect(pg_env, name) as conn:
        seed(conn, TEST_SCALE)
        # The sandbox's server commits without waiting for the WAL flush (speed), and
        # logical decoding reads flushed WAL only: a tap started within ~200 ms of a
        # test's change could end before it (its next run reads it). The tests' changes
        # are flushed at commit, as under Postgres' default.
        conn.execute(f'alter database "{name}" set synchronous_commit = on')
    yield name
    with connect(pg_env, "postgres") as admin:
        admin.execute(f'drop database "{name}" with (force)')


@pytest.fixture()
def scratch_conn(pg_env: dict[str, str], scratch_db: str) -> Iterator[psycopg.Connection]:
    with connect(pg_env, scratch_db) as conn:
        yield conn


@pytest.fixture()
def tap_config(pg_env: dict[str, str], scratch_db: str) -> dict:
    return {
        "host": pg_env["PGHOST"],
        "port": int(pg_env["PGPORT"]),
        "user": pg_env["PGUSER"],
        "password": pg_env["PGPASSWORD"],
        "database": scratch_db,
        "schemas": ["public"],
    }


@pytest.fixture(scope="module")
def cdc_db(pg_env, scratch_db):
    """The scratch database with logical decoding; its slots are dropped afterwards
    (a database with a slot cannot be dropped)."""
    with connect(pg_env, scratch_db) as conn:
        if conn.execute("show wal_level").fetchone()[0] != "logical":
            pytest.skip("LOG_BASED needs a server with wal_level=logical (PG_TEST_DSN's has not)")
        conn.execute("create schema if not exists cdc")
    yield scratch_db
    with connect(pg_env, scratch_db) as conn:
        for (slot,) in conn.execute(
            "select slot_name from pg_replication_slots where database = current_database()"
        ).fetchall():
            conn.execute("select pg_drop_replication_slot(%s)", [slot])


@pytest.fixture()
def cdc(pg_env, cdc_db):
    with connect(pg_env, cdc_db) as conn:
        yield conn


def run_tap(
    config: dict, tmp_path: Path, state: dict | None = None, extra: list[str] | None = None
) -> tuple[list[dict], subprocess.CompletedProcess]:
    """(every message, completed process)."""
    run = run_singer(TAP, config, tmp_path, state=state, extra=extra)
    return run.messages, run.result


def records(messages: list[dict], stream: str) -> list[dict]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def last_state(messages: list[dict]) -> dict:
    return [m["value"] for m in messages if m["type"] == "STATE"][-1]
