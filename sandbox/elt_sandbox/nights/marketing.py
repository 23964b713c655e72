"""One simulated day of the marketing exports.

The seeded exports are one file per stream per ISO week (`marketing_spend_2026-W01.csv`),
as a weekly Google Sheets export would be. A night appends its day to that week's file
(creating it, in the week's format, on a Monday) rather than writing a daily file: that is
how a sheet that grows during the week and is exported every night behaves, and it is the
harder case for a pipeline, since the tap reads a changed file again in full (its
bookmark is the file's checksum) and the lake receives the week's earlier rows again.
`duplicate-day` writes the day's rows a second time into `<stream>_<day>_resend.csv`;
`empty-export` empties last week's spend file down to its header. The JSON feed gets the
day's ad events appended to its month's NDJSON file (`ad_events_2026-01.ndjson`).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from elt_sandbox.marketing.generate import day_rows, new_export_file
from elt_sandbox.marketing.json_feed import feed_entry
from elt_sandbox.nights.anomalies import AnomalyNotPossible
from elt_sandbox.nights.ledger import Truth

MONEY_COLUMN = {"marketing_spend": 3, "campaign_performance": 5}


def _amount(cell: str) -> Decimal:
    return Decimal(cell.replace("$", "").replace(",", ""))


def marketing_entries(
    day: dt.date, seed: int, anomalies: frozenset[str], files: dict
) -> tuple[list[dict], list[Truth]]:
    """The day's journal entries and ground truth; `files` are the current exports by name
    (to know what `empty-export` removes)."""
    rng = random.Random(f"{seed}:{day.isoformat()}:marketing")
    day_first = "day-first-dates" in anomalies
    entries, truth = [], []
    for stream, rows in day_rows(rng, day, day_first=day_first).items():
        # dd/mm/yyyy with a day above 12 is no m/d/Y date: the tap quarantines it
        bad = ["unparseable_date" if day_first and day.day > 12 else None for _ in rows]
        copies = [new_export_file(stream, day).name]
        if "duplicate-day" in anomalies:
            copies.append(f"{stream}_{day.isoformat()}_resend.csv")
        for number, name in enumerate(copies):
            entries.append({"op": "append" if number == 0 else "write", "day": day.isoformat(),
                            "file": name, "stream": stream, "rows": rows, "bad": bad})  # fmt: skip
            detail = "re-exported copy" if number else None
            if day_first:
                detail = ", ".join(filter(None, [detail, "dates written day-first"]))
            amount = sum((_amount(r[MONEY_COLUMN[stream]]) for r in rows), Decimal("0.00"))
            truth.append(
                Truth("marketing", stream, "insert", day, len(rows), amount, "usd", detail)
            )
    # the ad platform's JSON feed: the day's events appended to the month's NDJSON file
    feed = feed_entry(day, seed)
    entries.append(feed)
    truth.append(Truth("marketing", "ad_events", "insert", day, len(feed["texts"]),
                       Decimal(feed["total"]), "usd"))  # fmt: skip
    if "empty-export" in anomalies:
        name = new_export_file("marketing_spend", day - dt.timedelta(days=7)).name
        if name not in files:
            raise AnomalyNotPossible(f"empty-export: there is no {name} to empty")
        entries.append({"op": "empty", "day": day.isoformat(), "file": name})
        truth.append(
            Truth("marketing", "marketing_spend", "emptied", None, files[name].good, detail=name)
        )
    return entries, truth
