"""Load the shop tables into Postgres with COPY, and fingerprint their contents."""

from __future__ import annotations

import importlib.resources
import time

import psycopg

from elt_sandbox.bookkeeping import LEGACY_PUBLIC_TABLES, SCHEMA, ensure_schema
from elt_sandbox.shop.generate import generate_shop

TABLES = ("customers", "products", "orders", "order_items")
PRIMARY_KEYS = {
    "customers": "customer_id",
    "products": "product_id",
    "orders": "order_id",
    "order_items": "order_item_id",
}
# The scale of the last complete seed, in the sandbox's own schema (never `public`).
SEED_MARKER = f"{SCHEMA}.seed"


def schema_sql() -> str:
    return importlib.resources.files("elt_sandbox.shop").joinpath("schema.sql").read_text()


def seeded_scale(conn: psycopg.Connection) -> float | None:
    """The scale the database was last fully seeded at, or None."""
    exists = conn.execute("select to_regclass(%s)", (SEED_MARKER,)).fetchone()[0]
    if exists is None:
        return None
    row = conn.execute(f"select scale from {SEED_MARKER}").fetchone()
    return float(row[0]) if row else None


def seed(conn: psycopg.Connection, scale: float) -> dict[str, float]:
    """Recreate and fill the four tables in one transaction; returns seconds per phase."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    data = generate_shop(scale)
    timings["generate"] = time.monotonic() - started
    started = time.monotonic()
    with conn.transaction():
        conn.execute(f"drop table if exists {', '.join(LEGACY_PUBLIC_TABLES)}")
        # the seed marker, the deletions, the simulated nights' clock and ground truth all
        # belong to the data they describe
        conn.execute(f"drop schema if exists {SCHEMA} cascade")
        conn.execute(schema_sql())
        with conn.cursor() as cur:
            for table, (columns, rows) in data.tables().items():
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                key = PRIMARY_KEYS[table]
                cur.execute(
                    f"select setval(pg_get_serial_sequence('{table}', '{key}'), "
                    f"(select coalesce(max({key}), 1) from {table}))"
                )
        ensure_schema(conn)
        conn.execute(f"create table {SEED_MARKER} (scale numeric not null, seeded_at timestamptz)")
        conn.execute(f"insert into {SEED_MARKER} values (%s, now())", (scale,))
    conn.execute("analyze")
    timings["copy"] = time.monotonic() - started
    return timings


def table_fingerprints(conn: psycopg.Connection) -> dict[str, str]:
    """md5 of every table's full text, in key order: equal fingerprints = identical contents."""
    fingerprints = {}
    for table in TABLES:
        key = PRIMARY_KEYS[table]
        fingerprints[table] = conn.execute(
            f"select md5(coalesce(string_agg(t::text, E'\\n' order by {key}), '')) from {table} t"
        ).fetchone()[0]
    return fingerprints
