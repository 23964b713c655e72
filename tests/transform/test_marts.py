"""The marts are exact on the awkward cases: time zones, far-future dates, tied versions
in bronze and the net-paid rule. One real `dbt build` (under a non-UTC TZ) serves all
tests of this module."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from collections import defaultdict
from decimal import Decimal

import pytest

from tests.transform.ad_feed import ad_performance, budget_vs_actual
from tests.transform.bronze import BATCHED_AT, baseline, cents, charge, item, order, refund, utc
from tests.transform.conftest import DbtProject, output

pytestmark = pytest.mark.slow

NEW_YORK = "America/New_York"
NEW_YEAR_ORDER = 4  # ordered and charged at 2025-01-01 02:00Z = 2024-12-31 21:00 in New York
FAR_ORDER = 5  # ordered in 2029, after the old fixed end of dim_date (2027-12-31)
TIED_KEYS = range(100, 120)  # customers with two versions tied on every timestamp


def date_key(day: str) -> str:
    """The surrogate key of a calendar day, computed independently of dbt."""
    return hashlib.md5(day.encode()).hexdigest()


def edge_lake() -> dict[str, list[dict]]:
    streams = baseline()
    for order_id, ordered_at in (
        (NEW_YEAR_ORDER, "2025-01-01 02:00"),
        (FAR_ORDER, "2029-07-04 12:00"),
    ):
        streams["orders"].append(order(order_id, 2, ordered_at, [(1, 1, "10.00")]))
        streams["order_items"].append(item(order_id * 10, order_id, 1, 1, "10.00"))
        streams["charges"].append(charge(order_id, 1000, ordered_at))
    # A succeeded refund recorded against the failed retry of order 2: the two copies of the
    # net-paid rule disagreed on it (per order: captured - every refund; per charge: 0).
    streams["refunds"].append(refund("re_2f", "ch_2f", 1000, "2025-03-12 10:00"))
    return streams


def tied_versions() -> tuple[list[dict], list[dict]]:
    """Two files of one batch, each key once per file: the version with the higher
    `_sdc_sequence` sits in the first file for even keys and in the second for odd keys,
    first row or last, so neither file order nor row order can pick it by chance."""
    first, second = [], []
    stamp = utc("2025-02-01 00:00")
    for key in TIED_KEYS:
        base = {
            "customer_id": key,
            "email": f"tied{key}@example.com",
            "created_at": stamp,
            "updated_at": stamp,
            "_sdc_received_at": BATCHED_AT,
        }
        winner = {**base, "city": "winner", "_sdc_sequence": 1_000 + key}
        loser = {**base, "city": "loser", "_sdc_sequence": 500 + key}
        if key % 2 == 0:
            first.insert(0, winner)
            second.append(loser)
        else:
            first.append(loser)
            second.insert(0, winner)
    return first, second


@pytest.fixture(scope="module")
def build(dbt_project: DbtProject) -> subprocess.CompletedProcess:
    lake = dbt_project.lake
    lake.write_all(edge_lake())
    first, second = tied_versions()
    lake.write("customers", first, run_id="20250601T120000Z-aaaaaaaa")
    lake.write("customers", second, run_id="20250601T120000Z-bbbbbbbb")
    return dbt_project.dbt("build", tz=NEW_YORK)


def test_build_passes_every_dbt_test(build: subprocess.CompletedProcess) -> None:
    assert build.returncode == 0, output(build)


def test_dbt_sends_no_usage_events(
    build: subprocess.CompletedProcess, dbt_project: DbtProject
) -> None:
    """The project's own flag (dbt_project.yml), as meltano.yml turns Meltano's off: no
    variable of the tests sets it, so Meltano's, the demo's and a user's dbt read the same."""
    results = json.loads((dbt_project.workdir / "dbt-target" / "run_results.json").read_text())
    assert results["args"]["send_anonymous_usage_stats"] is False


