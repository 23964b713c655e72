"""tap-stripe-custom with the real stripe library against the sandbox Stripe API."""

from __future__ import annotations

import time

import pytest
from elt_monitor.log_formats import REPORT
from elt_sandbox.stripe_api.__main__ import DEFAULT_API_KEY

from tests.tap_stripe_custom.conftest import (
    expected_objects,
    post,
    run_stripe_tap,
    tap_config,
)

AMOUNT_STREAMS = ("charges", "refunds", "payment_intents", "balance_transactions", "disputes")


def test_counts_and_amount_sums_match_per_stream(stripe_env, stripe_expected, tmp_path) -> None:
    streams, _, result = run_stripe_tap(tap_config(stripe_env["SANDBOX_STRIPE_API_BASE"]), tmp_path)
    for resource in (*AMOUNT_STREAMS, "customers"):
        expected = expected_objects(stripe_expected, resource)
        got = streams[resource]
        assert len(got) == len(expected), resource
        assert {r["id"] for r in got} == {o["id"] for o in expected}, resource
        if resource in AMOUNT_STREAMS:
            assert sum(r["amount"] for r in got) == sum(o["amount"] for o in expected), resource
    charge = streams["charges"][0]
    assert charge["metadata"]["order_id"].isdigit()
    assert charge["payment_method_details"]["card"]["brand"]
    assert charge["created"].endswith("+00:00") and isinstance(charge["amount"], int)
    # elt-monitor keeps this line in the ledger (elt_monitor.log_formats)
    assert [m["report"] for m in map(REPORT.search, result.stderr.splitlines()) if m]


def test_pages_smaller_than_the_data_still_deliver_everything(
    stripe_env, stripe_expected, tmp_path
) -> None:
    config = tap_config(stripe_env["SANDBOX_STRIPE_API_BASE"], page_size=7)
    streams, _, result = run_stripe_tap(config, tmp_path)
    expected = expected_objects(stripe_expected, "charges")
    assert len({r["id"] for r in streams["charges"]}) == len(expected) == len(streams["charges"])
    requests = int(result.stderr.split("Stripe run report: ")[1].split(" requests")[0])
    assert requests >= len(expected) / 7


def test_incremental_run_picks_up_a_new_charge_and_a_refunded_old_one_once(
    stripe_server, tmp_path
) -> None:
    base = stripe_server()
    config = tap_config(base)
    first, states, _ = run_stripe_tap(config, tmp_path)
    old = next(r for r in first["charges"] if r["status"] == "succeeded" and not r["refunded"])
    post(f"{base}/_sandbox/refund", {"charge": old["id"]})
    post(f"{base}/_sandbox/charge", {"order_id": "999999", "amount": "4321", "customer_id": "1"})
    time.sleep(2.1)  # the next run's window ends at Stripe's Date second less the round trip
    second, _, _ = run_stripe_tap(config, tmp_path, state=states[-1])
    charge_ids = [r["id"] for r in second["charges"]]
    assert sorted(charge_ids) == sorted(["ch_0000999999", old["id"]])
    refunded = next(r for r in second["charges"] if r["id"] == old["id"])
    assert refunded["refunded"] is True and refunded["amount_refunded"] == old["amount"]
    assert refunded["updated"] > old["updated"]
    assert [r["charge"] for r in second["refunds"]] == [old["id"]]


@pytest.mark.parametrize(
    "faults",
    [
        ("--rate-429", "0.3"),
        ("--rate-429", "0.3", "--no-should-retry", "--retry-after", "0.05"),
        ("--rate-5xx", "0.3"),
        ("--rate-429", "0.1", "--rate-5xx", "0.1", "--slow-rate", "0.05", "--slow-seconds", "0.05"),
    ],
)
def test_429_and_5xx_bursts_are_survived_with_every_record(
    stripe_server, stripe_expected, tmp_path, faults
) -> None:
    base = stripe_server(*faults)
    streams, _, result = run_stripe_tap(tap_config(base, page_size=50), tmp_path)
    for resource in ("charges", "refunds"):
        expected = {o["id"] for o in expected_objects(stripe_expected, resource)}
        assert {r["id"] for r in streams[resource]} == expected
        assert len(streams[resource]) == len(expected)
    report = result.stderr.split("retries by cause ")[1].split("}")[0] + "}"
    assert report != "{}", "faults were injected but no retry was counted"


def test_bad_key_fails_clearly_without_the_key(stripe_env, tmp_path) -> None:
    bad_key = "sk_test_totally_wrong_key_98765"
    config = {**tap_config(stripe_env["SANDBOX_STRIPE_API_BASE"]), "api_key": bad_key}
    _, _, result = run_stripe_tap(config, tmp_path, check=False)
    assert result.returncode != 0
    assert "Stripe refused the API key (401)" in result.stderr
    assert bad_key not in result.stderr + result.stdout
    assert DEFAULT_API_KEY not in result.stderr


def test_plain_http_to_a_remote_host_fails_before_any_request(tmp_path) -> None:
    config = tap_config("http://stripe.example.invalid", max_retries=0)
    _, _, refused = run_stripe_tap(config, tmp_path, check=False)
    assert refused.returncode != 0
    assert "allow_insecure_http" in refused.stderr
    assert refused.stdout == ""  # not even a SCHEMA message
    assert DEFAULT_API_KEY not in refused.stderr
    # the opt-in lets it through to the network, where that host does not resolve
    allowed = {**config, "allow_insecure_http": True}
    _, _, attempted = run_stripe_tap(allowed, tmp_path, check=False)
    assert attempted.returncode != 0
    assert "GET /v1/charges failed after 1 tries: connection error" in attempted.stderr
