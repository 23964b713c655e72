"""Deletes in the shop reach the marts: the real `ecommerce-elt` job (LOG_BASED customers,
orders and order items), a few customers and orders deleted in the source between runs
(`elt_sandbox.shop.deletions`, seeded), and the marts lose exactly those keys.

The shop is a database of this module's own (seeded like the sandbox's, at TEST_SCALE),
so the other end-to-end tests keep the sandbox's shop unchanged; the Stripe stand-in is
generated from the same seed, one charge per order.
"""

from __future__ import annotations

import json
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
    mart_fingerprint,
)

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


# -- convergence after what no change record shows (issue 22 items 1, 3, 4, 10) ---------

SHOP_STATE_ID = "dev:tap-ecommerce-postgres-to-target-minio-parquet"
SNAPSHOT_WARNING = "columns changed since the stream's snapshot"


def reset_stream_state(runner: MeltanoRunner, conn: psycopg.Connection, stream: str) -> None:
    """The documented way out of a TRUNCATE or a lost slot (tap README, "LOG_BASED"): the
    stream's slot dropped, its bookmark cleared, so the next run takes a new snapshot."""
    got = json.loads(runner.run("state", "get", SHOP_STATE_ID).stdout.strip().splitlines()[-1])
    state = got.get("singer_state", got)
    stream_state = state["bookmarks"].pop(stream)
    conn.execute("select pg_drop_replication_slot(%s)", [stream_state["slot"]])
    runner.run("state", "set", "--force", SHOP_STATE_ID, json.dumps({"singer_state": state}))


def shift_and_swap_items(conn: psycopg.Connection) -> None:
    """order_items' key made DEFERRABLE (REPLICA IDENTITY FULL, as a deferrable key needs
    for UPDATE under a publication); in one transaction the 10 highest ids move up by
    one (row n onto key n + 1 before row n + 1 leaves it) and the two lowest swap."""
    conn.execute(
        "alter table order_items drop constraint order_items_pkey,"
        " add primary key (order_item_id) deferrable initially immediate;"
        "alter table order_items replica identity full"
    )
    ids = [row[0] for row in conn.execute("select order_item_id from order_items order by 1")]
    with conn.transaction():
        conn.execute(
            "update order_items set order_item_id = order_item_id + 1 where order_item_id >= %s",
            [ids[-10]],
        )
        conn.execute(
            "update order_items set order_item_id = case order_item_id when %s then %s else %s"
            " end where order_item_id in (%s, %s)",
            [ids[0], ids[1], ids[0], ids[0], ids[1]],
        )


@pytest.fixture(scope="module")
def converged(runs: dict, all_sources_env: dict[str, str], shop_db: str) -> dict:
    """After the module's runs, in one more `meltano run`: the orders stream's state reset
    (slot dropped, bookmark cleared) and 5 orders deleted while no slot watched (item 1);
    order_items' deferrable key shifted and swapped in one transaction (item 3);
    customers given a column with a DEFAULT and a renamed column (item 4)."""
    runner: MeltanoRunner = runs["runner"]
    with admin_connection(all_sources_env, shop_db) as conn:
        reset_stream_state(runner, conn, "public-orders")
        unseen = delete_customers_and_orders(conn, customers=0, orders=5, seed=11)
        shift_and_swap_items(conn)
        conn.execute("alter table customers add column loyalty_tier text not null default 'basic'")
        conn.execute("alter table customers rename column zip_code to postal_code")
        result = runner.run("run", "ecommerce-elt")
        source = shop_facts(conn)
        customers = conn.execute(
            "select customer_id, loyalty_tier, postal_code from customers order by 1"
        ).fetchall()
    return {"result": result, "source": source, "unseen": unseen, "customers": customers}


def test_a_new_snapshot_retires_keys_it_does_not_hold(runs: dict, converged: dict) -> None:
    """Orders deleted while the stream's state was reset have no delete record; the new
    snapshot does not hold them, so they leave the marts (item 1), and the deferrable
    key's shift and swap arrive intact (item 3): marts equal the source."""
    unseen: Deletions = converged["unseen"]
    marts = mart_facts(runs["runner"])
    assert not set(unseen.order_ids) & marts.keys["orders"]
    assert marts == converged["source"]


def test_columns_changed_without_changes_converge_by_a_new_snapshot(
    runs: dict, converged: dict
) -> None:
    """A DEFAULT and a rename change every row without a change record: the tap warns and
    takes a new snapshot of customers, whose rows carry the source's values (item 4)."""
    run = converged["result"]
    assert SNAPSHOT_WARNING in run.stderr + run.stdout
    lake = f"{runs['runner'].lake_root}/tap_ecommerce_postgres/public-customers/*/*.parquet"
    with duckdb.connect() as conn:
        latest = conn.execute(
            f"select customer_id, loyalty_tier, postal_code from read_parquet('{lake}',"
            " union_by_name = true) where customer_id is not null and _sdc_snapshot_lsn ="
            f" (select max(_sdc_snapshot_lsn) from read_parquet('{lake}', union_by_name = true))"
            " order by 1"
        ).fetchall()
    assert latest == converged["customers"]


def test_a_new_environment_over_a_shop_with_deletions_builds(
    all_sources_env, meltano_installed, shop_db: str, runs: dict, converged: dict, tmp_path_factory
) -> None:
    """A fresh state and an empty lake over the shop after all its deletes: the charges of
    orders the lake never saw stay in fct_payments, flagged is_order_unknown, and the
    build passes (item 10). The rename of the item 4 test is undone first: the staging
    model reads zip_code, and adapting a model to a rename is a person's change."""
    with admin_connection(all_sources_env, shop_db) as conn:
        conn.execute("alter table customers rename column postal_code to zip_code")
    runner = local_lake_runner(
        {**all_sources_env, "PGDATABASE": shop_db}, tmp_path_factory.mktemp("e2e-fresh")
    )
    runner.run("run", "ecommerce-elt")
    gone = set(runs["deleted"].order_ids) | set(converged["unseen"].order_ids)
    with duckdb.connect(str(runner.warehouse), read_only=True) as conn:
        charges, unknown, deleted = conn.execute(
            "select count(*), list(distinct order_id) filter (where is_order_unknown),"
            " count(*) filter (where is_order_deleted) from fct_payments"
        ).fetchone()
    assert charges == len(StripeData(TEST_SCALE).charges)
    assert set(unknown) == gone and deleted == 0
    with admin_connection(all_sources_env, shop_db) as conn:
        assert mart_facts(runner) == shop_facts(conn)
