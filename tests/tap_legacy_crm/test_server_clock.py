"""The listing's start (the next `updated_since`) follows the CRM's clock when it is behind
this machine's."""

from __future__ import annotations

import datetime as dt
import time

import requests
from elt_sandbox import journal
from elt_sandbox.nights.clock import clock_path, set_clock

from tests.tap_legacy_crm.conftest import crm_config, run_crm_tap

UPDATED = 100_001  # a seeded CRM customer


def test_records_updated_between_the_servers_clock_and_ours_are_read_next_run(
    crm_server, tmp_path
) -> None:
    behind = dt.datetime.fromtimestamp(int(time.time()) - 86400, dt.UTC)  # the API: a day back
    set_clock(clock_path(tmp_path), behind)
    crm_journal = journal.journal_path(tmp_path, journal.CRM)
    base = crm_server("--journal", str(crm_journal))
    config = crm_config(base)

    _, states, first = run_crm_tap(config, tmp_path)
    since = dt.datetime.fromisoformat(states[-1]["bookmarks"]["customers"]["updated_since"])
    # the CRM's time, not ours (its Date header counts whole seconds and the tap takes the
    # round trip off it: the bookmark falls just before the moment set in its first second)
    assert behind + dt.timedelta(seconds=-5) <= since < behind + dt.timedelta(minutes=10)
    assert "clock is 864" in first.stderr and "behind the local one" in first.stderr

    # updated after run 1 in the CRM's time, before it in ours; then the CRM's clock moves on
    updated_at = (behind + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    journal.append(crm_journal, [{"op": "update", "id": UPDATED,
                                  "fields": {"updated_at": updated_at}}])  # fmt: skip
    requests.post(f"{base}/_sandbox/sync", timeout=10).raise_for_status()
    set_clock(clock_path(tmp_path), behind + dt.timedelta(hours=2))

    records, states, _ = run_crm_tap(config, tmp_path, state=states[-1])
    assert [r["id"] for r in records] == [UPDATED]
    since = dt.datetime.fromisoformat(states[-1]["bookmarks"]["customers"]["updated_since"])
    assert behind + dt.timedelta(hours=2, seconds=-5) <= since < behind + dt.timedelta(hours=3)
