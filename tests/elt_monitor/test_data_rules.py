"""The data rules over many nights: profiles made by the target's real profiler from
generated nights (Poisson counts with a weekday pattern, a daily rhythm of order times,
prices that vary), judged by the real `rules.evaluate`.

Normal nights must give no finding at all; each kind of upstream problem must give its
code and severity on the night it happens. The end-to-end versions (the sandbox, the
real job) are in test_scenarios.py; these run in a second and cover many seeds.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Callable
from decimal import Decimal

import pyarrow as pa
import pytest
from elt_monitor import data_rules, rules
from elt_monitor.ledger import JOB_ROW
from elt_monitor.settings import MonitorSettings
from target_minio_parquet.profile import RunProfiler

START = dt.date(2026, 1, 5)  # a Monday
HISTORY_DAYS = 120
ORDERS_PER_DAY = 60.0
WEEKDAY = [1.1, 1.0, 1.0, 1.05, 1.2, 0.75, 0.7]
# orders by hour of day (UTC): quiet nights, busy evenings
HOURS = [1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 7, 7, 7, 7, 8, 9, 10, 10, 9, 6, 4, 2]
SETTINGS = MonitorSettings.from_env(
    {
        "ELT_MONITOR_JOB": "nightly",
        "ELT_MONITOR_RELATED_STREAMS": json.dumps([["shop/orders", "stripe/charges"]]),
    }
)


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method is fine for these means
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


Anomaly = Callable[[dict], None]


def _orders(rng: random.Random, day: dt.date, count: int, next_id: int, **anomaly) -> pa.Table:
    hours = rng.choices(range(24), weights=HOURS, k=count)
    shift = anomaly.get("shift_hours", 0)
    times = [
        dt.datetime.combine(day, dt.time(h, rng.randrange(60)), dt.UTC) + dt.timedelta(hours=shift)
        for h in hours
    ]
    price = anomaly.get("price_factor", Decimal(1))
    totals = [
        (Decimal(str(round(rng.lognormvariate(4.0, 0.6), 2))) * price).quantize(Decimal("0.01"))
        for _ in range(count)
    ]
    channel = [
        None if anomaly.get("null_channel") else rng.choice(["web", "web", "app", "store"])
        for _ in range(count)
    ]
    return pa.table(
        {
            "id": pa.array(range(next_id, next_id + count), pa.int64()),
            "created_at": pa.array(times, pa.timestamp("us", tz="UTC")),
            "total": pa.array(totals, pa.decimal128(18, 2)),
            "channel": pa.array(channel, pa.string()),
            "currency": pa.array([anomaly.get("currency", "usd")] * count, pa.string()),
        }
    )


def _profile(table: pa.Table, keys: list[str] | None = None) -> str:
    profiler = RunProfiler("created_at", keys or ["id"], track_keys=True)
    profiler.observe(table)
    return json.dumps(profiler.summary())


def _row(run: int, stream: str, table: pa.Table, kind: str, at: dt.datetime) -> dict:
    source, name = stream.split("/")
    return {
        "job_run_id": f"run{run:04d}",
        "run_id": f"{stream}-{run}",
        "job": "nightly",
        "source": source,
        "stream": name,
        "status": "success",
        "run_kind": kind,
        "incremental": True,
        "started_at": at,
        "finished_at": at,
        "recorded_at": at + dt.timedelta(seconds=run),
        "tap_rows": table.num_rows,
        "target_received_rows": table.num_rows,
        "target_rows": table.num_rows,
        "quarantine_rows": None,
        "schema_change": None,
        "tap_files": None,
        "error": None,
        "profile": _profile(table),
    }


class Shop:
    """A history load, then one run per night of orders and their charges."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.next_id = 1
        self.rows: list[dict] = []
        self.run = 0
        self.day = START
        history = [
            self._day_tables(START - dt.timedelta(days=d)) for d in range(HISTORY_DAYS, 0, -1)
        ]
        orders = pa.concat_tables([o for o, _ in history])
        charges = pa.concat_tables([c for _, c in history])
        self._record(orders, charges, "initial")

    def _day_tables(self, day: dt.date, **anomaly) -> tuple[pa.Table, pa.Table]:
        mean = ORDERS_PER_DAY * WEEKDAY[day.weekday()] * anomaly.get("volume", 1.0)
        orders = _orders(self.rng, day, _poisson(self.rng, mean), self.next_id, **anomaly)
        self.next_id += orders.num_rows
        charges = orders.select(["id", "created_at", "total", "currency"])
        if anomaly.get("no_charges"):
            charges = charges.slice(0, 0)
        return orders, charges

    def _record(self, orders: pa.Table, charges: pa.Table, kind: str) -> None:
        at = dt.datetime.combine(self.day, dt.time(2), dt.UTC)
        self.rows += [
            _row(self.run, "shop/orders", orders, kind, at),
            _row(self.run, "stripe/charges", charges, kind, at),
        ]
        self.rows.append(_row(self.run, f"{JOB_ROW}/{JOB_ROW}", orders.slice(0, 0), "", at))
        self.rows[-1] |= {"source": JOB_ROW, "stream": JOB_ROW}
        self.run += 1

    def night(self, **anomaly) -> list[rules.Finding]:
        """The run after day `self.day` closed: it brings that day's orders."""
        orders, charges = self._day_tables(self.day, **anomaly)
        if "duplicate" in anomaly:
            orders = pa.concat_tables([orders, orders.slice(0, 5)])
        self.day += dt.timedelta(days=1)
        self._record(orders, charges, "incremental")
        return rules.evaluate(SETTINGS, self.rows)


