"""Deletes in the shop reach the marts: the real `ecommerce-elt` job (LOG_BASED customers,
orders and order items), a few customers and orders deleted in the source between runs
(`elt_sandbox.shop.deletions`, seeded), and the marts lose exactly those keys.

The shop is a database of this module's own (seeded like the sandbox's, at TEST_SCALE),
so the other end-to-end tests keep the sandbox's shop unchanged; the Stripe stand-in is
generated from the same seed, one charge per order.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import duckdb
import psycopg
import pytest
from elt_sandbox.shop.deletions import (
    Deletions,
    delete_customers_and_orders,
    recorded_deletions,
)
from elt_sandbox.shop.roles import grant_statements
from elt_sandbox.shop.seed import seed
from elt_sandbox.stripe_api.data import StripeData

from scripts.pipeline_report import warehouse_counts
from tests.conftest import TEST_SCALE
from tests.e2e.conftest import (
    MeltanoRunner,
    admin_connection,
    drop_test_slots,
    local_lake_runner,
)
from tests.e2e.test_pipeline import mart_fingerprint

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KEYS = {"customers": "customer_id", "orders": "order_id", "order_items": "order_item_id"}
MART_KEYS = {"customers": "dim_customers", "orders": "fct_orders", "order_items": "fct_order_items"}


@dataclass(frozen=True)
class ShopFacts:
    """Keys per table and money sums of the source database."""

    keys: dict[str, set[int]]
    orders_total: Decimal
    items_total: Decimal


def shop_facts(conn: psycopg.Connection) -> ShopFacts:
    keys = {
        table: {row[0] for row in conn.execute(f"select {key} from {table}").fetchall()}
        for table, key in KEYS.items()
    }
    [(orders_total,)] = conn.execute("select sum(total_amount) from orders").fetchall()
    [(items_total,)] = conn.execute("select sum(line_total) from order_items").fetchall()
    return ShopFacts(keys, orders_total, items_total)


def mart_facts(runner: MeltanoRunner) -> ShopFacts:
    with duckdb.connect(str(runner.warehouse), read_only=True) as conn:
        keys = {
            table: {row[0] for row in conn.execute(f"select {KEYS[table]} from {mart}").fetchall()}
            for table, mart in MART_KEYS.items()
        }
        [(orders_total,)] = conn.execute("select sum(total_amount) from fct_orders").fetchall()
        [(items_total,)] = conn.execute("select sum(line_total) from fct_order_items").fetchall()
    return ShopFacts(keys, orders_total, items_total)


@pytest.fixture(scope="module")
def shop_db(all_sources_env: dict[str, str]) -> Iterator[str]:
    """A shop database of this module's own, readable by the taps' role."""
    name = f"e2e_deletes_{uuid.uuid4().hex[:8]}"
    with admin_connection(all_sources_env, "postgres") as admin:
        admin.execute(f'create database "{name}"')
    try:
        with admin_connection(all_sources_env, name) as conn:
            seed(conn, TEST_SCALE)
            for statement in grant_statements(name, all_sources_env["TAP_PG_USER"]):
                conn.execute(statement)
        yield name
    finally:
        drop_test_slots(all_sources_env, name)
        with admin_connection(all_sources_env, "postgres") as admin:
            admin.execute(f'drop database "{name}" with (force)')


@pytest.fixture(scope="module")
def runs(all_sources_env, meltano_installed, shop_db, tmp_path_factory) -> dict:
    """Run 1; delete 3 customers (with their orders) and 5 more orders (with their
    items); run 2. Facts of the source and the marts after each."""
    runner = local_lake_runner(
        {**all_sources_env, "PGDATABASE": shop_db}, tmp_path_factory.mktemp("e2e-deletes")
    )
    with admin_connection(all_sources_env, shop_db) as conn:
        runner.run("run", "ecommerce-elt")
        before = (shop_facts(conn), mart_facts(runner))
        deleted = delete_customers_and_orders(conn, customers=3, orders=5, seed=7)
        recorded = recorded_deletions(conn)
        runner.run("run", "ecommerce-elt")
        after = (shop_facts(conn), mart_facts(runner))
    return {
        "runner": runner,
        "before": before,
        "after": after,
        "deleted": deleted,
        "recorded": recorded,
    }


def test_the_sandbox_deletes_whole_customers_and_orders_and_records_them(runs: dict) -> None:
    deleted: Deletions = runs["deleted"]
    source_before, _ = runs["before"]
    assert len(deleted.customer_ids) == 3 and len(deleted.order_ids) >= 3 + 5
    assert deleted.order_item_ids, "the deleted orders had no items"
    assert runs["recorded"] == deleted
    source_after, _ = runs["after"]
    for table, keys in deleted.by_table().items():
        assert set(keys) <= source_before.keys[table]
        assert source_after.keys[table] == source_before.keys[table] - set(keys)


def test_deletion_is_deterministic(pg_env: dict[str, str], tmp_path_factory) -> None:
    """The same seed on the same data deletes the same keys (two fresh copies)."""
    chosen = []
    for _ in range(2):
        name = f"e2e_choice_{uuid.uuid4().hex[:8]}"
        with admin_connection(pg_env, "postgres") as admin:
            admin.execute(f'create database "{name}"')
        try:
            with admin_connection(pg_env, name) as conn:
                seed(conn, TEST_SCALE)
                chosen.append(delete_customers_and_orders(conn, 3, 5, seed=7))
        finally:
            with admin_connection(pg_env, "postgres") as admin:
                admin.execute(f'drop database "{name}" with (force)')
    assert chosen[0] == chosen[1]


def test_marts_matched_the_source_before_the_deletes(runs: dict) -> None:
    source, marts = runs["before"]
    assert marts == source
    deleted: Deletions = runs["deleted"]
    for table, keys in deleted.by_table().items():
        assert set(keys) <= marts.keys[table], f"{table}: nothing to lose"


def test_marts_lose_exactly_the_deleted_keys(runs: dict) -> None:
    source, marts = runs["after"]
    _, marts_before = runs["before"]
    deleted: Deletions = runs["deleted"]
    for table, keys in deleted.by_table().items():
        assert marts.keys[table] == marts_before.keys[table] - set(keys), table
    # and they reconcile with the source: keys, and money to the cent
    assert marts == source
    assert marts.orders_total < marts_before.orders_total


def test_staging_rows_equal_source_rows_after_the_deletes(runs: dict) -> None:
    source, _ = runs["after"]
    staging = warehouse_counts(runs["runner"].warehouse, ("stg_shop__",))
    for table, keys in source.keys.items():
        assert staging[f"stg_shop__{table}"] == len(keys), table
    assert staging["stg_shop__deleted_orders"] == len(runs["deleted"].order_ids)


def test_bronze_holds_the_delete_records(runs: dict) -> None:
    runner: MeltanoRunner = runs["runner"]
    deleted: Deletions = runs["deleted"]
    with duckdb.connect() as conn:
        for table, keys in deleted.by_table().items():
            stream = f"{runner.lake_root}/tap_ecommerce_postgres/public-{table}/*/*.parquet"
            rows = conn.execute(
                f"select {KEYS[table]}, _sdc_lsn from read_parquet('{stream}',"
                " union_by_name = true) where _sdc_deleted_at is not null"
            ).fetchall()
            assert sorted(key for key, _ in rows) == sorted(keys), table
            assert all(lsn is not None for _, lsn in rows)


def test_payments_of_deleted_orders_stay_and_money_reconciles(runs: dict) -> None:
    """Stripe keeps the charges of deleted orders: fct_payments keeps them, flagged, and
    the money captured still adds up to the cent (orders' net + deleted orders' net)."""
    runner: MeltanoRunner = runs["runner"]
    deleted: Deletions = runs["deleted"]
    stripe = StripeData(TEST_SCALE)
    succeeded = sum(f.amount for f in stripe.charges.values() if not f.failed)
    refunded = sum(r["amount"] for r in stripe.refunds.values())
    with duckdb.connect(str(runner.warehouse), read_only=True) as conn:
        charges, flagged = conn.execute(
            "select count(*), list(distinct order_id) filter (where is_order_deleted)"
            " from fct_payments"
        ).fetchone()
        [(orders_net,)] = conn.execute("select sum(net_paid_amount) from fct_orders").fetchall()
        [(gone_net,)] = conn.execute(
            "select sum(net_amount) from fct_payments where is_order_deleted"
        ).fetchall()
    assert charges == len(stripe.charges)
    assert sorted(flagged) == deleted.order_ids
    assert orders_net + gone_net == Decimal(succeeded - refunded) / 100


def test_the_monitor_judged_the_change_runs_incremental(runs: dict) -> None:
    runner: MeltanoRunner = runs["runner"]
    with duckdb.connect() as conn:
        rows = conn.execute(
            f"select stream, run_kind, target_rows from read_parquet("
            f"'{runner.lake_root}/_meta/ledger/*.parquet') where source = 'tap_ecommerce_postgres'"
            " and stream <> 'public-products' order by recorded_at"
        ).fetchall()
    kinds = {(stream, kind) for stream, kind, _ in rows}
    for table in KEYS:
        assert {(f"public-{table}", "initial"), (f"public-{table}", "incremental")} <= kinds


def test_a_run_without_changes_changes_nothing(runs: dict) -> None:
    runner: MeltanoRunner = runs["runner"]
    before = mart_fingerprint(runner.warehouse)
    runner.run("run", "ecommerce-elt")
    assert mart_fingerprint(runner.warehouse) == before
    assert mart_facts(runner) == runs["after"][0]
