"""The publications of tap-ecommerce-postgres' LOG_BASED streams, created by the sandbox
acting as the DBA.

A publication FOR TABLE may only be created by the table's owner, and the taps' role
(`elt_extract`) owns nothing; so the admin creates one publication per LOG_BASED table
and per slot prefix, named as the tap names it (`tap_ecommerce_postgres.cdc.slot.names`):
`<prefix>_public_<table>_<hash of database and table>`. Each Meltano environment that
runs the shop tap against the sandbox has its own prefix (its own slots and bookmarks,
see meltano.yml): two independent Meltano states on one slot would move it past each
other's bookmarks.

Slots belong to the tap (it creates them on its first run with the REPLICATION
attribute); the sandbox drops this database's slots only when it re-seeds, since a slot's
changes of a dropped table cannot be replayed onto the new one.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql

SHOP_SCHEMA = "public"
# The shop tables the demo reads LOG_BASED (meltano.yml stream_options): the ones whose
# rows can be deleted. Products are retired (is_active), never deleted.
LOG_BASED_TABLES = ("customers", "orders", "order_items")
# log_based_prefix of each meltano.yml environment that runs against the sandbox.
SANDBOX_PREFIXES = (
    "tap_ecommerce_postgres",  # dev (the tap's default)
    "tap_ecommerce_postgres_minio",
    "tap_ecommerce_postgres_spark",
)


def publication_name(prefix: str, database: str, table: str, schema: str = SHOP_SCHEMA) -> str:
    """The name the tap expects (it logs it, and names it in its error when missing)."""
    from tap_ecommerce_postgres.cdc.slot import names

    return names(prefix, database, schema, table).publication


def ensure_publications(
    conn: psycopg.Connection,
    database: str,
    prefixes: Iterable[str] = SANDBOX_PREFIXES,
    tables: Iterable[str] = LOG_BASED_TABLES,
    schema: str = SHOP_SCHEMA,
) -> list[str]:
    """One publication per prefix and table, publishing that table; idempotent (a table
    dropped and re-created by a re-seed is added back). `conn` is an admin connection to
    `database` that owns the tables. Returns the publication names."""
    created = []
    for prefix in prefixes:
        for table in tables:
            name = publication_name(prefix, database, table, schema)
            relation = sql.Identifier(schema, table)
            row = conn.execute(
                "select exists (select 1 from pg_publication_rel r"
                " where r.prpubid = p.oid and r.prrelid = %s::regclass)"
                " from pg_publication p where p.pubname = %s",
                [f"{schema}.{table}", name],
            ).fetchone()
            if row is None:
                conn.execute(
                    sql.SQL(
                        "create publication {} for table {}"
                        " with (publish_via_partition_root = true)"  # a partitioned table's root
                    ).format(sql.Identifier(name), relation)
                )
            elif not row[0]:
                conn.execute(
                    sql.SQL("alter publication {} add table {}").format(
                        sql.Identifier(name), relation
                    )
                )
            created.append(name)
    return created


def drop_publications(conn: psycopg.Connection, names: Iterable[str]) -> None:
    for name in names:
        conn.execute(sql.SQL("drop publication if exists {}").format(sql.Identifier(name)))


def drop_slots(conn: psycopg.Connection, prefix: str = "") -> list[str]:
    """Drop this database's logical slots whose name starts with `prefix` (all by
    default); a slot in use by a live run is left alone. Returns the dropped names."""
    dropped = []
    for (slot,) in conn.execute(
        "select slot_name from pg_replication_slots where database = current_database()"
        " and slot_type = 'logical' and not active and starts_with(slot_name, %s)",
        [prefix],
    ).fetchall():
        conn.execute("select pg_drop_replication_slot(%s)", [slot])
        dropped.append(slot)
    return dropped