@pytest.mark.parametrize("seed", range(8))
def test_sixty_normal_nights_raise_nothing(seed: int) -> None:
    shop = Shop(seed)
    for night in range(60):
        findings = shop.night()
        assert findings == [], f"night {night}: {[f.line() for f in findings]}"


ANOMALIES = [
    ({"volume": 3.0}, "shop/orders", "VOLUME_SPIKE", "critical"),
    ({"volume": 0.25}, "shop/orders", "VOLUME_DROP", "critical"),
    ({"price_factor": Decimal(100)}, "shop/orders", "MEAN_SHIFT", "critical"),
    ({"price_factor": Decimal("0.5")}, "shop/orders", "MEAN_SHIFT", "critical"),
    ({"null_channel": True}, "shop/orders", "NULL_SHARE", "critical"),
    ({"currency": "eur"}, "shop/orders", "VALUE_SHIFT", "critical"),
    ({"shift_hours": 7}, "shop/orders", "EVENT_HOUR_SHIFT", "critical"),
    ({"no_charges": True}, "stripe/charges", "RELATED_STREAM_GAP", "critical"),
    ({"duplicate": True}, "shop/orders", "DUPLICATE_KEYS", "critical"),
]


@pytest.mark.parametrize(("anomaly", "stream", "code", "severity"), ANOMALIES)
@pytest.mark.parametrize("seed", range(3))
def test_an_upstream_problem_gives_its_code(anomaly, stream, code, severity, seed) -> None:
    shop = Shop(100 + seed)
    for _ in range(21):  # three weeks: every weekday has its own baseline
        assert shop.night() == []
    found = {(f.stream, f.code): f.severity for f in shop.night(**anomaly)}
    assert found.get((stream, code)) == severity, found
    # one bad night is not a new normal, nor does it poison the nights after it (rows a
    # time zone error moved into the next day are still there: at most a warning)
    after = shop.night()
    assert [f.line() for f in after if f.severity == "critical"] == []


