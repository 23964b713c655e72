"""The run's boundary follows Stripe's clock when it is behind this machine's."""

from __future__ import annotations

import datetime as dt
import time

from elt_sandbox import journal
from elt_sandbox.nights.clock import clock_path, set_clock
from elt_sandbox.stripe_api.data import customer_id_str

from tests.tap_stripe_custom.conftest import post, run_stripe_tap, tap_config

NEW_CUSTOMER = 9_900_001


def test_objects_created_between_the_servers_clock_and_ours_are_read_next_run(
    stripe_server, tmp_path
) -> None:
    behind = dt.datetime.fromtimestamp(int(time.time()) - 86400, dt.UTC)  # the API: a day back
    set_clock(clock_path(tmp_path), behind)
    stripe_journal = journal.journal_path(tmp_path, journal.STRIPE)
    base = stripe_server("--journal", str(stripe_journal))
    config = tap_config(base)

    _, states, first = run_stripe_tap(config, tmp_path)
    cursor = states[-1]["bookmarks"]["customers"]["created_cursor"]
    # Stripe's time, not ours (its Date header counts whole seconds and the tap takes
    # the round trip off it: the cursor falls just before the moment set in its first second)
    assert behind.timestamp() - 5 <= cursor < behind.timestamp() + 600
    assert "clock is 864" in first.stderr and "behind the local one" in first.stderr

    # created after run 1 in Stripe's time, before it in ours; then Stripe's clock moves on
    created = int(behind.timestamp()) + 3600
    journal.append(stripe_journal, [{"op": "customer", "customer_id": NEW_CUSTOMER,
                                     "email": "late@example.com", "created": created}])  # fmt: skip
    post(f"{base}/_sandbox/sync", {})
    set_clock(clock_path(tmp_path), behind + dt.timedelta(hours=2))

    records, states, _ = run_stripe_tap(config, tmp_path, state=states[-1])
    assert [r["id"] for r in records["customers"]] == [customer_id_str(NEW_CUSTOMER)]
    assert states[-1]["bookmarks"]["customers"]["created_cursor"] < time.time() - 86400 + 7800
