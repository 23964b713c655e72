"""Deterministic, messy e-commerce data for the shop database.

Everything is a pure function of (seed, scale): the Postgres seeder, the Stripe stand-in
(one charge per order) and the CRM stand-in (customers overlapping by email) all call
`generate_shop` and so agree with each other without talking to the database.

The three used to generate the same rows each (~5 s of CPU apiece at scale 1, one after
the other while the sandbox starts). With SHOP_CACHE_ENV naming a directory (the sandbox
sets it to `<home>/cache` for itself and the stand-ins it starts), the first caller
pickles its result there and the others load it (~0.5 s); the file name holds scale,
seed and a hash of this module's source, so changed code never reads old rows.

Time-zone decision: the shop writes `timestamp without time zone` values holding UTC wall
clock time. Taps must be told so (`source_timezone: UTC`, the default).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import hashlib
import os
import pickle
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

SEED = 20260101
ORDERS_START = dt.datetime(2025, 1, 1)
ORDERS_END = dt.datetime(2026, 1, 1)
CENT = Decimal("0.01")

BASE_COUNTS = {"customers": 50_000, "products": 200, "orders": 100_000, "order_items": 250_000}
MIN_PRODUCTS = 20  # ten categories need a few products each, whatever the scale

CUSTOMER_COLUMNS = (
    "customer_id", "email", "first_name", "last_name", "phone", "address", "city", "state",
    "country", "zip_code", "created_at", "updated_at",
)  # fmt: skip
PRODUCT_COLUMNS = (
    "product_id", "name", "category", "subcategory", "price", "cost", "weight_kg",
    "is_active", "created_at", "updated_at",
)  # fmt: skip
ORDER_COLUMNS = (
    "order_id", "customer_id", "order_date", "status", "total_amount", "shipping_address",
    "shipping_city", "shipping_state", "shipping_country", "shipping_zip", "created_at",
    "updated_at",
)  # fmt: skip
ORDER_ITEM_COLUMNS = (
    "order_item_id", "order_id", "product_id", "quantity", "unit_price", "discount_pct",
    "line_total", "created_at",
)  # fmt: skip

CATEGORIES = {
    "Electronics": ["Audio", "Phones", "Accessories"],
    "Clothing": ["Men", "Women", "Kids"],
    "Home & Garden": ["Kitchen", "Decor", "Garden"],
    "Books": ["Fiction", "Non-fiction"],
    "Sports": ["Outdoor", "Fitness"],
    "Toys": ["Games", "Puzzles"],
    "Beauty": ["Skincare", "Makeup"],
    "Grocery": ["Snacks", "Beverages"],
    "Automotive": ["Tools", "Care"],
    "Pet Supplies": ["Dogs", "Cats"],
}
US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa",
    "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi",
    "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin",
    "WY": "Wyoming",
}  # fmt: skip
STATUS_WEIGHTS = {"completed": 62, "shipped": 20, "cancelled": 9, "pending_review": 7}
MESSY_STATUSES = ["Completed", "SHIPPED", "Cancelled ", "PENDING_REVIEW"]
COUNTRY_SPELLINGS = [("US", 70), ("USA", 15), ("United States", 12), ("united states", 3)]
EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "example.com"]


@dataclass(frozen=True)
class ShopData:
    """Rows per table, as tuples in the column order of the `*_COLUMNS` constants."""

    customers: list[tuple]
    products: list[tuple]
    orders: list[tuple]
    order_items: list[tuple]

    def tables(self) -> dict[str, tuple[tuple[str, ...], list[tuple]]]:
        return {
            "customers": (CUSTOMER_COLUMNS, self.customers),
            "products": (PRODUCT_COLUMNS, self.products),
            "orders": (ORDER_COLUMNS, self.orders),
            "order_items": (ORDER_ITEM_COLUMNS, self.order_items),
        }


def expected_counts(scale: float) -> dict[str, int]:
    """Row counts per table at a scale; the one definition the seeder and tests share."""
    counts = {table: max(1, round(base * scale)) for table, base in BASE_COUNTS.items()}
    counts["products"] = max(MIN_PRODUCTS, counts["products"])
    return counts


def money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _timestamp(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    span = int((end - start).total_seconds())
    return start + dt.timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(10**6))


def _messy_state(rng: random.Random, abbr: str) -> str:
    roll = rng.random()
    if roll < 0.55:
        return abbr
    if roll < 0.85:
        return US_STATES[abbr]
    if roll < 0.90:
        return US_STATES[abbr].lower()
    if roll < 0.95:
        return abbr.lower()
    return US_STATES[abbr].upper()


def _pick_weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _pools(seed: int) -> dict[str, list[str]]:
    """Faker draws made once and recombined: Faker per row would dominate seeding time."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    return {
        "first": [fake.first_name() for _ in range(800)],
        "last": [fake.last_name() for _ in range(1200)],
        "street": [fake.street_address() for _ in range(4000)],
        "city": [fake.city() for _ in range(1500)],
        "zip": [fake.zipcode() for _ in range(3000)],
        "phone": [fake.phone_number() for _ in range(4000)],
    }


