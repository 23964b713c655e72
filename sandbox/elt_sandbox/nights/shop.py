"""One simulated day in the shop database: new customers, orders with items, status and
customer updates, a product launch; and the shop's anomalies.

Rows are made the way `shop.generate` makes the seeded history (same status mix, item
counts, price matching, messy states and countries), with names and addresses recombined
from existing customers instead of Faker (Faker's pools cost 1.4 s, a night must cost
less). Orders buy only seeded products: a product launched in a night never sells, so
`hard-delete-product` always finds one without order items. Keys come from the tables'
own sequences. Stored timestamps are UTC wall clock, as in the seed.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg

from elt_sandbox.nights.anomalies import AnomalyNotPossible
from elt_sandbox.nights.ledger import Truth
from elt_sandbox.nights.plan import FIRST_DAY, Volumes
from elt_sandbox.shop.generate import (
    CATEGORIES,
    CENT,
    COUNTRY_SPELLINGS,
    CUSTOMER_COLUMNS,
    EMAIL_DOMAINS,
    MESSY_STATUSES,
    ORDER_COLUMNS,
    ORDER_ITEM_COLUMNS,
    PRODUCT_COLUMNS,
    STATUS_WEIGHTS,
    US_STATES,
    _messy_state,
    _pick_weighted,
    money,
)

TZ_SHIFT = dt.timedelta(hours=7)
LATE_DAYS = (40, 60)
HISTORY_END = dt.datetime.combine(FIRST_DAY, dt.time())


@dataclass
class PaidOrder:
    """What Stripe needs of a new order: its charge is created at the true UTC time."""

    order_id: int
    customer_id: int
    email: str
    ordered_at: dt.datetime  # true UTC (before a tz-shift)
    total: Decimal


@dataclass
class ShopNight:
    new_customers: list[tuple[int, str, dt.datetime]] = field(default_factory=list)
    paid_orders: list[PaidOrder] = field(default_factory=list)
    truth: list[Truth] = field(default_factory=list)


# A shop's day (UTC, for a US store): quiet nights, busy evenings. Orders, their items and
# their Stripe charges follow it; a time zone error shows as a shifted rhythm.
HOUR_WEIGHTS = (3, 2, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 7, 7, 7, 8, 9, 10, 10, 9, 7, 5, 4)


def _moment(rng: random.Random, day: dt.date) -> dt.datetime:
    """A moment of `day` on the shop's rhythm, never before 00:30: the previous night's
    job ran then, and the API taps read up to the moment they ran, so what a simulated
    day put before it would never be read (a real shop's 00:00-00:30 is read by that run)."""
    hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
    return dt.datetime.combine(day, dt.time(hour)) + dt.timedelta(
        seconds=rng.randrange(1800 if hour == 0 else 0, 3600), microseconds=rng.randrange(10**6)
    )


def _sequence_values(conn: psycopg.Connection, table: str, key: str, count: int) -> list[int]:
    if not count:
        return []
    return [
        row[0]
        for row in conn.execute(
            "select nextval(pg_get_serial_sequence(%s, %s)) from generate_series(1, %s)",
            [table, key, count],
        )
    ]


def _copy(conn: psycopg.Connection, table: str, columns: tuple[str, ...], rows: list) -> None:
    if not rows:
        return
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


class ShopDay:
    """Writes one day into the shop inside the caller's transaction."""

    def __init__(
        self,
        conn: psycopg.Connection,
        day: dt.date,
        seed: int,
        volumes: Volumes,
        anomalies: frozenset[str],
    ) -> None:
        self.conn = conn
        self.day = day
        self.volumes = volumes
        self.anomalies = anomalies
        self.rng = random.Random(f"{seed}:{day.isoformat()}:shop")
        self.night = ShopNight()

    def write(self) -> ShopNight:
        pools = self._pools()
        self._customers(pools)
        self._product_launches()
        self._orders()
        self._status_updates()
        self._customer_updates(pools)
        if "hard-delete-product" in self.anomalies:
            self._hard_delete_product()
        return self.night

    def _pools(self) -> dict[str, list]:
        """Names and addresses of the first 500 customers, recombined for new ones."""
        rows = self.conn.execute(
            "select first_name, last_name, address, city, zip_code, phone from customers"
            " order by customer_id limit 500"
        ).fetchall()
        if not rows:
            raise AnomalyNotPossible("the shop has no customers: run `elt-sandbox up` first")
        keys = ("first", "last", "street", "city", "zip", "phone")
        return {key: [row[i] for row in rows if row[i]] for i, key in enumerate(keys)}

    def _customers(self, pools: dict[str, list]) -> None:
        rng, count = self.rng, self.volumes.customers
        ids = _sequence_values(self.conn, "customers", "customer_id", count)
        moments = sorted(_moment(rng, self.day) for _ in ids)
        states = list(US_STATES)
        rows = []
        for customer_id, created in zip(ids, moments, strict=True):
            first, last = rng.choice(pools["first"]), rng.choice(pools["last"])
            email = f"{first}.{last}{customer_id}@{rng.choice(EMAIL_DOMAINS)}"
            if rng.random() >= 0.05:
                email = email.lower()
            rows.append(
                (
                    customer_id,
                    email,
                    first,
                    last,
                    None if rng.random() < 0.3 else rng.choice(pools["phone"]),
                    rng.choice(pools["street"]),
                    rng.choice(pools["city"]),
                    _messy_state(rng, rng.choice(states)),
                    _pick_weighted(rng, COUNTRY_SPELLINGS),
                    rng.choice(pools["zip"]),
                    created,
                    created,
                )
            )
            self.night.new_customers.append((customer_id, email, created))
        _copy(self.conn, "customers", CUSTOMER_COLUMNS, rows)
        self._truth_by_day("customers", "insert", [(row[10], None) for row in rows])

    def _product_launches(self) -> None:
        rng = self.rng
        ids = _sequence_values(self.conn, "products", "product_id", self.volumes.product_launches)
        categories = list(CATEGORIES)
        rows = []
        for product_id in ids:
            category = categories[(product_id - 1) % len(categories)]
            subcategory = rng.choice(CATEGORIES[category])
            price = money(min(499.99, max(1.99, rng.lognormvariate(3.1, 0.8))))
            created = _moment(rng, self.day)
            rows.append(
                (
                    product_id,
                    f"{subcategory} {category.split()[0]} {product_id:04d}",
                    category,
                    subcategory,
                    price,
                    money(float(price) * rng.uniform(0.4, 0.7)),
                    money(rng.uniform(0.05, 25)),
                    True,
                    created,
                    created,
                )
            )
        _copy(self.conn, "products", PRODUCT_COLUMNS, rows)
        self._truth_by_day("products", "insert", [(row[8], None) for row in rows])

    def _orders(self) -> None:
        rng, volumes = self.rng, self.volumes
        customer_ids = self.conn.execute(
            "select array_agg(customer_id order by customer_id) from customers"
        ).fetchone()[0]
        products = self.conn.execute(
            "select product_id, price from products where created_at < %s order by price,"
            " product_id",
            [HISTORY_END],
        ).fetchall()
        prices = [float(price) for _, price in products]
        day_start = dt.datetime.combine(self.day, dt.time())
        plans: list[tuple[dt.datetime, dt.datetime, bool]] = []  # (ordered, updated, late)
        for moment in sorted(_moment(rng, self.day) for _ in range(volumes.orders)):
            plans.append((moment, moment, False))
        for _ in range(volumes.late_orders):
            back = dt.timedelta(days=rng.randint(*LATE_DAYS))
            plans.append((_moment(rng, self.day) - back, _moment(rng, self.day), True))
        ids = _sequence_values(self.conn, "orders", "order_id", len(plans))
        buyers = [customer_ids[rng.randrange(len(customer_ids))] for _ in plans]
        contact = {
            row[0]: row[1:]
            for row in self.conn.execute(
                "select customer_id, email, address, city, zip_code from customers"
                " where customer_id = any(%s)",
                [sorted(set(buyers))],
            )
        }
        shift = TZ_SHIFT if "tz-shift" in self.anomalies else dt.timedelta()
        statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
        orders, items = [], []
        for order_id, customer_id, (ordered, updated, late) in zip(ids, buyers, plans, strict=True):
            n_items = rng.choices([1, 2, 3, 4, 5], weights=[25, 30, 25, 12, 8])[0]
            target_total = min(600.0, max(4.0, rng.gauss(65, 40)))
            total = Decimal("0.00")
            stored = ordered if late else ordered + shift
            for _ in range(n_items):
                quantity = rng.choices([1, 2, 3], weights=[75, 18, 7])[0]
                index = bisect.bisect_left(prices, target_total / n_items / quantity)
                product_id, price = products[
                    min(len(products) - 1, max(0, index + rng.randint(-2, 2)))
                ]
                discount = rng.choices([0, 5, 10, 15, 20], weights=[80, 6, 7, 4, 3])[0]
                unit_price = money(price / 2) if "half-price" in self.anomalies else price
                line_total = money(unit_price * quantity * (100 - discount) / 100)
                total += line_total
                if "price-x100" in self.anomalies and not late:
                    unit_price, line_total = unit_price * 100, line_total * 100
                items.append(
                    [
                        None,
                        order_id,
                        product_id,
                        quantity,
                        unit_price,
                        Decimal(discount).quantize(CENT),
                        line_total,
                        stored,
                    ]
                )
            status = rng.choices(statuses, weights=weights)[0]
            if rng.random() < 0.02:
                status = rng.choice(MESSY_STATUSES)
            email, address, city, zip_code = contact[customer_id]
            state = _messy_state(rng, rng.choice(list(US_STATES)))
            if "null-burst" in self.anomalies and not late:
                state = None
            country = _pick_weighted(rng, COUNTRY_SPELLINGS)
            orders.append(
                (
                    order_id,
                    customer_id,
                    stored,
                    status,
                    total,
                    address,
                    city,
                    state,
                    country,
                    zip_code,
                    stored,
                    updated if late else updated + shift,
                )
            )
            if not late:
                self.night.paid_orders.append(
                    PaidOrder(order_id, customer_id, email, ordered, total)
                )
        item_ids = _sequence_values(self.conn, "order_items", "order_item_id", len(items))
        for item, item_id in zip(items, item_ids, strict=True):
            item[0] = item_id
        _copy(self.conn, "orders", ORDER_COLUMNS, orders)
        _copy(self.conn, "order_items", ORDER_ITEM_COLUMNS, items)
        late_detail = f"late-arriving: order_date {LATE_DAYS[0]}-{LATE_DAYS[1]} days back"
        self._truth_by_day(
            "orders",
            "insert",
            [(o[2], o[4]) for o in orders],
            detail=lambda event_day: late_detail if event_day < day_start.date() else None,
        )
        self._truth_by_day(
            "order_items",
            "insert",
            [(i[7], i[6]) for i in items],
            detail=lambda event_day: late_detail if event_day < day_start.date() else None,
        )

    def _status_updates(self) -> None:
        recent = self.conn.execute(
            "select order_id from orders where order_date >= %s and order_date < %s"
            " and status in ('shipped', 'pending_review') order by order_id",
            [
                dt.datetime.combine(self.day - dt.timedelta(days=7), dt.time()),
                dt.datetime.combine(self.day, dt.time()),
            ],
        ).fetchall()
        chosen = self.rng.sample(
            [r[0] for r in recent], min(len(recent), self.volumes.status_updates)
        )
        for order_id in sorted(chosen):
            status = "cancelled" if self.rng.random() < 0.1 else "completed"
            self.conn.execute(
                "update orders set status = %s, updated_at = %s where order_id = %s",
                [status, _moment(self.rng, self.day), order_id],
            )
        if chosen:
            self.night.truth.append(Truth("shop", "orders", "update", self.day, len(chosen)))

    def _customer_updates(self, pools: dict[str, list]) -> None:
        older = self.conn.execute(
            "select customer_id from customers where created_at < %s order by customer_id",
            [dt.datetime.combine(self.day, dt.time())],
        ).fetchall()
        chosen = self.rng.sample(
            [r[0] for r in older], min(len(older), self.volumes.customer_updates)
        )
        for customer_id in sorted(chosen):
            self.conn.execute(
                "update customers set phone = %s, address = %s, updated_at = %s"
                " where customer_id = %s",
                [
                    self.rng.choice(pools["phone"]),
                    self.rng.choice(pools["street"]),
                    _moment(self.rng, self.day),
                    customer_id,
                ],
            )
        if chosen:
            self.night.truth.append(Truth("shop", "customers", "update", self.day, len(chosen)))

    def _hard_delete_product(self) -> None:
        """The newest product of an earlier day that nobody bought: extracted already,
        and deletable, since no order item references it."""
        row = self.conn.execute(
            "select product_id, created_at from products p where created_at < %s"
            " and not exists (select 1 from order_items i where i.product_id = p.product_id)"
            " order by product_id desc limit 1",
            [dt.datetime.combine(self.day, dt.time())],
        ).fetchone()
        if row is None:
            raise AnomalyNotPossible(
                "hard-delete-product: every product launched before this day has order items"
                " (order_items.product_id references products), so none can be deleted;"
                " products launched by the nights (Mondays and Thursdays) never sell:"
                " advance past one first"
            )
        self.conn.execute("delete from products where product_id = %s", [row[0]])
        self.night.truth.append(
            Truth("shop", "products", "delete", row[1].date(), 1, detail=f"product_id {row[0]}")
        )

    def _truth_by_day(self, stream, change, stamped, detail=lambda event_day: None) -> None:
        """Rows and money sums per event day of (timestamp, amount) pairs."""
        grouped: dict[dt.date, list] = defaultdict(lambda: [0, Decimal("0.00")])
        for stamp, amount in stamped:
            bucket = grouped[stamp.date()]
            bucket[0] += 1
            bucket[1] += amount or 0
        for event_day, (rows, amount) in sorted(grouped.items()):
            money_sum = amount if stream in ("orders", "order_items") else None
            currency = "usd" if money_sum is not None else None
            self.night.truth.append(
                Truth(
                    "shop", stream, change, event_day, rows, money_sum, currency, detail(event_day)
                )
            )
