"""The real Meltano job and dbt build, reconciled from the source to the marts."""

from __future__ import annotations

import duckdb
import psycopg
import pytest

from scripts.pipeline_report import bronze_counts, duckdb_for_lake, warehouse_counts
from tests.e2e.conftest import MeltanoRunner

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SHOP_STREAMS = {
    "customers": "customer_id",
    "products": "product_id",
    "orders": "order_id",
    "order_items": "order_item_id",
}


def source_shop_facts(pg_conn: psycopg.Connection) -> dict[str, object]:
    facts: dict[str, object] = {
        table: pg_conn.execute(f"select count(*) from {table}").fetchone()[0]
        for table in SHOP_STREAMS
    }
    facts["orders_total"] = pg_conn.execute("select sum(total_amount) from orders").fetchone()[0]
    facts["items_total"] = pg_conn.execute("select sum(line_total) from order_items").fetchone()[0]
    return facts


def mart_fingerprint(warehouse) -> dict[str, str]:
    """md5 of each mart's full contents, ordered: equal fingerprints = identical marts."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        names = [
            row[0]
            for row in conn.execute("select table_name from information_schema.tables").fetchall()
            if row[0].startswith(("dim_", "fct_", "rpt_"))
        ]
        return {
            name: conn.execute(
                "select count(*) || ':' || coalesce(md5(string_agg(t::varchar, '|'"
                f" order by t::varchar)), '') from \"{name}\" as t"
            ).fetchone()[0]
            for name in names
        }


@pytest.fixture(scope="module")
def first_run(dev_runner: MeltanoRunner) -> MeltanoRunner:
    dev_runner.run("run", "ecommerce-elt")
    return dev_runner


def test_bronze_and_staging_hold_every_shop_row(first_run: MeltanoRunner, pg_conn) -> None:
    facts = source_shop_facts(pg_conn)
    bronze = bronze_counts(duckdb_for_lake(first_run.lake_root), first_run.lake_root)
    staging = warehouse_counts(first_run.warehouse, ("stg_shop__",))
    for table in SHOP_STREAMS:
        assert bronze[f"tap_ecommerce_postgres/public-{table}"] == facts[table], table
        assert staging[f"stg_shop__{table}"] == facts[table], table


def test_money_reconciles_to_the_cent_from_source_to_marts(
    first_run: MeltanoRunner, pg_conn
) -> None:
    facts = source_shop_facts(pg_conn)
    with duckdb.connect(str(first_run.warehouse), read_only=True) as conn:
        orders_total, order_count = conn.execute(
            "select sum(total_amount), count(*) from fct_orders"
        ).fetchone()
        items_total = conn.execute("select sum(line_total) from fct_order_items").fetchone()[0]
    assert order_count == facts["orders"]
    assert orders_total == facts["orders_total"]
    assert items_total == facts["items_total"]


def test_second_run_changes_nothing_in_the_marts(first_run: MeltanoRunner) -> None:
    before = mart_fingerprint(first_run.warehouse)
    assert before, "no marts were built"
    first_run.run("run", "ecommerce-elt")
    assert mart_fingerprint(first_run.warehouse) == before
