"""Deterministic Stripe objects derived from the shop orders, rendered on demand.

Objects are built when a page asks for them (from compact per-order facts), so that a
scale-1 sandbox with 100,000 charges, payment intents and balance transactions stays
small in memory. Lists are ordered newest first, as Stripe's are.
"""

from __future__ import annotations

import bisect
import calendar
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from elt_sandbox.shop.generate import generate_shop

SEED = 424242
BRANDS = [("visa", 55), ("mastercard", 30), ("amex", 10), ("discover", 5)]
REFUND_REASONS = ["requested_by_customer", "duplicate", "fraudulent"]
BASE_REFUNDS = 5000
HISTORY_END = 1767225600  # 2026-01-01T00:00:00Z: the shop's seeded orders end here


def epoch(value) -> int:
    return calendar.timegm(value.utctimetuple())


@dataclass
class Collection:
    """One list endpoint: (created, id) newest first, and how to render an id."""

    render: Callable[[str], dict]
    entries: list[tuple[int, str]] = field(default_factory=list)  # sorted newest first
    _positions: dict[str, int] = field(default_factory=dict)
    _created_desc: list[int] = field(default_factory=list)

    def finish(self) -> None:
        # newest first; within one second the later id first, as Stripe lists what was
        # created last first
        self.entries.sort(reverse=True)
        self._positions = {object_id: i for i, (_, object_id) in enumerate(self.entries)}
        self._created_desc = [-created for created, _ in self.entries]

    def add(self, created: int, object_id: str) -> None:
        self.extend([(created, object_id)])

    def extend(self, entries: list[tuple[int, str]]) -> None:
        """Add many objects with one re-sort (a night adds hundreds at scale 1)."""
        self.entries.extend(entries)
        self.finish()

    def remove(self, object_id: str) -> None:
        self.entries = [entry for entry in self.entries if entry[1] != object_id]
        self.finish()

    def page(self, limit: int, starting_after: str | None, ending_before: str | None,
             created: dict[str, int]) -> tuple[list[str], bool]:  # fmt: skip
        """Ids of one page and whether more follow, honouring created[gt|gte|lt|lte]."""
        low, high = 0, len(self.entries)  # positions, newest first
        if "lte" in created:
            low = max(low, bisect.bisect_left(self._created_desc, -created["lte"]))
        if "lt" in created:
            low = max(low, bisect.bisect_right(self._created_desc, -created["lt"]))
        if "gte" in created:
            high = min(high, bisect.bisect_right(self._created_desc, -created["gte"]))
        if "gt" in created:
            high = min(high, bisect.bisect_left(self._created_desc, -created["gt"]))
        if ending_before:
            end = min(high, self._positions.get(ending_before, high))
            start = max(low, end - limit)
            return [i for _, i in self.entries[start:end]], start > low
        start = low
        if starting_after:
            start = max(low, self._positions[starting_after] + 1)
        ids = [object_id for _, object_id in self.entries[start : min(high, start + limit)]]
        return ids, start + limit < high

    def contains(self, object_id: str) -> bool:
        return object_id in self._positions


@dataclass
class ChargeFacts:
    order_id: int
    customer_id: int
    created: int
    amount: int
    failed: bool
    brand: str
    last4: str
    email: str
    refunded: int = 0
    disputed: bool = False
    currency: str = "usd"


