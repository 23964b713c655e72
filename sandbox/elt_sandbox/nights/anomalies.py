"""The upstream problems a simulated night can carry (`advance --anomaly NAME`).

Each is one realistic thing that goes wrong at a source, made to really happen in it; they
compose (`--anomaly spike --anomaly tz-shift`) and apply to every day of the call. The
table in the sandbox README is generated from `ANOMALIES` (a test keeps them equal).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Anomaly:
    name: str
    does: str  # what happens at the source
    monitor_sees: str  # what a data-quality monitor should report


ANOMALIES = {
    a.name: a
    for a in [
        Anomaly(
            "spike",
            "3x the day's normal number of shop orders (items and Stripe charges follow)",
            "orders, order_items, charges per event day far above the band (spike)",
        ),
        Anomaly(
            "drop",
            "30% of the day's normal number of shop orders (items and charges follow)",
            "orders, order_items, charges per event day far below the band (drop)",
        ),
        Anomaly(
            "duplicate-day",
            "the day's marketing rows exported a second time, in `<stream>_<day>_resend.csv`",
            "primary-key duplicates in marketing_spend / campaign_performance; the day's "
            "volume doubled",
        ),
        Anomaly(
            "tz-shift",
            "the day's new orders and their items stored 7 hours late (local UTC+7 written "
            "as UTC); Stripe keeps the true times",
            "orders' hour-of-day histogram shifted; about 7/24 of the day's orders on the "
            "next event day; orders vs charges per day disagree",
        ),
        Anomaly(
            "day-first-dates",
            "the day's marketing rows written with dd/mm/yyyy dates (09/01/2026 for 9 Jan)",
            "days 1-12: rows land on another month's date (9 Jan read as 1 Sep), so "
            "event-date volume appears far from today; days 13-31: rows quarantined "
            "(unparseable_date)",
        ),
        Anomaly(
            "null-burst",
            "orders.shipping_state NULL on every new order of the day (the shop has no "
            "orders.channel column, and customers.email is NOT NULL UNIQUE)",
            "null share of orders.shipping_state 100% for the event day (history ~0%)",
        ),
        Anomaly(
            "price-x100",
            "the day's new order items' unit_price and line_total x100 (cents written as "
            "dollars); orders.total_amount and the charges stay right",
            "order_items.unit_price mean/max x100; items no longer sum to their order's total",
        ),
        Anomaly(
            "half-price",
            "the day's new orders at half price (items, totals and charges), normal counts",
            "sum/mean of orders.total_amount, order_items.unit_price and charges.amount "
            "halved while row counts are normal",
        ),
        Anomaly(
            "currency-switch",
            "the day's Stripe charges (and their intents, balance transactions) in EUR",
            "charges.currency frequency: 'eur' appears (history: only 'usd')",
        ),
        Anomaly(
            "stripe-stale",
            "no Stripe object at all that day (charges, intents, refunds, customers) while "
            "the shop takes orders as usual",
            "charges freshness: none for the event day while orders grow (critical)",
        ),
        Anomaly(
            "late-rows",
            "extra orders (with items) inserted today with order_date 40-60 days back "
            "(an offline store's sync; paid in store, so no Stripe charge)",
            "rows for event dates older than N days (late-arriving); a closed month changes",
        ),
        Anomaly(
            "orphans",
            "Stripe charges whose metadata.order_id names no shop order (ids from "
            "2,000,000,001); the shop's own FKs (items->orders->customers) allow no orphans",
            "orphan share of charges -> orders above 0",
        ),
        Anomaly(
            "hard-delete-product",
            "DELETE of the newest product with no order items (products are read "
            "INCREMENTAL by updated_at, which cannot see a delete)",
            "a periodic full count of products against the source differs by 1; the lake "
            "still has the product active",
        ),
        Anomaly(
            "empty-export",
            "the previous ISO week's marketing_spend file rewritten with only its header",
            "ZERO_ROWS_FILE on a file that held rows (critical)",
        ),
        Anomaly(
            "quiet",
            "no shop activity at all: no customers, orders, items, status or customer "
            "updates, no product launch (so no new charges); Stripe refunds, CRM and "
            "marketing as usual",
            "LOG_BASED streams bring 0 changes; must not be judged a critical drop by itself",
        ),
        Anomaly(
            "crm-stale",
            "no CRM updates that day",
            "crm customers: no new updated_at while the shop grows (stale after a few days; "
            "one day of 0 is normal at small scales)",
        ),
    ]
}


class UnknownAnomaly(ValueError):
    """A name that is not in ANOMALIES."""


class AnomalyNotPossible(RuntimeError):
    """The sandbox's current data cannot carry this anomaly (says why and what to do)."""


def validate(names: list[str] | tuple[str, ...]) -> frozenset[str]:
    unknown = sorted(set(names) - set(ANOMALIES))
    if unknown:
        raise UnknownAnomaly(
            f"unknown anomaly {', '.join(unknown)}; known: {', '.join(sorted(ANOMALIES))}"
        )
    return frozenset(names)


def markdown_table() -> str:
    """The README's table: name, what happens at the source, what a monitor should see."""
    lines = [
        "| anomaly | what happens at the source | what a monitor should see |",
        "|---|---|---|",
    ]
    for anomaly in ANOMALIES.values():
        lines.append(f"| `{anomaly.name}` | {anomaly.does} | {anomaly.monitor_sees} |")
    return "\n".join(lines)
