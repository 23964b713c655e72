"""Deterministic legacy CRM customers, overlapping the shop's customers by e-mail.

Legacy mess on purpose: missing fields, empty strings, mixed date formats, numbers as
strings, inconsistent casing, extra fields only some records have, and a few records
served twice (on both sides of a page boundary). Records are ordered by id.

`total_records` in the API's pagination is the number of distinct customers in the listing
(what a `count(distinct id)` behind the API would say); pages hold the served rows,
duplicates included, so `total_pages` follows the rows.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from elt_sandbox.shop.generate import generate_shop

SEED = 31337
BASE_RECORDS = 100_000
UPDATED_START = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
UPDATED_SPAN_SECONDS = 540 * 86400
STATUSES = ["Active", "ACTIVE", "active", "Inactive", "churned", "Churned", ""]
SEGMENTS = ["SMB", "smb", "Enterprise", "consumer", "Consumer", None]


def _signup(rng: random.Random, day: dt.date) -> str | int | None:
    style = rng.randrange(7)
    if style == 0:
        return day.isoformat()
    if style == 1:
        return f"{day.month:02d}/{day.day:02d}/{day.year}"
    if style == 2:
        return day.strftime("%d-%b-%Y")
    if style == 3:
        return f"{day.isoformat()}T09:30:00Z"
    if style == 4:
        return ""
    if style == 5:
        return None
    return "sometime in " + str(day.year)  # not a date: kept raw, normalised to null


@dataclass(frozen=True)
class CrmData:
    records: list[dict]  # served order, duplicates included
    distinct_ids: list[int]

    def filtered(self, updated_since: str | None) -> list[dict]:
        if not updated_since:
            return self.records
        since = dt.datetime.fromisoformat(updated_since.replace("Z", "+00:00"))
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        return [r for r in self.records if _parse_updated(r["updated_at"]) >= since]

    def updated(self, changes: dict[int, dict]) -> CrmData:
        """The same CRM after the records of some ids changed (a simulated night's
        updates: new `updated_at`, maybe a new status); every served copy changes, ids
        not in the CRM (deleted) are ignored."""
        records = [
            {**record, **changes[key]} if (key := int(str(record["id"]))) in changes else record
            for record in self.records
        ]
        return CrmData(records, self.distinct_ids)

    def without(self, ids: set[int]) -> CrmData:
        """The same CRM after `ids` were deleted (offset pages shift left)."""
        return CrmData(
            [r for r in self.records if int(str(r["id"])) not in ids],
            [i for i in self.distinct_ids if i not in ids],
        )


def distinct_count(records: list[dict]) -> int:
    return len({int(str(r["id"])) for r in records})


def _parse_updated(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def build(scale: float, seed: int = SEED) -> CrmData:
    rng = random.Random(seed)
    shop = generate_shop(scale)
    count = max(1, round(BASE_RECORDS * scale))
    shop_customers = shop.customers
    records = []
    for index in range(count):
        crm_id = 100_000 + index
        if index < len(shop_customers) and rng.random() < 0.7:
            customer = shop_customers[index]
            email, first, last = customer[1], customer[2], customer[3]
            variant = rng.randrange(4)
            email = [email, email.upper(), f"  {email} ", email.title()][variant]
        else:
            first, last = f"Lead{index}", f"Person{index % 997}"
            email = f"lead{index}@crm-leads.example" if rng.random() > 0.03 else ""
        updated = UPDATED_START + dt.timedelta(seconds=rng.randrange(UPDATED_SPAN_SECONDS))
        record: dict = {
            "id": crm_id if rng.random() > 0.2 else str(crm_id),
            "email": email,
            "full_name": rng.choice([f"{first} {last}", f"{first} {last}".upper(), f"{last}, {first}"]),
            "phone": rng.choice(["", None, f"555-{rng.randrange(1000, 9999)}", f"(555) {rng.randrange(100, 999)}-0000"]),
            "status": rng.choice(STATUSES),
            "segment": rng.choice(SEGMENTS),
            "signup_date": _signup(rng, (updated - dt.timedelta(days=rng.randrange(30, 900))).date()),
            "lifetime_value": rng.choice(
                [f"{rng.randrange(0, 500_000) / 100:.2f}", rng.randrange(0, 5000), f"{rng.randrange(1000, 9999):,}.00", "", None]
            ),
            "num_orders": rng.choice([str(rng.randrange(0, 40)), rng.randrange(0, 40), None]),
            "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ") if index % 9 else updated.strftime("%Y-%m-%d %H:%M:%S"),
        }  # fmt: skip
        if rng.random() < 0.1:
            del record["phone"]  # missing field, not just empty
        if rng.random() < 0.05:
            record["loyalty_tier"] = rng.choice(["gold", "silver"])  # a field the tap never saw
        records.append(record)
    served = []
    for position, record in enumerate(records):
        served.append(record)
        if position % 211 == 210:
            served.append(dict(record))  # served again, often on the next page
    return CrmData(served, [100_000 + i for i in range(count)])
