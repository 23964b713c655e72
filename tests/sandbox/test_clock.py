"""The sandbox clock: with it started, the Stripe and CRM taps run on the real machine see
the simulated nights, because each run's boundary is the API server's clock (its `Date`).

Run as the scenario suite runs them: plain processes, the machine's clock (December 2026)
far ahead of the simulated days (January 2026). A night's objects dated before the first
run's boundary (the night's first half hour: the run moment is 00:30, the night's activity
starts at 00:00) were never readable by an incremental run; they are counted apart.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import sys
import urllib.request
from pathlib import Path

from elt_sandbox import api, journal
from elt_sandbox.nights.advance import night_run_moment
from elt_sandbox.nights.plan import FIRST_DAY
from elt_sandbox.stripe_api.data import charge_id, customer_id_str

from tests.sandbox.conftest import env_of
from tests.singer import run_singer

BIN = Path(sys.executable).parent


def server_date(url: str) -> dt.datetime:
    with urllib.request.urlopen(url, timeout=30) as response:
        return email.utils.parsedate_to_datetime(response.headers["Date"])


def run_taps(home, tmp_path: Path, states: dict[str, dict] | None = None):
    env = env_of(home)
    configs = {
        "tap-stripe-custom": {
            "api_key": env["SANDBOX_STRIPE_API_KEY"],
            "api_base": env["SANDBOX_STRIPE_API_BASE"],
            "start_date": "2024-01-01T00:00:00Z",
            "max_requests_per_second": 1000,
        },
        "tap-legacy-crm": {
            "api_url": env["SANDBOX_CRM_API_URL"],
            "api_token": env["SANDBOX_CRM_API_TOKEN"],
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 0.5,
            "max_retries": 10,
        },
    }
    return {
        tap: run_singer(str(BIN / tap), config, tmp_path, state=(states or {}).get(tap))
        for tap, config in configs.items()
    }


def test_runs_after_advance_deliver_exactly_the_simulated_night(night_home, tmp_path) -> None:
    env = env_of(night_home)
    stats = f"{env['SANDBOX_STRIPE_API_BASE']}/_sandbox/stats"
    assert abs(server_date(stats) - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    started = api.start_clock(night_home)
    assert started == night_run_moment(FIRST_DAY - dt.timedelta(days=1))
    assert started <= server_date(stats) < started + dt.timedelta(minutes=1)

    first = run_taps(night_home, tmp_path)
    states = {tap: run.states[-1] for tap, run in first.items()}
    cursor = states["tap-stripe-custom"]["bookmarks"]["charges"]["created_cursor"]
    since = states["tap-legacy-crm"]["bookmarks"]["customers"]["updated_since"]
    assert started.timestamp() - 5 <= cursor < started.timestamp() + 600  # not the machine's
    assert (
        started - dt.timedelta(seconds=5)
        <= dt.datetime.fromisoformat(since)
        < started + dt.timedelta(minutes=10)
    )

    (night,) = api.advance(night_home)
    assert night.day == FIRST_DAY
    moved = server_date(stats)
    assert (
        night_run_moment(FIRST_DAY) <= moved < night_run_moment(FIRST_DAY) + dt.timedelta(minutes=1)
    )

    second = run_taps(night_home, tmp_path, states)
    stripe_night, _ = journal.read(journal.journal_path(night_home.root, journal.STRIPE))
    crm_night, _ = journal.read(journal.journal_path(night_home.root, journal.CRM))
    truth: dict[tuple, int] = {}
    for row in api.ground_truth(night_home):  # one night so far; rows by their event day
        key = (row["source"], row["stream"], row["change"])
        truth[key] = truth.get(key, 0) + row["rows"]

    def new_ids(stream: str) -> set[str]:  # listed as created since the first run's boundary
        records = second["tap-stripe-custom"].records[stream]
        return {r["id"] for r in records if r["created"] >= dt.datetime.fromtimestamp(
            cursor, dt.UTC).isoformat()}  # fmt: skip

    for stream, op, to_id in (
        ("charges", "charge", lambda e: charge_id(e["order_id"])),
        ("customers", "customer", lambda e: customer_id_str(e["customer_id"])),
    ):
        made = [e for e in stripe_night if e["op"] == op]
        assert len(made) == truth[("stripe", stream, "insert")] > 0
        readable = {to_id(e) for e in made if e["created"] >= cursor}
        assert new_ids(stream) == readable, stream
        assert len(readable) >= 0.9 * len(made)  # only the night's first half hour is before

    crm_delivered = {r["id"] for r in second["tap-legacy-crm"].records["customers"]}
    made = [e for e in crm_night if e["day"] == FIRST_DAY.isoformat()]
    assert len(made) == truth[("crm", "customers", "update")] > 0
    assert crm_delivered == {e["id"] for e in made if e["fields"]["updated_at"] >= since[:19]}
    assert len(crm_delivered) >= 0.9 * len(made) - 1
