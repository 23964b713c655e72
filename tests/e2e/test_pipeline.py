"""The real Meltano job and dbt build, reconciled from the source to the marts."""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import psycopg
import pytest
from elt_sandbox.crm_api.data import build as crm_build
from elt_sandbox.marketing.generate import build_exports
from elt_sandbox.marketing.generate import manifest as marketing_manifest
from elt_sandbox.marketing.json_feed import build_feed, feed_manifest
from elt_sandbox.stripe_api.data import StripeData

from scripts.pipeline_report import bronze_counts, duckdb_for_lake, warehouse_counts
from tests.conftest import TEST_SCALE
from tests.e2e.conftest import MeltanoRunner, SecondNight, mart_fingerprint

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


def seeded_feed_manifest() -> dict:
    """The seeded JSON feed's manifest (the e2e sandbox has no simulated nights)."""
    return feed_manifest(build_feed())


@pytest.fixture(scope="module")
def first_run(clean_run: MeltanoRunner) -> MeltanoRunner:
    return clean_run


def test_bronze_and_staging_hold_every_shop_row(first_run: MeltanoRunner, pg_conn) -> None:
    facts = source_shop_facts(pg_conn)
    conn = duckdb_for_lake(first_run.lake_root)
    bronze = bronze_counts(conn, first_run.lake_root)
    staging = warehouse_counts(first_run.warehouse, ("stg_shop__",))
    for table, key in SHOP_STREAMS.items():
        stream = f"tap_ecommerce_postgres/public-{table}"
        distinct_keys = conn.execute(
            f"select count(distinct {key})"
            f" from read_parquet('{first_run.lake_root}/{stream}/*/*.parquet')"
        ).fetchone()[0]
        # Bronze is append-only: re-runs add re-read boundary rows, never lose keys.
        assert bronze[stream] >= facts[table], table
        assert distinct_keys == facts[table], table
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


def test_the_json_feed_reconciles_from_the_sandbox_to_bronze(first_run: MeltanoRunner) -> None:
    """The ad platform's JSON feed through `meltano run ecommerce-elt`: the lake holds every
    good record, its money to the cent, and every documented bad record in quarantine."""
    feed = seeded_feed_manifest()
    conn = duckdb_for_lake(first_run.lake_root)
    for stream, money in (("ad_events", "cost"), ("budget_plan", "planned_budget")):
        path = f"{first_run.lake_root}/tap_csv_marketing/{stream}"
        count, total = conn.execute(
            f"select count(*), sum({money}) from read_parquet('{path}/*/*.parquet')"
        ).fetchone()
        expected = feed["totals"][stream]
        assert (count, total) == (expected["good_records"], Decimal(expected["money_total"]))
        quarantined = conn.execute(
            f"select count(*) from read_parquet('{path}__quarantine/*/*.parquet')"
        ).fetchone()[0]
        bad = sum(
            len(entry["bad_records"])
            for entry in feed["files"].values()
            if entry["stream"] == stream
        )
        assert quarantined == bad, stream


def test_the_json_feed_reconciles_from_the_sandbox_to_the_marts(first_run: MeltanoRunner) -> None:
    """The feed's good records, each once, in staging; its cost per monthly file and its
    plan to the cent in the marts (the sandbox's manifest is the ground truth)."""
    feed = seeded_feed_manifest()
    totals = feed["totals"]
    staging = warehouse_counts(first_run.warehouse, ("stg_marketing__",))
    assert staging["stg_marketing__ad_events"] == totals["ad_events"]["good_records"]
    assert staging["stg_marketing__budget_plan"] == totals["budget_plan"]["good_records"]
    cost_by_file = {
        name: Decimal(entry["money_total"])
        for name, entry in feed["files"].items()
        if entry["stream"] == "ad_events"
    }
    with duckdb.connect(str(first_run.warehouse), read_only=True) as conn:
        by_month = dict(
            conn.execute(
                "select strftime(performance_date, '%Y-%m'), sum(cost)"
                " from fct_ad_performance group by 1"
            ).fetchall()
        )
        events, cost = conn.execute(
            "select sum(event_count), sum(cost) from fct_ad_performance"
        ).fetchone()
        planned, platform = conn.execute(
            "select sum(planned_budget), sum(ad_platform_cost) from rpt_budget_vs_actual"
        ).fetchone()
    # ad_events_2025-03.ndjson, ad_events_2025-12.ndjson.gz: the month is in the name
    assert {f"ad_events_{month}": total for month, total in by_month.items()} == {
        name.split(".")[0]: total for name, total in cost_by_file.items()
    }
    assert events == totals["ad_events"]["good_records"]
    assert cost == platform == Decimal(totals["ad_events"]["money_total"])
    assert planned == Decimal(totals["budget_plan"]["money_total"])


