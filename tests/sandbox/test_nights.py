"""Simulated nights: every source grows by exactly the recorded ground truth, a seed
repeats a night, weekends are quieter, and each anomaly really happens at its source.

Everything is read back through the real edges: Postgres, the Stripe stand-in through the
official `stripe` library, the CRM over HTTP (its demo faults retried), the export files
on disk and in S3.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import statistics
import subprocess
import sys
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
import stripe
from elt_sandbox import api
from elt_sandbox.marketing.generate import new_export_file
from elt_sandbox.nights import anomalies as anomaly_registry
from elt_sandbox.nights.anomalies import AnomalyNotPossible, UnknownAnomaly
from elt_sandbox.nights.plan import DEFAULT_SEED, volumes
from elt_sandbox.runtime import SandboxHome
from elt_sandbox.services.s3 import s3_client
from elt_sandbox.services.stripe_api import StripeService
from elt_sandbox.shop.seed import table_fingerprints

from tests.conftest import REPO_ROOT
from tests.sandbox.conftest import NIGHT_SCALE, connect, env_of

DAY = dt.timedelta(days=1)


# -- reading the sources back ---------------------------------------------------------------


def stripe_objects(home: SandboxHome, resource: str, day: dt.date) -> list:
    env = env_of(home)
    client = stripe.StripeClient(
        env["SANDBOX_STRIPE_API_KEY"],
        base_addresses={"api": env["SANDBOX_STRIPE_API_BASE"]},
        max_network_retries=0,
    )
    start = calendar.timegm(day.timetuple())
    listing = getattr(client.v1, resource).list(
        params={"created": {"gte": start, "lt": start + 86400}, "limit": 100}
    )
    return list(listing.auto_paging_iter())


def crm_updated_since(home: SandboxHome, since: dt.date) -> set[int]:
    """Distinct ids the CRM lists as updated since `since` (its demo faults retried)."""
    env = env_of(home)
    ids: set[int] = set()
    page, pages = 1, 1
    while page <= pages:
        url = (
            f"{env['SANDBOX_CRM_API_URL']}/api/v1/customers?page={page}&per_page=1000"
            f"&updated_since={since.isoformat()}T00:00:00Z"
        )
        request = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {env['SANDBOX_CRM_API_TOKEN']}"}
        )
        for _ in range(30):
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    body = json.loads(response.read())
                break
            except (urllib.error.HTTPError, json.JSONDecodeError):
                continue
        else:
            raise AssertionError(f"CRM page {page} kept failing")
        ids |= {int(str(record["id"])) for record in body["data"]}
        pages = body["pagination"]["total_pages"]
        page += 1
    return ids


def export_dir(home: SandboxHome) -> Path:
    return Path(env_of(home)["SANDBOX_CSV_DIR"])


def s3_bytes(home: SandboxHome, name: str) -> bytes:
    env = env_of(home)
    body = s3_client(env).get_object(Bucket=env["LAKE_BUCKET"], Key=f"exports/marketing/{name}")
    return body["Body"].read()


def data_lines(path: Path) -> list[str]:
    text = path.read_bytes().decode("utf-8-sig")
    return [line for line in text.splitlines()[1:] if line.strip()]


def expected(truth: list[dict], source: str, stream: str, change: str = "insert", **match):
    """(rows, amount) of the truth rows that match."""
    rows = [
        t
        for t in truth
        if t["source"] == source
        and t["stream"] == stream
        and t["change"] == change
        and all(t[key] == value for key, value in match.items())
    ]
    return sum(t["rows"] for t in rows), sum((t["amount"] or 0 for t in rows), Decimal(0))


def advance_one(home: SandboxHome, *names: str):
    [night] = api.advance(home, anomalies=list(names))
    return night, api.ground_truth(home, night.day)


def max_order_id(home: SandboxHome) -> int:
    with connect(home) as conn:
        return conn.execute("select max(order_id) from orders").fetchone()[0]


def window(day: dt.date) -> list[dt.datetime]:
    return [dt.datetime.combine(day, dt.time()), dt.datetime.combine(day + DAY, dt.time())]


# -- normal nights ------------------------------------------------------------------------


SHOP_TABLES = {  # table -> (event time column, money column)
    "customers": ("created_at", None),
    "orders": ("order_date", "total_amount"),
    "order_items": ("created_at", "line_total"),
}


def shop_totals(home: SandboxHome) -> dict[str, int]:
    with connect(home) as conn:
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in SHOP_TABLES}


def test_three_nights_grow_every_source_by_the_ground_truth(night_home) -> None:
    for _ in range(3):
        shop_before = shop_totals(night_home)
        manifest_before = json.loads((export_dir(night_home) / "_manifest.json").read_text())
        night, truth = advance_one(night_home)
        day = night.day
        assert api.today(night_home) == day
        night_only = {"origin": "night", "event_day": day}
        with connect(night_home) as conn:
            for table, (stamp, money) in SHOP_TABLES.items():
                rows, amount = conn.execute(
                    f"select count(*), coalesce(sum({money or 0}), 0) from {table}"
                    f" where {stamp} >= %s and {stamp} < %s",
                    window(day),
                ).fetchone()
                assert (rows, amount) == expected(truth, "shop", table, **night_only), table
                assert shop_totals(night_home)[table] - shop_before[table] == rows, table
        charges = stripe_objects(night_home, "charges", day)
        rows, amount = expected(truth, "stripe", "charges", **night_only)
        assert (len(charges), sum(c.amount for c in charges)) == (rows, amount * 100)
        for resource in ("refunds", "customers", "disputes", "payment_intents"):
            listed = stripe_objects(night_home, resource, day)
            assert len(listed) == expected(truth, "stripe", resource, event_day=day)[0], resource
        balance = stripe_objects(night_home, "balance_transactions", day)
        assert len(balance) == expected(truth, "stripe", "balance_transactions", event_day=day)[0]
        assert len(crm_updated_since(night_home, day)) == expected(truth, "crm", "customers",
                                                                   "update")[0]  # fmt: skip
        manifest = json.loads((export_dir(night_home) / "_manifest.json").read_text())
        for stream in ("marketing_spend", "campaign_performance"):
            rows = expected(truth, "marketing", stream, event_day=day)[0]
            assert manifest["totals"][stream] - manifest_before["totals"][stream] == rows
            week_file = new_export_file(stream, day).name
            dated = [line for line in data_lines(export_dir(night_home) / week_file)
                     if line.startswith(day.isoformat())]  # fmt: skip
            assert len(dated) == rows
            assert (
                s3_bytes(night_home, week_file) == (export_dir(night_home) / week_file).read_bytes()
            )
        # the JSON feed: the night's ad events in its month's NDJSON file, on S3 too
        rows, amount = expected(truth, "marketing", "ad_events", event_day=day)
        feed, feed_before = manifest["json_feed"]["totals"], manifest_before["json_feed"]["totals"]
        assert feed["ad_events"]["good_records"] - feed_before["ad_events"]["good_records"] == rows
        grown = Decimal(feed["ad_events"]["money_total"]) - Decimal(
            feed_before["ad_events"]["money_total"]
        )
        assert rows == 8 and grown == amount
        name = f"ad_events_{day:%Y-%m}.ndjson"
        events = [json.loads(line, parse_float=Decimal)
                  for line in (export_dir(night_home) / name).read_text().splitlines()]  # fmt: skip
        dated = [e for e in events if e["date"] == day.isoformat()]
        assert (len(dated), sum(e["cost"] for e in dated)) == (rows, amount)
        assert s3_bytes(night_home, name) == (export_dir(night_home) / name).read_bytes()


def test_a_restarted_stripe_stand_in_replays_the_nights(night_home) -> None:
    if api.today(night_home) is None:
        api.advance(night_home)
    day = api.today(night_home)
    before = [c.id for c in stripe_objects(night_home, "charges", day)]
    service = StripeService()
    service.down(night_home)
    api.up(night_home, scale=NIGHT_SCALE, services=["stripe"])
    assert [c.id for c in stripe_objects(night_home, "charges", day)] == before != []


def test_the_same_seed_makes_the_same_nights_and_another_seed_others(fresh_home) -> None:
    first, second = fresh_home(), fresh_home()
    for home in (first, second):
        api.advance(home, days=2, seed=7)
    assert api.ground_truth(first) == api.ground_truth(second) != []
    with connect(first) as a, connect(second) as b:
        assert table_fingerprints(a) == table_fingerprints(b)
    [seven] = api.advance(first, seed=7)
    [eight] = api.advance(second, seed=8)
    assert seven.volumes != eight.volumes


def test_weekends_are_quieter_over_two_weeks(night_home) -> None:
    nights = api.advance(night_home, days=14)
    by_weekday: dict[bool, list[int]] = {True: [], False: []}
    with connect(night_home) as conn:
        for night in nights:
            orders = conn.execute(
                "select count(*) from orders where order_date >= %s and order_date < %s",
                window(night.day),
            ).fetchone()[0]
            by_weekday[night.day.weekday() >= 5].append(orders)
    assert statistics.mean(by_weekday[True]) < 0.85 * statistics.mean(by_weekday[False])


# -- anomalies ------------------------------------------------------------------------------


def normal_orders(day: dt.date) -> int:
    return volumes(NIGHT_SCALE, day, DEFAULT_SEED, frozenset()).orders


def orders_on(home: SandboxHome, day: dt.date, after_id: int) -> list[tuple]:
    with connect(home) as conn:
        return conn.execute(
            "select order_id, order_date, shipping_state, total_amount from orders"
            " where order_id > %s order by order_id",
            [after_id],
        ).fetchall()


@pytest.mark.parametrize(("name", "factor"), [("spike", 3), ("drop", 0.3)])
def test_spike_and_drop_scale_the_days_orders(night_home, name, factor) -> None:
    after = max_order_id(night_home)
    night, _ = advance_one(night_home, name)
    assert len(orders_on(night_home, night.day, after)) == round(normal_orders(night.day) * factor)


def test_duplicate_day_exports_the_days_rows_again(night_home) -> None:
    night, _ = advance_one(night_home, "duplicate-day")
    for stream in ("marketing_spend", "campaign_performance"):
        week = data_lines(export_dir(night_home) / new_export_file(stream, night.day).name)
        resend = data_lines(export_dir(night_home) / f"{stream}_{night.day}_resend.csv")
        assert resend == [line for line in week if line.startswith(night.day.isoformat())]


def test_tz_shift_stores_new_orders_seven_hours_late(night_home) -> None:
    after = max_order_id(night_home)
    night, _ = advance_one(night_home, "tz-shift")
    charged = {
        int(c.metadata["order_id"]): c.created
        for c in stripe_objects(night_home, "charges", night.day)
    }
    shifts = {
        calendar.timegm(order_date.replace(microsecond=0).timetuple()) - charged[order_id]
        for order_id, order_date, *_ in orders_on(night_home, night.day, after)
    }
    assert shifts == {7 * 3600}


def test_day_first_dates_write_the_days_marketing_dates_dd_mm_yyyy(night_home) -> None:
    night, _ = advance_one(night_home, "day-first-dates")
    day = night.day
    week = data_lines(export_dir(night_home) / new_export_file("marketing_spend", day).name)
    assert week[-1].startswith(f"{day.day:02d}/{day.month:02d}/{day.year},")


def test_null_burst_nulls_the_days_shipping_state(night_home) -> None:
    after = max_order_id(night_home)
    night, _ = advance_one(night_home, "null-burst")
    states = [row[2] for row in orders_on(night_home, night.day, after)]
    assert states and set(states) == {None}


def item_prices(home: SandboxHome, after_order: int) -> list[tuple[Decimal, Decimal]]:
    with connect(home) as conn:
        return conn.execute(
            "select i.unit_price, p.price from order_items i join products p using (product_id)"
            " where i.order_id > %s",
            [after_order],
        ).fetchall()


def test_price_x100_multiplies_the_days_unit_prices(night_home) -> None:
    after = max_order_id(night_home)
    advance_one(night_home, "price-x100")
    prices = item_prices(night_home, after)
    assert prices and all(unit == price * 100 for unit, price in prices)


def test_half_price_halves_items_and_the_charges_match(night_home) -> None:
    after = max_order_id(night_home)
    night, _ = advance_one(night_home, "half-price")
    prices = item_prices(night_home, after)
    assert prices and all(unit == (price / 2).quantize(Decimal("0.01"), "ROUND_HALF_UP")
                          for unit, price in prices)  # fmt: skip
    totals = {order_id: total for order_id, _, _, total in orders_on(night_home, night.day, after)}
    charged = {
        int(c.metadata["order_id"]): c.amount
        for c in stripe_objects(night_home, "charges", night.day)
    }
    assert charged == {order_id: int(total * 100) for order_id, total in totals.items()}


def test_currency_switch_charges_the_day_in_eur(night_home) -> None:
    night, _ = advance_one(night_home, "currency-switch")
    assert {c.currency for c in stripe_objects(night_home, "charges", night.day)} == {"eur"}


def test_stripe_stale_brings_no_charges_while_the_shop_sells(night_home) -> None:
    after = max_order_id(night_home)
    night, _ = advance_one(night_home, "stripe-stale")
    assert orders_on(night_home, night.day, after)
    assert stripe_objects(night_home, "charges", night.day) == []


def test_late_rows_arrive_with_order_dates_40_to_60_days_back(night_home) -> None:
    after = max_order_id(night_home)
    night, _ = advance_one(night_home, "late-rows")
    late = [
        row
        for row in orders_on(night_home, night.day, after)
        if row[1].date() <= night.day - 40 * DAY
    ]
    assert len(late) == night.volumes.late_orders >= 3


def test_orphans_are_charges_for_orders_that_do_not_exist(night_home) -> None:
    night, _ = advance_one(night_home, "orphans")
    charged = {
        int(c.metadata["order_id"]) for c in stripe_objects(night_home, "charges", night.day)
    }
    with connect(night_home) as conn:
        query = "select order_id from orders where order_id = any(%s)"
        known = {row[0] for row in conn.execute(query, [sorted(charged)])}
    assert len(charged - known) == night.volumes.orphan_charges >= 2


def test_hard_delete_product_deletes_an_unsold_product(night_home) -> None:
    for _ in range(4):  # a product launches every Monday and Thursday
        [night] = api.advance(night_home)
        if night.volumes.product_launches:
            break
    night, truth = advance_one(night_home, "hard-delete-product")
    [deleted] = [t for t in truth if t["stream"] == "products" and t["change"] == "delete"]
    product_id = int(deleted["detail"].split()[-1])
    with connect(night_home) as conn:
        assert conn.execute("select count(*) from products where product_id = %s",
                            [product_id]).fetchone()[0] == 0  # fmt: skip


def test_hard_delete_product_says_why_when_every_product_sold(fresh_home) -> None:
    home = fresh_home()  # at scale 0.01 every seeded product has order items
    with pytest.raises(AnomalyNotPossible, match="every product launched before this day"):
        api.advance(home, anomalies=["hard-delete-product"])
    assert api.today(home) is None


def elt_sandbox(home: SandboxHome, *args: str) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "elt-sandbox"), "--home", str(home.root), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_cli_advances_prints_each_night_and_its_truth(fresh_home) -> None:
    home = fresh_home()
    refused = elt_sandbox(home, "advance", "--anomaly", "hard-delete-product")
    assert refused.returncode == 1 and "every product launched" in refused.stderr
    done = elt_sandbox(home, "advance", "--days", "2", "--seed", "5")
    assert done.returncode == 0, done.stderr
    nights = [json.loads(line) for line in done.stdout.splitlines()]
    assert [n["day"] for n in nights] == ["2026-01-01", "2026-01-02"]
    truth = elt_sandbox(home, "truth", "--day", "2026-01-02")
    rows = [json.loads(line) for line in truth.stdout.splitlines()]
    csv_streams = ("marketing_spend", "campaign_performance")
    total = sum(
        r["rows"] for r in rows if r["source"] == "marketing" and r["stream"] in csv_streams
    )
    assert total == nights[1]["rows"]["marketing/campaign_performance insert"] + 1
    assert nights[1]["rows"]["marketing/ad_events insert"] == 8  # the JSON feed's day


def test_empty_export_leaves_last_weeks_spend_file_with_its_header(night_home) -> None:
    night, _ = advance_one(night_home, "empty-export")
    name = new_export_file("marketing_spend", night.day - 7 * DAY).name
    path = export_dir(night_home) / name
    assert data_lines(path) == [] and s3_bytes(night_home, name) == path.read_bytes()


def test_quiet_changes_nothing_in_the_shop(night_home) -> None:
    with connect(night_home) as conn:
        before = table_fingerprints(conn)
    advance_one(night_home, "quiet")
    with connect(night_home) as conn:
        assert table_fingerprints(conn) == before


def test_crm_stale_updates_no_crm_customer(night_home) -> None:
    night, _ = advance_one(night_home, "crm-stale")
    assert crm_updated_since(night_home, night.day) == set()


def test_an_unknown_anomaly_names_the_known_ones(night_home) -> None:
    with pytest.raises(UnknownAnomaly, match="known: crm-stale, currency-switch"):
        api.advance(night_home, anomalies=["spikes"])


def test_the_readme_documents_every_anomaly() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert anomaly_registry.markdown_table() in readme
