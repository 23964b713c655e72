"""A small bronze lake laid out and typed the way target-minio-parquet writes it.

The dbt tests need rows the sandbox never produces (an order at 02:00Z on New Year's day,
an order in 2029, a NULL foreign key, two versions of a key that tie on every timestamp),
so the lake is written here with pyarrow. Its shape is the target's contract, not a copy
of it: the Arrow schema of every stream comes from the target's own `arrow_schema()` (so
the `_sdc_*` columns, decimals, UTC timestamps and JSON-text columns are exactly what the
target writes), and files go to `<lake>/<source>/<stream>/extracted_date=<day>/<run>-<n>.parquet`.
The JSON schemas below mirror what each tap declares (see the taps' schema modules).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from target_minio_parquet.arrow_schema import arrow_schema

UTC = dt.UTC
BATCHED_AT = dt.datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

INT = {"type": ["integer", "null"]}
TEXT = {"type": ["string", "null"]}
BOOL = {"type": ["boolean", "null"]}
TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
DATE = {"type": ["string", "null"], "format": "date"}
FREE_FORM = {"type": ["object", "null"], "additionalProperties": {"type": ["string"]}}
OBJECT = {"type": ["object", "null"]}  # a nested object of any shape (the ad feed's attributes)


def decimal(precision: int, scale: int) -> dict[str, Any]:
    """The suite's decimal convention, which the target stores as decimal128(p, s)."""
    return {
        "type": ["string", "null"],
        "format": "x-singer.decimal",
        "precision": precision,
        "scale": scale,
    }