def test_every_source_reconciles_from_bronze_to_marts(first_run: MeltanoRunner) -> None:
    stripe = StripeData(TEST_SCALE)
    crm = crm_build(TEST_SCALE)
    exports = marketing_manifest(build_exports())
    bronze = bronze_counts(duckdb_for_lake(first_run.lake_root), first_run.lake_root)
    assert bronze["tap_stripe_custom/charges"] == len(stripe.lists["charges"].entries)
    assert bronze["tap_stripe_custom/refunds"] == len(stripe.lists["refunds"].entries)
    assert bronze["tap_legacy_crm/customers"] == len(crm.distinct_ids)
    assert bronze["tap_csv_marketing/marketing_spend"] == exports["totals"]["marketing_spend"]
    staging = warehouse_counts(first_run.warehouse, ("stg_",))
    assert staging["stg_stripe__charges"] == len(stripe.charges)
    assert staging["stg_stripe__refunds"] == len(stripe.refunds)
    assert staging["stg_crm__customers"] == len(crm.distinct_ids)
    assert staging["stg_marketing__spend"] == 365
    assert staging["stg_marketing__campaign_performance"] == 1200
    succeeded_cents = sum(f.amount for f in stripe.charges.values() if not f.failed)
    refunded_cents = sum(r["amount"] for r in stripe.refunds.values())
    with duckdb.connect(str(first_run.warehouse), read_only=True) as conn:
        captured, refunded = conn.execute(
            "select sum(amount) filter (where charge_status = 'succeeded'), sum(refunded_amount)"
            " from fct_payments"
        ).fetchone()
        net_on_orders = conn.execute("select sum(net_paid_amount) from fct_orders").fetchone()[0]
        matched = conn.execute("select count(*) from dim_customers where is_in_crm").fetchone()[0]
    assert captured == Decimal(succeeded_cents) / 100
    assert refunded == Decimal(refunded_cents) / 100
    assert net_on_orders == Decimal(succeeded_cents - refunded_cents) / 100
    assert matched > 0


def sources_with_freshness(manifest: dict) -> set[str]:
    def declared(freshness: dict | None) -> bool:
        return bool(freshness) and any(
            (freshness.get(level) or {}).get("count") for level in ("warn_after", "error_after")
        )

    return {
        unique_id
        for unique_id, source in manifest["sources"].items()
        if declared(source.get("freshness"))
    }


def test_dbt_docs_and_source_freshness_run(first_run: MeltanoRunner) -> None:
    target = first_run.workdir / "dbt-target"
    first_run.run("invoke", "dbt-duckdb:docs-generate")
    catalog = json.loads((target / "catalog.json").read_text())
    assert {n.split(".")[-1] for n in catalog["nodes"]} >= {"fct_orders", "dim_customers"}
    (target / "sources.json").unlink(missing_ok=True)
    first_run.run("invoke", "dbt-duckdb:freshness")
    # dbt's own result file, not its log: "PASS" also matches "PASS=0".
    results = json.loads((target / "sources.json").read_text())["results"]
    expected = sources_with_freshness(json.loads((target / "manifest.json").read_text()))
    assert expected, "no source declares freshness"
    assert {r["unique_id"] for r in results} == expected
    assert {r["unique_id"]: r["status"] for r in results} == dict.fromkeys(expected, "pass")


def test_schedules_list_a_daily_job_and_an_hourly_crm_job(dev_runner: MeltanoRunner) -> None:
    output = dev_runner.run("schedule", "list").stdout
    assert "[@daily] job daily-ecommerce-elt: ecommerce-elt" in output
    assert "[@hourly] job hourly-crm: crm-to-lake" in output


def test_second_run_changes_nothing_in_the_marts(second_clean_night: SecondNight) -> None:
    before = second_clean_night.marts_after_first
    assert before, "no marts were built"
    assert mart_fingerprint(second_clean_night.runner.warehouse) == before