def test_late_rows_and_dates_misread_day_first() -> None:
    shop = Shop(7)
    for _ in range(10):
        shop.night()
    old_day = shop.day - dt.timedelta(days=40)
    late, _ = shop._day_tables(old_day, volume=0.5)
    shop.day += dt.timedelta(days=1)
    on_time, charges = shop._day_tables(shop.day - dt.timedelta(days=1))
    shop._record(pa.concat_tables([on_time, late]), charges, "incremental")
    found = {f.code: f for f in rules.evaluate(SETTINGS, shop.rows) if f.stream == "shop/orders"}
    assert found["LATE_ROWS"].severity == "warning"
    assert found["LATE_ROWS"].details["rows"] == late.num_rows
    # January 9th read as September 1st: dated far after anything the stream had
    # (only the orders' export is misread: the charges keep the job's true latest date)
    misread_day = dt.date(shop.day.year, 9, 1)
    misread, _ = shop._day_tables(misread_day)
    _, charges = shop._day_tables(shop.day)
    shop.day += dt.timedelta(days=1)
    shop._record(misread, charges, "incremental")
    found = {f.code: f for f in rules.evaluate(SETTINGS, shop.rows) if f.stream == "shop/orders"}
    assert found["EVENT_DATE_AHEAD"].severity == "critical"


def test_a_file_read_again_whole_replaces_its_earlier_counts() -> None:
    """The week's export grows by a day each night and is read again whole: Monday's rows
    come in every run of the week, and are still Monday's rows once."""
    profiler = RunProfiler("date", ["date", "campaign"], track_keys=True)
    monday = [dt.date(2026, 1, 5)] * 3
    tuesday = [dt.date(2026, 1, 6)] * 3

    def week_file(days: list[dt.date]) -> pa.Table:
        return pa.table(
            {
                "date": pa.array(days),
                "campaign": [f"c{i % 3}" for i in range(len(days))],
                "_sdc_source_file": ["exports/spend_2026-W02.csv"] * len(days),
            }
        )

    profiler.observe(week_file(monday))
    first = profiler.summary()
    second_profiler = RunProfiler("date", ["date", "campaign"], track_keys=True)
    second_profiler.observe(week_file(monday + tuesday))
    second = second_profiler.summary()
    assert second["event_dates_by_file"] == {
        "exports/spend_2026-W02.csv": {"2026-01-05": 3, "2026-01-06": 3}
    }
    totals = data_rules.day_totals([first, second])
    assert totals == {"2026-01-05": 3, "2026-01-06": 3}


def test_a_spike_day_is_reported_once_not_by_every_run_that_touches_it() -> None:
    """Status updates of the spike day's orders come in the nights after it (a LOG_BASED
    stream counts changes): the day is already out of its band, so it is not reported
    again, and a new problem is not hidden behind a repeated critical."""
    shop = Shop(11)
    for _ in range(21):
        shop.night()
    spike_day = shop.day
    assert {f.code for f in shop.night(volume=3.0)} >= {"VOLUME_SPIKE"}
    updates, charges = shop._day_tables(spike_day, volume=0.1)
    today, charges = shop._day_tables(shop.day)
    shop.day += dt.timedelta(days=1)
    shop._record(pa.concat_tables([today, updates]), charges, "incremental")
    assert [f.line() for f in rules.evaluate(SETTINGS, shop.rows)] == []


def test_more_keys_in_the_lake_than_rows_at_the_source_is_a_delete_warning() -> None:
    (issue,) = data_rules.source_deletes(source_rows=199, lake_keys=200)
    assert (issue.code, issue.severity, issue.details["deleted"]) == (
        "SOURCE_ROWS_DELETED",
        "warning",
        1,
    )
    # a row inserted between the read and the count: not a delete
    assert data_rules.source_deletes(source_rows=201, lake_keys=200) == []
    assert data_rules.source_deletes(source_rows=200, lake_keys=200) == []
    # unknown on either side: nothing is claimed
    assert data_rules.source_deletes(source_rows=None, lake_keys=200) == []
    assert data_rules.source_deletes(source_rows=199, lake_keys=None) == []