def properties(**columns: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": columns}


# (source folder, stream folder) -> JSON schema, as the taps declare them (a table: one
# stream per entry, so formatting is off).
# fmt: off
STREAMS: dict[tuple[str, str], dict[str, Any]] = {
    ("tap_ecommerce_postgres", "public-customers"): properties(
        customer_id=INT, email=TEXT, first_name=TEXT, last_name=TEXT, phone=TEXT,
        address=TEXT, city=TEXT, state=TEXT, country=TEXT, zip_code=TEXT,
        created_at=TIMESTAMP, updated_at=TIMESTAMP,
    ),
    ("tap_ecommerce_postgres", "public-products"): properties(
        product_id=INT, name=TEXT, category=TEXT, subcategory=TEXT, price=decimal(10, 2),
        cost=decimal(10, 2), weight_kg=decimal(8, 2), is_active=BOOL,
        created_at=TIMESTAMP, updated_at=TIMESTAMP,
    ),
    ("tap_ecommerce_postgres", "public-orders"): properties(
        order_id=INT, customer_id=INT, order_date=TIMESTAMP, status=TEXT,
        total_amount=decimal(12, 2), shipping_address=TEXT, shipping_city=TEXT,
        shipping_state=TEXT, shipping_country=TEXT, shipping_zip=TEXT,
        created_at=TIMESTAMP, updated_at=TIMESTAMP,
    ),
    ("tap_ecommerce_postgres", "public-order_items"): properties(
        order_item_id=INT, order_id=INT, product_id=INT, quantity=INT,
        unit_price=decimal(10, 2), discount_pct=decimal(5, 2), line_total=decimal(12, 2),
        created_at=TIMESTAMP,
    ),
    ("tap_stripe_custom", "charges"): properties(
        id=TEXT, object=TEXT, created=TIMESTAMP, updated=TIMESTAMP, metadata=FREE_FORM,
        amount=INT, amount_captured=INT, amount_refunded=INT, currency=TEXT, status=TEXT,
        paid=BOOL, captured=BOOL, refunded=BOOL, customer=TEXT,
    ),
    ("tap_stripe_custom", "refunds"): properties(
        id=TEXT, object=TEXT, created=TIMESTAMP, updated=TIMESTAMP, metadata=FREE_FORM,
        amount=INT, currency=TEXT, charge=TEXT, reason=TEXT, status=TEXT,
    ),
    ("tap_legacy_crm", "customers"): properties(
        id=INT, email=TEXT, full_name=TEXT, phone=TEXT, status=TEXT, segment=TEXT,
        signup_date=DATE, signup_date_raw=TEXT, lifetime_value=TEXT, num_orders=TEXT,
        updated_at=TIMESTAMP, _extra=FREE_FORM,
    ),
    ("tap_csv_marketing", "marketing_spend"): properties(
        date=DATE, channel=TEXT, campaign_name=TEXT, spend=decimal(18, 2),
        impressions=INT, clicks=INT, _sdc_source_file=TEXT, _sdc_source_lineno=INT,
    ),
    ("tap_csv_marketing", "campaign_performance"): properties(
        date=DATE, campaign_id=TEXT, campaign_name=TEXT, channel=TEXT, conversions=INT,
        revenue_attributed=decimal(18, 2), _sdc_source_file=TEXT, _sdc_source_lineno=INT,
    ),
    ("tap_csv_marketing", "ad_events"): properties(
        event_id=TEXT, date=DATE, platform=TEXT, campaign_id=TEXT, impressions=INT, clicks=INT,
        cost=decimal(18, 2), attributes=OBJECT, _sdc_source_file=TEXT, _sdc_source_lineno=INT,
    ),
    ("tap_csv_marketing", "budget_plan"): properties(
        date=DATE, channel=TEXT, planned_budget=decimal(18, 2), _sdc_source_file=TEXT,
        _sdc_source_lineno=INT,
    ),
}
# fmt: on
# The short names tests use for the streams above.
STREAM_BY_NAME = {
    "customers": ("tap_ecommerce_postgres", "public-customers"),
    "products": ("tap_ecommerce_postgres", "public-products"),
    "orders": ("tap_ecommerce_postgres", "public-orders"),
    "order_items": ("tap_ecommerce_postgres", "public-order_items"),
    "charges": ("tap_stripe_custom", "charges"),
    "refunds": ("tap_stripe_custom", "refunds"),
    "crm_customers": ("tap_legacy_crm", "customers"),
    "marketing_spend": ("tap_csv_marketing", "marketing_spend"),
    "campaign_performance": ("tap_csv_marketing", "campaign_performance"),
    "ad_events": ("tap_csv_marketing", "ad_events"),
    "budget_plan": ("tap_csv_marketing", "budget_plan"),
}


def utc(text: str) -> dt.datetime:
    """'2025-01-01 02:00' -> that wall-clock time in UTC."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class BronzeLake:
    """Writes one Parquet file per call, as one run of the target would."""

    root: Path
    _files: itertools.count = field(default_factory=lambda: itertools.count(1))
    _sequence: itertools.count = field(default_factory=lambda: itertools.count(1))

    def write(
        self,
        stream: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        batched_at: dt.datetime = BATCHED_AT,
        run_id: str | None = None,
    ) -> Path:
        """Append `rows` of `stream` ('orders', 'charges', 'marketing_spend'...) as one file.

        `_sdc_*` values a row does not carry get the target's: extracted, received and
        batched at `batched_at`, and a sequence increasing across the whole lake.
        """
        source, folder = STREAM_BY_NAME[stream]
        schema = arrow_schema(STREAMS[(source, folder)])
        filled = [self._with_metadata(schema, row, batched_at) for row in rows]
        table = pa.Table.from_pylist(filled, schema=schema)
        name = run_id or f"{batched_at:%Y%m%dT%H%M%SZ}-0000beef"
        path = (
            self.root
            / source
            / folder
            / f"extracted_date={batched_at:%Y-%m-%d}"
            / f"{name}-{next(self._files):05d}.parquet"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="zstd")
        return path

    def write_all(self, streams: Mapping[str, list[dict[str, Any]]]) -> None:
        for stream, rows in streams.items():
            self.write(stream, rows)

    def _with_metadata(
        self, schema: pa.Schema, row: Mapping[str, Any], batched_at: dt.datetime
    ) -> dict[str, Any]:
        record = {name: row.get(name) for name in schema.names}
        for name, value in record.items():
            if isinstance(value, dict):  # free-form objects are stored as JSON text
                record[name] = json.dumps(value)
        for name in ("_sdc_extracted_at", "_sdc_received_at", "_sdc_batched_at"):
            record[name] = row.get(name, batched_at)
        record["_sdc_sequence"] = row.get("_sdc_sequence", next(self._sequence))
        return record


def cents(amount: int) -> Decimal:
    return Decimal(amount) / 100


def baseline() -> dict[str, list[dict[str, Any]]]:
    """A consistent little shop that passes every dbt test: 2 customers, 2 products,
    3 orders with their items, one succeeded charge per order (one refunded in part, one
    in full), one failed retry, one CRM match, two days of marketing exports and of the ad
    platform's JSON feed (`ad_feed`)."""
    created = utc("2024-06-01 00:00")
    customers = [
        {
            "customer_id": n,
            "email": f"c{n}@example.com",
            "first_name": f"First{n}",
            "last_name": f"Last{n}",
            "state": "California" if n == 1 else "NY",
            "country": "USA",
            "created_at": created,
            "updated_at": created,
        }
        for n in (1, 2)
    ]
    products = [
        {
            "product_id": n,
            "name": f"Product {n}",
            "price": Decimal(price),
            "cost": Decimal("1.00"),
            "is_active": True,
            "created_at": created,
            "updated_at": created,
        }
        for n, price in ((1, "10.00"), (2, "25.50"))
    ]
    orders, items, charges, refunds = [], [], [], []
    # (order_id, customer_id, ordered_at, [(product_id, quantity, unit_price)])
    plan = [
        (1, 1, "2025-03-10 15:00", [(1, 2, "10.00")]),
        (2, 2, "2025-03-11 09:30", [(1, 1, "10.00"), (2, 1, "25.50")]),
        (3, 1, "2025-04-01 20:00", [(2, 3, "25.50")]),
    ]
    for order_id, customer_id, ordered_at, lines in plan:
        orders.append(order(order_id, customer_id, ordered_at, lines))
        for n, (product_id, quantity, price) in enumerate(lines):
            items.append(item(order_id * 10 + n, order_id, product_id, quantity, price))
        total = sum(quantity * Decimal(price) for _, quantity, price in lines)
        charges.append(charge(order_id, int(total * 100), ordered_at))
    charges.append(charge(2, 3550, "2025-03-11 09:29", status="failed", suffix="f"))
    refunds.append(refund("re_1", "ch_1", 500, "2025-03-15 10:00"))
    refunds.append(refund("re_3", "ch_3", 7650, "2025-04-03 10:00"))
    crm = [
        {
            "id": 501,
            "email": " C1@Example.com ",
            "full_name": "First1 Last1",
            "status": "Active",
            "lifetime_value": "1,234.50",
            "num_orders": "2",
            "updated_at": created,
        }
    ]
    spend = [
        {
            "date": dt.date(2025, 3, day),
            "channel": "Email",
            "campaign_name": "Spring",
            "spend": Decimal("12.34"),
            "impressions": 1000,
            "clicks": 10,
            "_sdc_source_file": "marketing_spend_2025-03.csv",
            "_sdc_source_lineno": day,
        }
        for day in (1, 2)
    ]
    performance = [
        {
            "date": dt.date(2025, 3, day),
            "campaign_id": "cmp-1",
            "campaign_name": "Spring",
            "channel": "email",
            "conversions": 2,
            "revenue_attributed": Decimal("40.00"),
            "_sdc_source_file": "campaign_performance_2025-03.csv",
            "_sdc_source_lineno": day,
        }
        for day in (1, 2)
    ]
    return {
        "customers": customers,
        "products": products,
        "orders": orders,
        "order_items": items,
        "charges": charges,
        "refunds": refunds,
        "crm_customers": crm,
        "marketing_spend": spend,
        "campaign_performance": performance,
        **ad_feed(),
    }


# The ad feed's monthly file re-read after the platform revised an event and the plan
# revised a day: the same keys again, loaded later. Staging must keep these versions.
REREAD_AT = utc("2025-06-02 12:00")


def ad_event(day: int, campaign_id: str, platform: str, cost: str, impressions: int,
             clicks: int, **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "event_id": f"EV-202503{day:02d}-{campaign_id}",
        "date": dt.date(2025, 3, day),
        "platform": platform,
        "campaign_id": campaign_id,
        "impressions": impressions,
        "clicks": clicks,
        "cost": Decimal(cost),
        "attributes": {"placement": "inbox", "bid": {"max_cpc": 0.35}},
        "_sdc_source_file": "ad_events_2025-03.ndjson",
        "_sdc_source_lineno": day,
        **extra,
    }


def ad_feed() -> dict[str, list[dict[str, Any]]]:
    """Ad events and the budget plan over the same March days as the CSV exports, with
    the awkward cases of the ratios: no clicks (no cost per click), no impressions (no
    click-through rate), a cost per click exactly half-way between two 4-decimal values
    (0.25 / 8 = 0.03125), a day and channel with a plan and no spend, and a revised event
    and plan day re-read from a changed file (the later read wins)."""
    reread = {"_sdc_extracted_at": REREAD_AT, "_sdc_received_at": REREAD_AT,
              "_sdc_batched_at": REREAD_AT}  # fmt: skip
    events = [
        ad_event(1, "CMP-006", "email", "10.25", 1000, 7),
        ad_event(1, "CMP-003", "Facebook ", "3.33", 900, 0),
        ad_event(1, "CMP-008", "tiktok", "0.25", 700, 8),
        ad_event(2, "CMP-006", "email", "20.00", 0, 0),
        ad_event(2, "CMP-003", "facebook", "7.01", 3000, 3, attributes={"bid": {"max_cpc": 1}}),
        ad_event(1, "CMP-006", "email", "11.75", 1000, 7, **reread),
    ]
    plan = [
        {"date": dt.date(2025, 3, day), "channel": channel, "planned_budget": Decimal(amount),
         "_sdc_source_file": "budget_plan_2025.json", "_sdc_source_lineno": n + 1}
        for n, (day, channel, amount) in enumerate([
            (1, "email", "15.00"), (1, "facebook", "5.00"), (2, "email", "15.00"),
            (3, "tiktok", "7.77"),
        ])
    ]  # fmt: skip
    plan.append({**plan[0], "channel": "Email", "planned_budget": Decimal("16.50"), **reread})
    return {"ad_events": events, "budget_plan": plan}


def order(
    order_id: int,
    customer_id: int | None,
    ordered_at: str,
    lines: list[tuple[int, int, str]],
    **extra: Any,
) -> dict[str, Any]:
    total = sum(quantity * Decimal(price) for _, quantity, price in lines)
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "order_date": utc(ordered_at),
        "status": "completed",
        "total_amount": total,
        "shipping_city": "Springfield",
        "shipping_state": "CA",
        "shipping_country": "US",
        "created_at": utc(ordered_at),
        "updated_at": utc(ordered_at),
        **extra,
    }


