"""What a proxy or gateway in front of Stripe does to the tap, against the sandbox API.

Gateway-shaped error bodies, replayed pages, Retry-After as an HTTP-date, one endpoint
failing for good: each is injected by the real sandbox server and met by the real tap
process with the real `stripe` library.
"""

from __future__ import annotations

import re

from tests.tap_stripe_custom.conftest import (
    expected_objects,
    run_report,
    run_stripe_tap,
    sandbox_stats,
    tap_config,
)

LISTED = ("charges", "refunds", "customers", "payment_intents", "balance_transactions", "disputes")


def assert_complete_once(streams: dict, expected_data, resources=LISTED) -> None:
    """Every object of each stream exactly once: records = distinct ids = sandbox's own."""
    for resource in resources:
        ids = [record["id"] for record in streams[resource]]
        expected = {obj["id"] for obj in expected_objects(expected_data, resource)}
        assert len(ids) == len(set(ids)), f"{resource}: an object was emitted twice"
        assert set(ids) == expected, resource


def test_gateway_shaped_5xx_and_429_are_retried_by_status(
    stripe_server, stripe_expected, tmp_path
) -> None:
    base = stripe_server("--rate-gateway", "0.25", "--seed", "3")
    streams, _, result = run_stripe_tap(tap_config(base, page_size=50), tmp_path)
    assert_complete_once(streams, stripe_expected)
    _, retries = run_report(result.stderr)
    injected = sandbox_stats(base)["faults"]["gateway"]
    assert injected > 0
    assert sum(retries.get(status, 0) for status in ("429", "500", "502", "503")) == injected


def test_a_streak_of_gateway_errors_fails_naming_status_and_endpoint(
    stripe_server, tmp_path
) -> None:
    base = stripe_server("--rate-gateway", "1")
    config = tap_config(base, max_retries=3)
    _, _, result = run_stripe_tap(config, tmp_path, check=False)
    assert result.returncode != 0
    assert re.search(
        r"GET /v1/charges failed after 4 tries: HTTP (429|500|502|503)", result.stderr
    ), result.stderr[-2000:]


def test_replayed_pages_are_re_requested_and_never_emitted_twice(
    stripe_server, stripe_expected, tmp_path
) -> None:
    base = stripe_server("--rate-replay", "0.2", "--seed", "5")
    streams, _, result = run_stripe_tap(tap_config(base, page_size=20), tmp_path)
    assert_complete_once(streams, stripe_expected)
    replayed = sandbox_stats(base)["faults"]["replay"]
    assert replayed > 0
    assert run_report(result.stderr)[1].get("replayed_page") == replayed


def test_retry_after_as_an_http_date_is_honoured(stripe_server, stripe_expected, tmp_path) -> None:
    # a few seeded 429s (3): each retry waits for the date's next whole second (1-2 s)
    base = stripe_server(
        "--rate-429", "0.04", "--seed", "7", "--retry-after", "1", "--retry-after-date"
    )
    config = tap_config(base, window_days=400, backoff_max_seconds=3)
    streams, _, _ = run_stripe_tap(config, tmp_path)
    assert_complete_once(streams, stripe_expected)
    faults = sandbox_stats(base)["faults"]
    assert faults["429"] >= 2
    assert faults["early_retry"] == 0, "a request came before the Retry-After date"


def test_a_failed_stream_keeps_its_last_good_window_and_the_others_run(
    stripe_server, stripe_expected, tmp_path
) -> None:
    base = stripe_server("--fail-resource", "refunds", "--fail-after", "3")
    config = tap_config(base, max_retries=2, window_days=30)
    streams, states, result = run_stripe_tap(config, tmp_path, check=False)
    assert result.returncode != 0
    assert re.search(r"failed streams?: refunds\b", result.stderr), result.stderr[-2000:]
    assert_complete_once(streams, stripe_expected, [r for r in LISTED if r != "refunds"])
    bookmark = states[-1]["bookmarks"]["refunds"]
    start = 1704067200  # start_date 2024-01-01T00:00:00Z
    assert bookmark["created_cursor"] == start + 3 * 30 * 86400  # three windows were read
    assert "progress_markers" not in bookmark
    for resource in ("customers", "disputes"):  # streams after the failed one finished
        assert "replication_key_value" in states[-1]["bookmarks"][resource]
    assert "replication_key_value" not in bookmark


def test_fault_injection_is_reproducible_with_a_seed(stripe_server, tmp_path) -> None:
    counts = []
    for _ in range(2):
        base = stripe_server("--rate-replay", "0.05", "--rate-gateway", "0.05", "--seed", "11")
        run_stripe_tap(tap_config(base, page_size=50), tmp_path)
        counts.append(sandbox_stats(base)["faults"])
    assert counts[0] == counts[1]
    assert counts[0]["replay"] > 0 and counts[0]["gateway"] > 0
