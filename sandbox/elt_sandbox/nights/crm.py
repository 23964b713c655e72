"""One simulated day in the legacy CRM: a few customers change (new `updated_at`, now and
then a new status). Entries go to the CRM stand-in through the journal."""

from __future__ import annotations

import datetime as dt
import random

from elt_sandbox.crm_api.data import BASE_RECORDS, STATUSES
from elt_sandbox.nights.ledger import Truth
from elt_sandbox.nights.plan import Volumes

FIRST_ID = 100_000  # crm_api.data numbers its customers from here


def crm_entries(
    scale: float, day: dt.date, seed: int, volumes: Volumes
) -> tuple[list[dict], list[Truth]]:
    rng = random.Random(f"{seed}:{day.isoformat()}:crm")
    count = max(1, round(BASE_RECORDS * scale))
    ids = sorted(rng.sample(range(FIRST_ID, FIRST_ID + count), min(count, volumes.crm_updates)))
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    entries = []
    for crm_id in ids:
        fields = {
            "updated_at": (start + dt.timedelta(seconds=rng.randrange(1800, 86400))).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
        }
        if rng.random() < 0.3:
            fields["status"] = rng.choice(STATUSES)
        entries.append({"op": "update", "day": day.isoformat(), "id": crm_id, "fields": fields})
    truth = [Truth("crm", "customers", "update", day, len(ids))] if ids else []
    return entries, truth