def _customers(rng: random.Random, pools: dict[str, list[str]], count: int) -> list[tuple]:
    states = list(US_STATES)
    start, end = dt.datetime(2024, 1, 1), ORDERS_END
    rows = []
    for customer_id in range(1, count + 1):
        first, last = rng.choice(pools["first"]), rng.choice(pools["last"])
        local = f"{first}.{last}{customer_id}"
        email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
        if rng.random() >= 0.05:  # 5% keep mixed case: staging lower-cases emails
            email = email.lower()
        created = _timestamp(rng, start, end)
        updated = created
        if rng.random() < 0.2:
            updated = created + dt.timedelta(seconds=rng.randrange(1, 180 * 86400))
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
                updated,
            )
        )
    return rows


def _products(rng: random.Random, count: int) -> list[tuple]:
    categories = list(CATEGORIES)
    start, end = dt.datetime(2023, 6, 1), dt.datetime(2025, 1, 1)
    rows = []
    for product_id in range(1, count + 1):
        category = categories[(product_id - 1) % len(categories)]
        subcategory = rng.choice(CATEGORIES[category])
        price = money(min(499.99, max(1.99, rng.lognormvariate(3.1, 0.8))))
        cost: Decimal | None = money(float(price) * rng.uniform(0.4, 0.7))
        if product_id % 67 == 5:
            cost = None  # missing cost: staging flags it
        elif product_id % 71 == 11:
            cost = -cost  # data-entry bug: negative cost
        created = _timestamp(rng, start, end)
        updated = (
            created + dt.timedelta(days=rng.randrange(0, 300)) if rng.random() < 0.3 else created
        )
        rows.append(
            (
                product_id,
                f"{subcategory} {category.split()[0]} {product_id:04d}",
                category,
                subcategory,
                price,
                cost,
                money(rng.uniform(0.05, 25)),
                rng.random() > 0.05,
                created,
                updated,
            )
        )
    return rows


def _day_weights() -> tuple[list[dt.datetime], list[float]]:
    """One weight per day of the order year, with Black Friday and Christmas spikes."""
    days, weights = [], []
    day = ORDERS_START
    while day < ORDERS_END:
        weight = 1.0
        if day.month == 11 and 27 <= day.day <= 30:
            weight = 5.0  # Black Friday weekend (2025-11-28) and Cyber Monday run-up
        elif day.month == 12 and day.day == 1:
            weight = 4.0  # Cyber Monday
        elif day.month == 12 and day.day <= 24:
            weight = 2.2  # Christmas shopping
        days.append(day)
        weights.append(weight)
        day += dt.timedelta(days=1)
    return days, weights


def _item_counts(rng: random.Random, orders: int, items: int) -> list[int]:
    counts = rng.choices([1, 2, 3, 4, 5], weights=[25, 30, 25, 12, 8], k=orders)
    diff = items - sum(counts)
    while diff:
        index = rng.randrange(orders)
        if diff > 0 and counts[index] < 8:
            counts[index] += 1
            diff -= 1
        elif diff < 0 and counts[index] > 1:
            counts[index] -= 1
            diff += 1
    return counts