def test_date_keys_are_utc_days_whatever_the_process_time_zone(
    build: subprocess.CompletedProcess, dbt_project: DbtProject
) -> None:
    expected = date_key("2025-01-01")
    [(order_key, item_key)] = dbt_project.query(
        "select o.order_date_key, i.order_date_key from fct_orders as o"
        " join fct_order_items as i using (order_id) where o.order_id = ?",
        [NEW_YEAR_ORDER],
    )
    [(payment_key,)] = dbt_project.query(
        "select payment_date_key from fct_payments where order_id = ?", [NEW_YEAR_ORDER]
    )
    assert (order_key, item_key, payment_key) == (expected, expected, expected)
    [(day,)] = dbt_project.query("select date_day from dim_date where date_key = ?", [expected])
    assert day == dt.date(2025, 1, 1)


def test_dbt_sessions_run_in_utc(
    build: subprocess.CompletedProcess, dbt_project: DbtProject
) -> None:
    shown = dbt_project.dbt(
        "show",
        "--inline",
        "select current_setting('TimeZone') as tz",
        "--output",
        "json",
        "--log-format",
        "json",
        tz=NEW_YORK,
    )
    assert shown.returncode == 0, output(shown)
    previews = [
        json.loads(line)["data"]["preview"]
        for line in shown.stdout.splitlines()
        if '"preview"' in line
    ]
    assert [json.loads(preview) for preview in previews] == [[{"tz": "UTC"}]]


def test_dim_date_covers_every_fact_date_with_a_margin(
    build: subprocess.CompletedProcess, dbt_project: DbtProject
) -> None:
    [(first, last, days)] = dbt_project.query(
        "select min(date_day), max(date_day), count(*) from dim_date"
    )
    # From January 1st of the first fact's year to December 31st of the year after the last.
    assert (first, last) == (dt.date(2025, 1, 1), dt.date(2030, 12, 31))
    assert days == (last - first).days + 1
    [(day,)] = dbt_project.query(
        "select d.date_day from fct_orders as o join dim_date as d on d.date_key = o.order_date_key"
        " where o.order_id = ?",
        [FAR_ORDER],
    )
    assert day == dt.date(2029, 7, 4)


def test_tied_versions_resolve_to_the_higher_sequence_on_every_read(
    build: subprocess.CompletedProcess, dbt_project: DbtProject
) -> None:
    sql = "select customer_id, city from {} where customer_id >= 100 order by 1"
    expected = [(key, "winner") for key in TIED_KEYS]
    # The staging view is re-evaluated on every read; dim_customers was built from it.
    for _ in range(5):
        assert dbt_project.query(sql.format("stg_shop__customers")) == expected
    assert dbt_project.query(sql.format("dim_customers")) == expected
    rerun = dbt_project.dbt("run", "--select", "stg_shop__customers+", tz=NEW_YORK)
    assert rerun.returncode == 0, output(rerun)
    assert dbt_project.query(sql.format("dim_customers")) == expected


def expected_net_by_order(streams: dict[str, list[dict]]) -> dict[int, Decimal]:
    """Net paid per order from the bronze rows: succeeded charges less the succeeded
    refunds of those charges (a charge that did not succeed captured nothing to refund)."""
    succeeded = {c["id"]: c for c in streams["charges"] if c["status"] == "succeeded"}
    net: dict[int, int] = defaultdict(int)
    for c in succeeded.values():
        net[int(c["metadata"]["order_id"])] += c["amount"]
    for r in streams["refunds"]:
        if r["status"] == "succeeded" and r["charge"] in succeeded:
            net[int(succeeded[r["charge"]]["metadata"]["order_id"])] -= r["amount"]
    return {order_id: cents(amount) for order_id, amount in net.items()}


def test_net_paid_is_one_rule_and_exact_to_the_cent(
    build: subprocess.CompletedProcess, dbt_project: DbtProject
) -> None:
    expected = expected_net_by_order(edge_lake())
    on_orders = dict(dbt_project.query("select order_id, net_paid_amount from fct_orders"))
    on_payments = dict(
        dbt_project.query("select order_id, sum(net_amount) from fct_payments group by order_id")
    )
    assert on_orders == expected
    assert on_payments == expected
    [(total_orders,)] = dbt_project.query("select sum(net_paid_amount) from fct_orders")
    [(total_payments,)] = dbt_project.query("select sum(net_amount) from fct_payments")
    assert total_orders == total_payments == sum(expected.values())


AD_MEASURES = ("event_count", "impressions", "clicks", "cost", "click_through_rate",
               "cost_per_click", "cost_per_mille")  # fmt: skip
