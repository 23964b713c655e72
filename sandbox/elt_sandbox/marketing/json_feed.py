"""The ad platform's JSON feed beside the CSV exports, with known bad records.

- `ad_events_2025-MM.ndjson`: the platform's daily campaign events, one JSON object per
  line (one per campaign per day: impressions, clicks, cost as a JSON number with cents,
  and free-form `attributes`); December's file is gzipped (`.ndjson.gz`).
- `budget_plan_2025.json`: one JSON document, the daily budget per channel under `/days`.

Valid content is exact and deterministic (seeded); each simulated night (`elt-sandbox
advance`) appends its day's events to that month's NDJSON file (`feed` journal entries,
with their ground truth: count and cost). `FEED_BAD` appends deliberately broken
records, each with the reason code tap-csv-marketing quarantines it under; the manifest
(`json_feed` in `_manifest.json`) holds, per file, the good record count, the sum of its
money column and each bad record's position (NDJSON line, or 1-based index in the array),
so tests reconcile counts and sums to the cent.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

SEED = 2025
YEAR_START = dt.date(2025, 1, 1)
DAYS = 365
CENT = Decimal("0.01")
# (campaign_id, platform): the same campaigns as the CSV exports (generate.CAMPAIGNS)
CAMPAIGNS = [
    ("CMP-001", "google_ads"), ("CMP-002", "google_ads"), ("CMP-003", "facebook"),
    ("CMP-004", "facebook"), ("CMP-005", "instagram"), ("CMP-006", "email"),
    ("CMP-007", "email"), ("CMP-008", "tiktok"),
]  # fmt: skip
CHANNELS = ["email", "facebook", "google_ads", "instagram", "tiktok"]
PLACEMENTS = ["feed", "search", "stories", "inbox", "video"]


@dataclass
class FeedFile:
    """One feed file: its records as JSON texts, which of them are bad, and its totals."""

    name: str
    stream: str
    texts: list[str] = field(default_factory=list)
    bad: list[dict] = field(default_factory=list)  # {"position": n, "reason": code}
    good: int = 0
    total: Decimal = Decimal("0.00")  # the money column's sum over the good records

    def render(self) -> bytes:
        if self.stream == "budget_plan":
            body = ",\n    ".join(self.texts)
            text = f'{{"currency": "USD", "version": 3, "days": [\n    {body}\n]}}\n'
        else:
            text = "".join(f"{line}\n" for line in self.texts)
        data = text.encode()
        return gzip.compress(data, mtime=0) if self.name.endswith(".gz") else data


def _with_money(record: dict, column: str, amount: Decimal | str) -> str:
    """The record's JSON text with the money column written as a bare JSON number."""
    return json.dumps({**record, column: "__MONEY__"}).replace('"__MONEY__"', str(amount))


def event_file_name(day: dt.date) -> str:
    suffix = ".ndjson.gz" if day.month == 12 else ".ndjson"
    return f"ad_events_{day:%Y-%m}{suffix}"


BUDGET_FILE = "budget_plan_2025.json"


