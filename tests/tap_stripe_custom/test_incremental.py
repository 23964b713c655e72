"""Incremental behaviour of the real tap against the sandbox Stripe API: Events-based
updates and deletions, `lookback_window`, and a killed-and-resumed run of every stream."""

from __future__ import annotations

import time

import pytest

from tests.singer import kill_after_state
from tests.tap_stripe_custom.conftest import (
    TAP,
    expected_objects,
    post,
    run_stripe_tap,
    tap_config,
)
from tests.tap_stripe_custom.test_faults import LISTED


def test_a_deleted_customer_is_emitted_once_with_is_deleted(stripe_server, tmp_path) -> None:
    base = stripe_server()
    config = tap_config(base)
    first, states, _ = run_stripe_tap(config, tmp_path)
    customer = first["customers"][3]
    post(f"{base}/_sandbox/delete_customer", {"customer": customer["id"]})
    time.sleep(2.1)  # the next run's events end at Stripe's Date second less the round trip
    second, _, _ = run_stripe_tap(config, tmp_path, state=states[-1])
    assert [(r["id"], r["is_deleted"]) for r in second["customers"]] == [(customer["id"], True)]
    assert second["customers"][0]["email"] == customer["email"]
    assert second["customers"][0]["updated"] > customer["updated"]


def test_updates_to_old_objects_come_from_events_once_per_object(stripe_server, tmp_path) -> None:
    base = stripe_server()
    config = tap_config(base)
    first, states, _ = run_stripe_tap(config, tmp_path)
    old = [r for r in first["charges"] if r["status"] == "succeeded" and not r["refunded"]][:2]
    # two partial refunds of one charge: two charge.refunded events, one charge record
    post(f"{base}/_sandbox/refund", {"charge": old[0]["id"], "amount": "100"})
    post(f"{base}/_sandbox/refund", {"charge": old[0]["id"], "amount": "50"})
    post(f"{base}/_sandbox/refund", {"charge": old[1]["id"]})
    time.sleep(2.1)
    second, _, _ = run_stripe_tap(config, tmp_path, state=states[-1])
    charges = {r["id"]: r for r in second["charges"]}
    assert len(second["charges"]) == len(charges) == 2
    assert charges[old[0]["id"]]["amount_refunded"] == 150  # the newest version
    assert charges[old[1]["id"]]["refunded"] is True
    assert len(second["refunds"]) == 3 and not any(r["is_deleted"] for r in second["refunds"])


def test_lookback_window_re_reads_objects_created_before_the_bookmark(
    stripe_server, stripe_expected, tmp_path
) -> None:
    base = stripe_server()
    config = tap_config(base)
    _, states, _ = run_stripe_tap(config, tmp_path)
    cursor = states[-1]["bookmarks"]["charges"]["created_cursor"]
    charges = expected_objects(stripe_expected, "charges")
    since = sorted(c["created"] for c in charges)[-10]  # the 10 newest charges
    lookback = cursor - since
    second, _, _ = run_stripe_tap({**config, "lookback_window": lookback}, tmp_path, states[-1])
    expected = {c["id"] for c in charges if c["created"] >= since}
    assert [r["id"] for r in second["charges"]] and {r["id"] for r in second["charges"]} == expected
    assert len(second["charges"]) == len(expected)
    none_back, _, _ = run_stripe_tap(config, tmp_path, state=states[-1])
    assert none_back["charges"] == []


@pytest.mark.parametrize("stream", LISTED)
def test_a_killed_run_of_each_stream_resumes_without_gaps(
    stripe_server, stripe_expected, tmp_path, stream
) -> None:
    expected = {o["id"] for o in expected_objects(stripe_expected, stream)}
    base = stripe_server()
    config = tap_config(base, page_size=5, window_days=30)
    first_ids, state = kill_after_state(
        TAP,
        config,
        tmp_path,
        stream,
        "id",
        resumable=lambda bookmark: "created_cursor" in bookmark,
        min_records=max(1, len(expected) // 3),
    )
    assert state is not None and first_ids
    second, _, _ = run_stripe_tap(config, tmp_path, state=state)
    resumed = [r["id"] for r in second[stream]]
    assert first_ids | set(resumed) == expected
    assert len(resumed) == len(set(resumed))
    if len(expected) > 3:  # the kill came before the stream's end
        assert len(first_ids) < len(expected)


def test_an_update_during_a_killed_first_run_reaches_the_resumed_run(
    stripe_server, stripe_expected, tmp_path
) -> None:
    base = stripe_server("--slow-rate", "1", "--slow-seconds", "0.01")
    config = tap_config(base, page_size=20, window_days=20)
    first_ids, state = kill_after_state(
        TAP,
        config,
        tmp_path,
        "charges",
        "id",
        resumable=lambda bookmark: "created_cursor" in bookmark,
        min_records=101,
    )
    assert state is not None
    listed = next(  # a charge the killed run already emitted, refundable
        c["id"]
        for c in expected_objects(stripe_expected, "charges")
        if c["id"] in first_ids and c["status"] == "succeeded" and not c["amount_refunded"]
    )
    post(f"{base}/_sandbox/refund", {"charge": listed})
    time.sleep(2.1)
    second, _, _ = run_stripe_tap(config, tmp_path, state=state)
    refunded = [r for r in second["charges"] if r["id"] == listed]
    assert len(refunded) == 1 and refunded[0]["amount_refunded"] > 0