class StripeData:
    """Every Stripe object of the sandbox, consistent with generate_shop(scale)."""

    def __init__(self, scale: float, seed: int = SEED) -> None:
        shop = generate_shop(scale)
        rng = random.Random(seed)
        self.lock = threading.Lock()
        # list entries collected while a journal batch is applied, added with one sort each
        self._pending: dict[str, list[tuple[int, str]]] | None = None
        emails = {row[0]: row[1] for row in shop.customers}
        self.emails = emails
        self.customers_created = {row[0]: epoch(row[10]) for row in shop.customers}
        self.customers_updated: dict[int, int] = {}
        self.charges: dict[str, ChargeFacts] = {}
        self.refunds: dict[str, dict] = {}
        self.disputes: dict[str, dict] = {}
        self.event_objects: dict[str, dict] = {}
        brands, weights = zip(*BRANDS, strict=True)
        for order in shop.orders:
            order_id, customer_id, ordered_at, total = order[0], order[1], order[2], order[4]
            self.charges[charge_id(order_id)] = ChargeFacts(
                order_id=order_id,
                customer_id=customer_id,
                created=epoch(ordered_at),
                amount=int(total * 100),
                failed=rng.random() < 0.02,
                brand=rng.choices(brands, weights)[0],
                last4=f"{rng.randrange(10_000):04d}",
                email=emails[customer_id],
            )
        succeeded = [cid for cid, facts in self.charges.items() if not facts.failed]
        refund_count = min(len(succeeded), max(1, round(BASE_REFUNDS * scale)))
        for number, cid in enumerate(sorted(rng.sample(succeeded, refund_count)), start=1):
            facts = self.charges[cid]
            partial = rng.random() < 0.4 and facts.amount > 100
            amount = rng.randrange(50, facts.amount) if partial else facts.amount
            created = facts.created + rng.randrange(3600, 30 * 86400)
            self._add_refund(f"re_{number:010d}", cid, amount, created, rng.choice(REFUND_REASONS))
        unrefunded = [cid for cid in succeeded if not self.charges[cid].refunded]
        for number, cid in enumerate(
            sorted(rng.sample(unrefunded, max(1, len(unrefunded) // 1000))), 1
        ):
            facts = self.charges[cid]
            facts.disputed = True
            dispute = {
                "id": f"dp_{number:010d}",
                "object": "dispute",
                "amount": facts.amount,
                "currency": "usd",
                "charge": cid,
                "payment_intent": "pi_" + cid[3:],
                "reason": "fraudulent",
                "status": "needs_response",
                "created": facts.created + 10 * 86400,
                "livemode": False,
                "metadata": {"order_id": str(facts.order_id)},
            }
            self.disputes[dispute["id"]] = dispute
            self._event("charge.dispute.created", dispute["created"], dispute)
        for customer_id in sorted(rng.sample(sorted(emails), max(1, len(emails) // 200))):
            updated = self.customers_created[customer_id] + rng.randrange(86400, 90 * 86400)
            self.customers_updated[customer_id] = updated
            self._event("customer.updated", updated, self.customer(customer_id_str(customer_id)))
        self.lists = self._build_lists()
        self.seeded_late = self._seeded_late()

    # -- mutations (initial data and the admin endpoint) ------------------------------------

    def _add_refund(self, refund_id: str, cid: str, amount: int, created: int, reason: str) -> dict:
        facts = self.charges[cid]
        facts.refunded += amount
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "balance_transaction": "txn_r" + refund_id[3:],
            "charge": cid,
            "created": created,
            "currency": facts.currency,
            "metadata": {"order_id": str(facts.order_id)},
            "payment_intent": "pi_" + cid[3:],
            "reason": reason,
            "status": "succeeded",
        }
        self.refunds[refund_id] = refund
        self._event("refund.created", created, refund)
        self._event("charge.refunded", created, self.charge(cid))
        return refund

    def _event(self, event_type: str, created: int, obj: dict) -> None:
        event_id = f"evt_{len(self.event_objects) + 1:010d}"
        self.event_objects[event_id] = {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": created,
            "type": event_type,
            "livemode": False,
            "pending_webhooks": 0,
            "data": {"object": obj},
        }
        if self._pending is not None:
            self._pending["events"].append((created, event_id))
        elif hasattr(self, "lists"):
            self.lists["events"].add(created, event_id)

    def refund_charge(self, cid: str, amount: int | None = None) -> dict:
        """Refund an existing charge now (admin endpoint): a refund and two events."""
        with self.lock:
            facts = self.charges[cid]
            refund_id = f"re_x{len(self.refunds) + 1:09d}"
            now = int(time.time())
            refund = self._add_refund(
                refund_id,
                cid,
                amount or facts.amount - facts.refunded,
                now,
                "requested_by_customer",
            )
            self.lists["refunds"].add(now, refund_id)
            return refund

    def delete_customer(self, cus: str) -> dict:
        """Delete a customer now (admin endpoint): gone from the list, a customer.deleted
        event carrying its last state, as Stripe does."""
        with self.lock:
            customer = self.customer(cus)
            self._event("customer.deleted", int(time.time()), customer)
            self.lists["customers"].remove(cus)
            return {"id": cus, "object": "customer", "deleted": True}

    def new_charge(self, order_id: int, amount: int, customer_id: int) -> dict:
        """A charge created now (admin endpoint), as a new order's payment."""
        with self.lock:
            cid = charge_id(order_id)
            now = int(time.time())
            self.charges[cid] = ChargeFacts(order_id, customer_id, now, amount, False, "visa",
                                            "4242", f"new{customer_id}@example.com")  # fmt: skip
            for name, prefix in (("charges", "ch_"), ("payment_intents", "pi_")):
                self.lists[name].add(now, prefix + cid[3:])
            self.lists["balance_transactions"].add(now, "txn_" + cid[3:])
            return self.charge(cid)

    # -- simulated nights (elt_sandbox.nights, through the journal) -----------------------

    def apply_journal(self, entries: list[dict]) -> None:
        """Add a night's objects: customers, charges (with their payment intent and
        balance transaction), refunds and disputes, as `stripe_entries` wrote them."""
        with self.lock:
            self._pending = {name: [] for name in self.lists}
            try:
                for entry in entries:
                    getattr(self, "_journal_" + entry["op"])(entry)
                for name, added in self._pending.items():
                    if added:
                        self.lists[name].extend(added)
            finally:
                self._pending = None

    def _journal_customer(self, entry: dict) -> None:
        customer_id = entry["customer_id"]
        self.emails[customer_id] = entry["email"]
        self.customers_created[customer_id] = entry["created"]
        self._pending["customers"].append((entry["created"], customer_id_str(customer_id)))

    def _journal_charge(self, entry: dict) -> None:
        cid = charge_id(entry["order_id"])
        created = entry["created"]
        self.charges[cid] = ChargeFacts(
            order_id=entry["order_id"],
            customer_id=entry["customer_id"],
            created=created,
            amount=entry["amount"],
            failed=entry["failed"],
            brand=entry["brand"],
            last4=entry["last4"],
            email=entry["email"],
            currency=entry["currency"],
        )
        self._pending["charges"].append((created, cid))
        self._pending["payment_intents"].append((created, "pi_" + cid[3:]))
        if not entry["failed"]:
            self._pending["balance_transactions"].append((created, "txn_" + cid[3:]))

    def _journal_refund(self, entry: dict) -> None:
        refund = self._add_refund(
            entry["refund_id"], entry["charge"], entry["amount"], entry["created"], entry["reason"]
        )
        self._pending["refunds"].append((refund["created"], refund["id"]))
        self._pending["balance_transactions"].append(
            (refund["created"], refund["balance_transaction"])
        )

    def _journal_dispute(self, entry: dict) -> None:
        facts = self.charges[entry["charge"]]
        facts.disputed = True
        dispute = {
            "id": entry["dispute_id"],
            "object": "dispute",
            "amount": facts.amount,
            "currency": facts.currency,
            "charge": entry["charge"],
            "payment_intent": "pi_" + entry["charge"][3:],
            "reason": entry["reason"],
            "status": "needs_response",
            "created": entry["created"],
            "livemode": False,
            "metadata": {"order_id": str(facts.order_id)},
        }
        self.disputes[dispute["id"]] = dispute
        self._pending["disputes"].append((dispute["created"], dispute["id"]))
        self._event("charge.dispute.created", dispute["created"], dispute)

    def _seeded_late(self) -> dict[str, dict[str, list[int]]]:
        """Seeded objects created after the shop's history ends (refunds up to 30 days,
        disputes 10 days after a charge; customer updates up to 90 days after sign-up):
        they fall into the simulated nights. {kind: {yyyy-mm-dd: [count, cents]}}."""
        late: dict[str, dict[str, list[int]]] = {
            "refunds": {},
            "disputes": {},
            "charge_updates": {},
            "customer_updates": {},
        }

        def count(kind: str, created: int, cents: int = 0) -> None:
            if created >= HISTORY_END:
                day = time.strftime("%Y-%m-%d", time.gmtime(created))
                bucket = late[kind].setdefault(day, [0, 0])
                bucket[0] += 1
                bucket[1] += cents

        for refund in self.refunds.values():
            count("refunds", refund["created"], refund["amount"])
        for dispute in self.disputes.values():
            count("disputes", dispute["created"], dispute["amount"])
        refunded_charges: dict[str, int] = {}  # charge -> first refund event's time
        for event in self.event_objects.values():
            if event["type"] == "charge.refunded":
                charge = event["data"]["object"]["id"]
                refunded_charges[charge] = min(
                    event["created"], refunded_charges.get(charge, 2**62)
                )
            elif event["type"] == "customer.updated":
                count("customer_updates", event["created"])
        for created in refunded_charges.values():
            count("charge_updates", created)
        return late

    # -- rendering --------------------------------------------------------------------------

    def _build_lists(self) -> dict[str, Collection]:
        lists = {
            "charges": Collection(self.charge),
            "payment_intents": Collection(self.payment_intent),
            "balance_transactions": Collection(self.balance_transaction),
            "refunds": Collection(lambda i: self.refunds[i]),
            "disputes": Collection(lambda i: self.disputes[i]),
            "customers": Collection(self.customer),
            "events": Collection(lambda i: self.event_objects[i]),
        }
        for cid, facts in self.charges.items():
            lists["charges"].entries.append((facts.created, cid))
            lists["payment_intents"].entries.append((facts.created, "pi_" + cid[3:]))
            if not facts.failed:
                lists["balance_transactions"].entries.append((facts.created, "txn_" + cid[3:]))
        for refund in self.refunds.values():
            lists["refunds"].entries.append((refund["created"], refund["id"]))
            lists["balance_transactions"].entries.append(
                (refund["created"], refund["balance_transaction"])
            )
        for dispute in self.disputes.values():
            lists["disputes"].entries.append((dispute["created"], dispute["id"]))
        for customer_id, created in self.customers_created.items():
            lists["customers"].entries.append((created, customer_id_str(customer_id)))
        for event in self.event_objects.values():
            lists["events"].entries.append((event["created"], event["id"]))
        for collection in lists.values():
            collection.finish()
        return lists

    def charge(self, cid: str) -> dict:
        f = self.charges[cid]
        suffix = cid[3:]
        return {
            "id": cid,
            "object": "charge",
            "amount": f.amount,
            "amount_captured": 0 if f.failed else f.amount,
            "amount_refunded": f.refunded,
            "balance_transaction": None if f.failed else "txn_" + suffix,
            "billing_details": {"email": f.email, "name": None, "address": {"country": "US"}},
            "captured": not f.failed,
            "created": f.created,
            "currency": f.currency,
            "customer": customer_id_str(f.customer_id),
            "description": f"Order #{f.order_id}",
            "disputed": f.disputed,
            "failure_code": "card_declined" if f.failed else None,
            "failure_message": "Your card was declined." if f.failed else None,
            "livemode": False,
            "metadata": {"order_id": str(f.order_id)},
            "outcome": {
                "network_status": "declined_by_network" if f.failed else "approved_by_network",
                "reason": "generic_decline" if f.failed else None,
                "risk_level": "normal",
                "risk_score": f.order_id % 64,
                "seller_message": "The bank did not return any further details."
                if f.failed
                else "Payment complete.",
                "type": "issuer_declined" if f.failed else "authorized",
            },
            "paid": not f.failed,
            "payment_intent": "pi_" + suffix,
            "payment_method": "pm_" + suffix,
            "payment_method_details": {
                "card": {
                    "brand": f.brand,
                    "country": "US",
                    "exp_month": 1 + f.order_id % 12,
                    "exp_year": 2027 + f.order_id % 4,
                    "funding": "credit",
                    "last4": f.last4,
                    "network": f.brand,
                },
                "type": "card",
            },
            "receipt_email": f.email,
            "refunded": f.refunded >= f.amount and f.amount > 0,
            "status": "failed" if f.failed else "succeeded",
        }

    def payment_intent(self, pid: str) -> dict:
        f = self.charges["ch_" + pid[3:]]
        return {
            "id": pid,
            "object": "payment_intent",
            "amount": f.amount,
            "amount_received": 0 if f.failed else f.amount,
            "currency": f.currency,
            "customer": customer_id_str(f.customer_id),
            "created": f.created,
            "latest_charge": "ch_" + pid[3:],
            "metadata": {"order_id": str(f.order_id)},
            "payment_method_types": ["card"],
            "status": "requires_payment_method" if f.failed else "succeeded",
            "livemode": False,
        }

    def balance_transaction(self, tid: str) -> dict:
        if not tid.startswith("txn_r"):  # refunds' transactions are txn_r<refund number>
            suffix = tid[4:]
            f = self.charges["ch_" + suffix]
            fee = round(f.amount * 0.029) + 30
            return {
                "id": tid, "object": "balance_transaction", "amount": f.amount, "fee": fee,
                "net": f.amount - fee, "currency": f.currency, "created": f.created,
                "available_on": f.created + 2 * 86400, "type": "charge",
                "source": "ch_" + suffix, "status": "available",
                "reporting_category": "charge",
            }  # fmt: skip
        refund = self.refunds["re_" + tid[5:]]
        return {
            "id": tid, "object": "balance_transaction", "amount": -refund["amount"], "fee": 0,
            "net": -refund["amount"], "currency": refund["currency"], "created": refund["created"],
            "available_on": refund["created"], "type": "refund", "source": refund["id"],
            "status": "available", "reporting_category": "refund",
        }  # fmt: skip

    def customer(self, cus: str) -> dict:
        customer_id = int(cus[4:])
        created = self.customers_created[customer_id]
        return {
            "id": cus,
            "object": "customer",
            "created": created,
            "email": self.emails[customer_id],
            "name": None,
            "metadata": {"shop_customer_id": str(customer_id)},
            "livemode": False,
            "delinquent": False,
            "currency": "usd",
        }

    def get(self, resource: str, object_id: str) -> dict | None:
        collection = self.lists.get(resource)
        if collection is None or not collection.contains(object_id):
            return None
        return collection.render(object_id)


def charge_id(order_id: int) -> str:
    return f"ch_{order_id:010d}"


def customer_id_str(customer_id: int) -> str:
    return f"cus_{customer_id:08d}"
