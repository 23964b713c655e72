"""Delete a few customers and orders from the shop, as an erasure request would.

Between two pipeline runs this shows what only a LOG_BASED stream can see: rows that are
gone. The choice is seeded, so the same database state and seed always delete the same
keys. The foreign keys are respected: a customer goes with all of their orders, an order
with all of its items. Every deleted key is recorded in `sandbox.deletions` (one row per
table and key, with the batch's seed and time), so a test or a person can compare the
marts with what went: `elt-sandbox sql "select * from sandbox.deletions"`. The table sits
in the sandbox's own schema (`elt_sandbox.bookkeeping`), out of the shop's `public` that
the taps discover.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import psycopg

from elt_sandbox.bookkeeping import SCHEMA, ensure_schema

DELETIONS_TABLE = f"{SCHEMA}.deletions"


@dataclass(frozen=True)
class Deletions:
    """The keys one call deleted, per table."""

    customer_ids: list[int] = field(default_factory=list)
    order_ids: list[int] = field(default_factory=list)
    order_item_ids: list[int] = field(default_factory=list)

    def by_table(self) -> dict[str, list[int]]:
        return {
            "customers": self.customer_ids,
            "orders": self.order_ids,
            "order_items": self.order_item_ids,
        }


def delete_customers_and_orders(
    conn: psycopg.Connection, customers: int = 3, orders: int = 5, seed: int = 1
) -> Deletions:
    """Delete `customers` customers that have orders (with all their orders and items)
    and `orders` more orders of other customers (with their items), in one transaction.

    Customers and orders are drawn with `random.Random(seed)` from the keys present,
    in key order: deterministic for a given database state.
    """
    rng = random.Random(seed)
    with conn.transaction():
        ordering = conn.execute(
            "select distinct customer_id from orders where customer_id is not null order by 1"
        ).fetchall()
        chosen_customers = sorted(rng.sample([r[0] for r in ordering], customers))
        their_orders = [
            r[0]
            for r in conn.execute(
                "select order_id from orders where customer_id = any(%s) order by 1",
                [chosen_customers],
            ).fetchall()
        ]
        others = [
            r[0]
            for r in conn.execute(
                "select order_id from orders"
                " where customer_id is null or customer_id <> all(%s) order by 1",
                [chosen_customers],
            ).fetchall()
        ]
        order_ids = sorted(their_orders + rng.sample(others, orders))
        item_ids = [
            r[0]
            for r in conn.execute(
                "delete from order_items where order_id = any(%s) returning order_item_id",
                [order_ids],
            ).fetchall()
        ]
        conn.execute("delete from orders where order_id = any(%s)", [order_ids])
        conn.execute("delete from customers where customer_id = any(%s)", [chosen_customers])
        deletions = Deletions(chosen_customers, order_ids, sorted(item_ids))
        ensure_schema(conn)
        conn.execute(
            f"create table if not exists {DELETIONS_TABLE} (table_name text not null,"
            " key integer not null, seed integer not null, deleted_at timestamptz not null,"
            " primary key (table_name, key))"
        )
        with conn.cursor() as cur:
            cur.executemany(
                f"insert into {DELETIONS_TABLE} values (%s, %s, %s, now())",
                [
                    (table, key, seed)
                    for table, keys in deletions.by_table().items()
                    for key in keys
                ],
            )
    return deletions


def recorded_deletions(conn: psycopg.Connection) -> Deletions:
    """Every key deleted so far (all batches), as recorded."""
    exists = conn.execute("select to_regclass(%s)", [DELETIONS_TABLE]).fetchone()[0]
    if exists is None:
        return Deletions()
    keys: dict[str, list[int]] = {"customers": [], "orders": [], "order_items": []}
    for table, key in conn.execute(
        f"select table_name, key from {DELETIONS_TABLE} order by table_name, key"
    ).fetchall():
        keys[table].append(key)
    return Deletions(keys["customers"], keys["orders"], keys["order_items"])