def day_events(rng: random.Random, day: dt.date) -> tuple[list[str], Decimal]:
    """One day's ad events (one per campaign) as NDJSON lines, and their cost's sum."""
    texts, total = [], Decimal("0.00")
    for campaign_id, platform in CAMPAIGNS:
        impressions = rng.randint(500, 50_000)
        clicks = rng.randint(0, impressions // 20)
        cost = (Decimal(rng.randint(100, 250_000)) / 100).quantize(CENT)
        record = {
            "event_id": f"EV-{day:%Y%m%d}-{campaign_id}",
            "date": day.isoformat(),
            "platform": platform,
            "campaign_id": campaign_id,
            "impressions": impressions,
            "clicks": clicks,
            "attributes": {"placement": rng.choice(PLACEMENTS), "bid": {"max_cpc": 0.35}},
        }
        texts.append(_with_money(record, "cost", cost))
        total += cost
    return texts, total


def _good_records(rng: random.Random) -> dict[str, FeedFile]:
    files: dict[str, FeedFile] = {}
    budget = files.setdefault(BUDGET_FILE, FeedFile(BUDGET_FILE, "budget_plan"))
    for offset in range(DAYS):
        day = YEAR_START + dt.timedelta(days=offset)
        name = event_file_name(day)
        events = files.setdefault(name, FeedFile(name, "ad_events"))
        texts, total = day_events(rng, day)
        events.texts += texts
        events.good += len(texts)
        events.total += total
        for channel in CHANNELS:
            planned = (Decimal(rng.randint(5_000, 400_000)) / 100).quantize(CENT)
            record = {"date": day.isoformat(), "channel": channel}
            budget.texts.append(_with_money(record, "planned_budget", planned))
            budget.good += 1
            budget.total += planned
    return files


def feed_entry(day: dt.date, seed: int) -> dict:
    """A simulated night's journal entry: the day's events appended to its month's file
    (`elt_sandbox.nights.marketing`); `total` is their cost's sum."""
    texts, total = day_events(random.Random(f"{seed}:{day.isoformat()}:ad_events"), day)
    return {"op": "feed", "day": day.isoformat(), "file": event_file_name(day),
            "stream": "ad_events", "texts": texts, "total": str(total)}  # fmt: skip


def apply_feed_journal(files: dict[str, FeedFile], entries: list[dict]) -> None:
    """Apply the nights' `feed` entries (the other entries are the CSV files')."""
    for entry in entries:
        if entry["op"] == "feed":
            feed = files.setdefault(entry["file"], FeedFile(entry["file"], entry["stream"]))
            feed.texts += entry["texts"]
            feed.good += len(entry["texts"])
            feed.total += Decimal(entry["total"])


# (file, record text, reason code): appended after the good records of that file.
_EVENT = '"date":"2025-{m}-10","platform":"email","campaign_id":"CMP-006","impressions":10,"clicks":1,"attributes":{{}}'
FEED_BAD = [
    ("ad_events_2025-03.ndjson", '{"event_id":"EV-BAD-1",' + _EVENT.format(m="03") + ',"cost":1', "not_json"),
    ("ad_events_2025-05.ndjson", '{"event_id":"EV-BAD-2",' + _EVENT.format(m="05") + ',"cost":12.345}', "too_many_decimals"),
    ("ad_events_2025-07.ndjson", '{"event_id":"EV-BAD-3",' + _EVENT.format(m="07").replace('"clicks":1', '"clicks":null') + ',"cost":1.00}', "missing_value"),
    ("ad_events_2025-09.ndjson", '{"event_id":"EV-BAD-4",' + _EVENT.format(m="09") + ',"cost":NaN}', "nan_or_infinity"),
    ("ad_events_2025-11.ndjson", '{"event_id":"EV-BAD-5",' + _EVENT.format(m="11") + ',"cost":2.00,"cost":3.00}', "duplicate_key"),
    ("ad_events_2025-12.ndjson.gz", '{"event_id":"EV-BAD-6",' + _EVENT.format(m="12") + ',"cost":"€4.00"}', "wrong_currency"),
    (BUDGET_FILE, '{"date":"2025-02-30","channel":"email","planned_budget":100.00}', "unparseable_date"),
    (BUDGET_FILE, '{"date":"2025-06-01","channel":"email","planned_budget":"1.234,56"}', "invalid_decimal"),
    (BUDGET_FILE, '"2025-06-02 email 50.00"', "not_an_object"),
]  # fmt: skip


def build_feed(seed: int = SEED) -> list[FeedFile]:
    """All feed files in name order; good records first within a file, bad ones after."""
    files = _good_records(random.Random(f"{seed}:json-feed"))
    for name, text, reason in FEED_BAD:
        feed = files[name]
        feed.texts.append(text)
        feed.bad.append({"position": len(feed.texts), "reason": reason})
    return [files[name] for name in sorted(files)]


def feed_manifest(files: list[FeedFile]) -> dict:
    """Per file and per stream: good records, the money column's sum, the bad records."""
    totals: dict[str, dict] = {}
    for feed in files:
        entry = totals.setdefault(feed.stream, {"good_records": 0, "money_total": "0.00"})
        entry["good_records"] += feed.good
        entry["money_total"] = str(Decimal(entry["money_total"]) + feed.total)
    return {
        "files": {
            f.name: {
                "stream": f.stream,
                "records": len(f.texts),
                "good_records": f.good,
                "money_total": str(f.total),
                "bad_records": f.bad,
            }
            for f in files
        },
        "totals": totals,
    }


def write_feed(directory: Path, entries: list[dict] | None = None) -> dict:
    """Write the feed files, with the nights' entries applied, into `directory`; returns
    their manifest."""
    by_name = {feed.name: feed for feed in build_feed()}
    apply_feed_journal(by_name, entries or [])
    files = [by_name[name] for name in sorted(by_name)]
    for feed in files:
        (directory / feed.name).write_bytes(feed.render())
    return feed_manifest(files)