def _orders_and_items(
    rng: random.Random,
    customers: list[tuple],
    products: list[tuple],
    order_count: int,
    item_count: int,
) -> tuple[list[tuple], list[tuple]]:
    by_price = sorted(products, key=lambda product: product[4])
    prices = [float(product[4]) for product in by_price]
    days, weights = _day_weights()
    order_days = rng.choices(days, weights=weights, k=order_count)
    item_counts = _item_counts(rng, order_count, item_count)
    statuses = list(STATUS_WEIGHTS)
    status_weights = list(STATUS_WEIGHTS.values())
    states = list(US_STATES)
    orders, items = [], []
    item_id = 0
    for order_index in range(order_count):
        order_id = order_index + 1
        customer = customers[rng.randrange(len(customers))]
        ordered_at = order_days[order_index] + dt.timedelta(
            seconds=rng.randrange(86400), microseconds=rng.randrange(10**6)
        )
        target_total = min(600.0, max(4.0, rng.gauss(65, 40)))
        n_items = item_counts[order_index]
        total = Decimal("0.00")
        for _ in range(n_items):
            quantity = rng.choices([1, 2, 3], weights=[75, 18, 7])[0]
            wanted = target_total / n_items / quantity
            index = bisect.bisect_left(prices, wanted) + rng.randint(-2, 2)
            product = by_price[min(len(by_price) - 1, max(0, index))]
            discount = rng.choices([0, 5, 10, 15, 20], weights=[80, 6, 7, 4, 3])[0]
            unit_price = product[4]
            line_total = money(unit_price * quantity * (100 - discount) / 100)
            total += line_total
            item_id += 1
            items.append(
                (
                    item_id,
                    order_id,
                    product[0],
                    quantity,
                    unit_price,
                    Decimal(discount).quantize(CENT),
                    line_total,
                    ordered_at,
                )
            )
        status = rng.choices(statuses, weights=status_weights)[0]
        if rng.random() < 0.02:
            status = rng.choice(MESSY_STATUSES)
        updated = ordered_at
        if rng.random() < 0.6:
            updated = ordered_at + dt.timedelta(seconds=rng.randrange(60, 10 * 86400))
        if rng.random() < 0.85:
            address, city, state, country, zip_code = customer[5:10]
        else:
            address = f"{rng.randrange(1, 9999)} Gift Lane"
            city = customer[6]
            state = _messy_state(rng, rng.choice(states))
            country = _pick_weighted(rng, COUNTRY_SPELLINGS)
            zip_code = customer[9]
        orders.append(
            (
                order_id,
                customer[0],
                ordered_at,
                status,
                total,
                address,
                city,
                state,
                country,
                zip_code,
                ordered_at,
                updated,
            )
        )
    return orders, items


SHOP_CACHE_ENV = "ELT_SANDBOX_SHOP_CACHE"


@functools.lru_cache(maxsize=4)
def generate_shop(scale: float = 1.0, seed: int = SEED) -> ShopData:
    """All four tables at a scale; the same (scale, seed) always gives the same rows
    (loaded from the directory SHOP_CACHE_ENV names when an earlier call left them)."""
    directory = os.environ.get(SHOP_CACHE_ENV)
    if not directory:
        return _generate_shop(scale, seed)
    path = Path(directory) / f"shop-{scale!r}-{seed}-{_source_hash()}.pickle"
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except FileNotFoundError:
        pass
    data = _generate_shop(scale, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    os.replace(partial, path)  # whole or absent, also with two writers
    return data


def _source_hash() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def _generate_shop(scale: float, seed: int) -> ShopData:
    counts = expected_counts(scale)
    rng = random.Random(seed)
    pools = _pools(seed)
    customers = _customers(rng, pools, counts["customers"])
    products = _products(rng, counts["products"])
    orders, items = _orders_and_items(
        rng, customers, products, counts["orders"], counts["order_items"]
    )
    return ShopData(customers=customers, products=products, orders=orders, order_items=items)