BUDGET_MEASURES = ("is_planned", "planned_budget", "ad_platform_cost", "exported_spend",
                   "ad_cost_over_plan", "plan_used_ratio")  # fmt: skip


def mart_rows(dbt_project: DbtProject, mart: str, keys: str, measures: tuple) -> dict:
    rows = dbt_project.query(f"select {keys}, {', '.join(measures)} from {mart}")
    width = len(keys.split(","))
    return {row[:width]: dict(zip(measures, row[width:], strict=True)) for row in rows}


def column_types(dbt_project: DbtProject, table: str) -> dict[str, str]:
    return dict(
        dbt_project.query(
            "select column_name, data_type from information_schema.columns where table_name = ?",
            [table],
        )
    )


def test_ad_feed_staging_keeps_the_latest_read_of_each_event_and_plan_day(
    build: subprocess.CompletedProcess, dbt_project: DbtProject
) -> None:
    costs = dict(dbt_project.query("select event_id, cost from stg_marketing__ad_events"))
    # five events, the revised one at its re-read cost (not 10.25 from the first read)
    assert len(costs) == 5 and costs["EV-20250301-CMP-006"] == Decimal("11.75")
    plan = dbt_project.query(
        "select plan_date, channel, planned_budget from stg_marketing__budget_plan"
        " where channel = 'email' order by plan_date"
    )
    # 'Email' re-read later is the same plan day as 'email': one row, the revised amount
    assert plan == [
        (dt.date(2025, 3, 1), "email", Decimal("16.50")),
        (dt.date(2025, 3, 2), "email", Decimal("15.00")),
    ]
    # the nested attributes stay JSON; placement is read out of them where present
    rows = dbt_project.query(
        "select event_id, attributes, placement from stg_marketing__ad_events"
        " where event_id in ('EV-20250301-CMP-008', 'EV-20250302-CMP-003') order by 1"
    )
    assert [(r[0], json.loads(r[1]), r[2]) for r in rows] == [
        ("EV-20250301-CMP-008", {"placement": "inbox", "bid": {"max_cpc": 0.35}}, "inbox"),
        ("EV-20250302-CMP-003", {"bid": {"max_cpc": 1}}, None),
    ]


def test_ad_performance_is_exact_to_the_rows_written(
    build: subprocess.CompletedProcess, dbt_project: DbtProject
) -> None:
    got = mart_rows(
        dbt_project, "fct_ad_performance", "performance_date, channel, campaign_id", AD_MEASURES
    )
    assert got == ad_performance(edge_lake())
    # half-way rounds away from zero (0.25 / 8 = 0.03125), no clicks or impressions: NULL
    tiktok = got[(dt.date(2025, 3, 1), "tiktok", "CMP-008")]
    assert tiktok["cost_per_click"] == Decimal("0.0313")
    facebook = got[(dt.date(2025, 3, 1), "facebook", "CMP-003")]
    assert facebook["cost_per_click"] is None and facebook["click_through_rate"] == 0
    types = column_types(dbt_project, "fct_ad_performance")
    assert types["cost"] == "DECIMAL(18,2)"
    assert types["click_through_rate"] == "DECIMAL(18,6)"
    assert types["cost_per_click"] == types["cost_per_mille"] == "DECIMAL(18,4)"


def test_budget_vs_actual_has_every_day_and_channel_of_its_three_sources(
    build: subprocess.CompletedProcess, dbt_project: DbtProject
) -> None:
    got = mart_rows(dbt_project, "rpt_budget_vs_actual", "budget_date, channel", BUDGET_MEASURES)
    expected = budget_vs_actual(edge_lake())
    assert got == expected
    # a plan without spend, and spend without a plan, both stay
    assert got[(dt.date(2025, 3, 3), "tiktok")]["ad_platform_cost"] == 0
    assert got[(dt.date(2025, 3, 1), "tiktok")]["is_planned"] is False
    assert got[(dt.date(2025, 3, 1), "email")]["plan_used_ratio"] == Decimal("0.7121")
    types = column_types(dbt_project, "rpt_budget_vs_actual")
    assert {types[c] for c in BUDGET_MEASURES[1:5]} == {"DECIMAL(18,2)"}
    assert types["plan_used_ratio"] == "DECIMAL(18,4)"