def item(
    order_item_id: int, order_id: int, product_id: int, quantity: int, price: str
) -> dict[str, Any]:
    return {
        "order_item_id": order_item_id,
        "order_id": order_id,
        "product_id": product_id,
        "quantity": quantity,
        "unit_price": Decimal(price),
        "discount_pct": Decimal("0.00"),
        "line_total": quantity * Decimal(price),
        "created_at": utc("2024-06-01 00:00"),
    }


def charge(
    order_id: int, amount: int, created: str, *, status: str = "succeeded", suffix: str = ""
) -> dict[str, Any]:
    return {
        "id": f"ch_{order_id}{suffix}",
        "object": "charge",
        "created": utc(created),
        "updated": utc(created),
        "metadata": {"order_id": str(order_id)},
        "amount": amount,
        "amount_captured": amount if status == "succeeded" else 0,
        "currency": "usd",
        "status": status,
        "paid": status == "succeeded",
        "customer": f"cus_{order_id}",
    }


def refund(refund_id: str, charge_id: str, amount: int, created: str) -> dict[str, Any]:
    return {
        "id": refund_id,
        "object": "refund",
        "created": utc(created),
        "updated": utc(created),
        "amount": amount,
        "currency": "usd",
        "charge": charge_id,
        "reason": "requested_by_customer",
        "status": "succeeded",
    }
