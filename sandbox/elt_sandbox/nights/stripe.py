"""One simulated day at Stripe: a customer per new shop customer, a charge per new order
(its total in cents, `created` at the order's true UTC time, `metadata.order_id`, ~2%
declined, as the seeded charges), a few refunds and rarely a dispute of earlier nights'
charges; the Stripe anomalies. Objects go to the Stripe stand-in through the journal;
the charges are remembered in `sandbox.stripe_charges`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

import psycopg

from elt_sandbox.nights.ledger import SCHEMA, Truth
from elt_sandbox.nights.plan import Volumes
from elt_sandbox.nights.shop import PaidOrder, ShopNight
from elt_sandbox.stripe_api.data import BRANDS, REFUND_REASONS, charge_id

ORPHAN_ORDER_BASE = 2_000_000_000  # above any shop order id, within Postgres' integer
DECLINE_RATE = 0.02


def epoch(moment: dt.datetime) -> int:
    return calendar.timegm(moment.utctimetuple())


def _in_day(rng: random.Random, day: dt.date) -> int:
    return epoch(dt.datetime.combine(day, dt.time())) + rng.randrange(1800, 86400)  # after 00:30


class StripeDay:
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
        self.rng = random.Random(f"{seed}:{day.isoformat()}:stripe")
        self.entries: list[dict] = []
        self.truth: list[Truth] = []

    def write(self, shop: ShopNight) -> list[dict]:
        """The day's journal entries (also recorded in the ledger)."""
        if "stripe-stale" in self.anomalies:
            return []
        currency = "eur" if "currency-switch" in self.anomalies else "usd"
        for customer_id, email, created in shop.new_customers:
            self.entries.append({"op": "customer", "customer_id": customer_id,
                                 "email": email, "created": epoch(created)})  # fmt: skip
        if shop.new_customers:
            self.truth.append(
                Truth("stripe", "customers", "insert", self.day, len(shop.new_customers))
            )
        charges = [self._charge(order, currency, orphan=False) for order in shop.paid_orders]
        charges += [self._orphan(currency, n) for n in range(self.volumes.orphan_charges)]
        self._charge_truth(charges)
        self._refunds()
        self._disputes()
        return self.entries

    def _charge(self, order: PaidOrder, currency: str, orphan: bool) -> dict:
        brands, weights = zip(*BRANDS, strict=True)
        entry = {
            "op": "charge",
            "order_id": order.order_id,
            "customer_id": order.customer_id,
            "created": epoch(order.ordered_at),
            "amount": int(order.total * 100),
            "currency": currency,
            "failed": self.rng.random() < DECLINE_RATE,
            "brand": self.rng.choices(brands, weights)[0],
            "last4": f"{self.rng.randrange(10_000):04d}",
            "email": order.email,
        }
        self.entries.append(entry)
        self.conn.execute(
            f"insert into {SCHEMA}.stripe_charges (charge_id, order_id, customer_id, created,"
            " amount_cents, currency, failed, orphan) values (%s, %s, %s, to_timestamp(%s),"
            " %s, %s, %s, %s)",
            [
                charge_id(order.order_id),
                order.order_id,
                order.customer_id,
                entry["created"],
                entry["amount"],
                currency,
                entry["failed"],
                orphan,
            ],
        )
        return entry

    def _orphan(self, currency: str, number: int) -> dict:
        taken = self.conn.execute(
            f"select count(*) from {SCHEMA}.stripe_charges where orphan"
        ).fetchone()[0]
        customer = self.conn.execute(
            "select customer_id, email from customers order by customer_id limit 1 offset %s",
            [number],
        ).fetchone()
        created = dt.datetime.fromtimestamp(_in_day(self.rng, self.day), dt.UTC)
        total = Decimal(self.rng.randint(400, 15_000)) / 100
        order = PaidOrder(ORPHAN_ORDER_BASE + taken + 1, customer[0], customer[1], created, total)
        return self._charge(order, currency, orphan=True)

    def _charge_truth(self, charges: list[dict]) -> None:
        totals: dict[tuple, list] = defaultdict(lambda: [0, 0])
        for entry in charges:
            event_day = dt.datetime.fromtimestamp(entry["created"], dt.UTC).date()
            key = (
                event_day,
                entry["currency"],
                entry["failed"],
                entry["order_id"] >= ORPHAN_ORDER_BASE,
            )
            totals[key][0] += 1
            totals[key][1] += entry["amount"]
        for (event_day, currency, failed, orphan), (rows, cents) in sorted(totals.items()):
            detail = (
                ", ".join(word for word, on in (("declined", failed), ("orphan", orphan)) if on)
                or None
            )
            amount = Decimal(cents) / 100
            self.truth.append(
                Truth("stripe", "charges", "insert", event_day, rows, amount, currency, detail)
            )
            self.truth.append(
                Truth(
                    "stripe", "payment_intents", "insert", event_day, rows, amount, currency, detail
                )
            )
            if not failed:
                self.truth.append(
                    Truth(
                        "stripe",
                        "balance_transactions",
                        "insert",
                        event_day,
                        rows,
                        amount,
                        currency,
                        detail,
                    )
                )

    def _refunds(self) -> None:
        candidates = self.conn.execute(
            f"select charge_id, amount_cents, currency from {SCHEMA}.stripe_charges"
            " where not failed and refunded_cents = 0 and not disputed and not orphan"
            " and created >= %s and created < %s order by charge_id",
            [self.day - dt.timedelta(days=30), self.day],
        ).fetchall()
        chosen = self.rng.sample(candidates, min(len(candidates), self.volumes.refunds))
        sums: dict[str, list] = defaultdict(lambda: [0, 0])
        for number, (cid, cents, currency) in enumerate(sorted(chosen), start=1):
            partial = self.rng.random() < 0.4 and cents > 100
            amount = self.rng.randrange(50, cents) if partial else cents
            self.entries.append(
                {
                    "op": "refund",
                    "refund_id": f"re_n{self.day:%Y%m%d}{number:04d}",
                    "charge": cid,
                    "amount": amount,
                    "created": _in_day(self.rng, self.day),
                    "reason": self.rng.choice(REFUND_REASONS),
                }
            )
            self.conn.execute(
                f"update {SCHEMA}.stripe_charges set refunded_cents = %s where charge_id = %s",
                [amount, cid],
            )
            sums[currency][0] += 1
            sums[currency][1] += amount
        for currency, (rows, cents) in sorted(sums.items()):
            amount = Decimal(cents) / 100
            self.truth += [
                Truth("stripe", "refunds", "insert", self.day, rows, amount, currency),
                Truth(
                    "stripe",
                    "balance_transactions",
                    "insert",
                    self.day,
                    rows,
                    -amount,
                    currency,
                    "refunds",
                ),
                Truth("stripe", "charges", "update", self.day, rows, None, None, "refunded"),
            ]

    def _disputes(self) -> None:
        candidates = self.conn.execute(
            f"select charge_id, amount_cents, currency from {SCHEMA}.stripe_charges"
            " where not failed and refunded_cents = 0 and not disputed and not orphan"
            " and created >= %s and created < %s order by charge_id",
            [self.day - dt.timedelta(days=60), self.day],
        ).fetchall()
        chosen = self.rng.sample(candidates, min(len(candidates), self.volumes.disputes))
        for number, (cid, cents, currency) in enumerate(sorted(chosen), start=1):
            self.entries.append(
                {
                    "op": "dispute",
                    "dispute_id": f"dp_n{self.day:%Y%m%d}{number:02d}",
                    "charge": cid,
                    "created": _in_day(self.rng, self.day),
                    "reason": "fraudulent",
                }
            )
            self.conn.execute(
                f"update {SCHEMA}.stripe_charges set disputed = true where charge_id = %s", [cid]
            )
            self.truth.append(
                Truth("stripe", "disputes", "insert", self.day, 1, Decimal(cents) / 100, currency)
            )


def seeded_truth(day: dt.date, seeded_late: dict[str, dict[str, list[int]]]) -> list[Truth]:
    """The seeded history's Stripe objects dated in this night (see StripeData.seeded_late)."""
    key = day.isoformat()
    rows = []
    for kind, stream, change in (
        ("refunds", "refunds", "insert"),
        ("disputes", "disputes", "insert"),
        ("charge_updates", "charges", "update"),
        ("customer_updates", "customers", "update"),
    ):
        count, cents = seeded_late.get(kind, {}).get(key, (0, 0))
        if not count:
            continue
        money_streams = ("refunds", "disputes")
        amount = Decimal(cents) / 100 if stream in money_streams and change == "insert" else None
        rows.append(
            Truth(
                "stripe",
                stream,
                change,
                day,
                count,
                amount,
                "usd" if amount is not None else None,
                origin="seeded",
            )
        )
        if kind == "refunds":
            rows.append(
                Truth(
                    "stripe",
                    "balance_transactions",
                    "insert",
                    day,
                    count,
                    -amount,
                    "usd",
                    "refunds",
                    origin="seeded",
                )
            )
    return rows
