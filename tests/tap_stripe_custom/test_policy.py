"""Unit tests of the pure parts of the policy: Retry-After, transport, page checks.

The same behaviours are exercised end to end against the sandbox in test_faults.py;
these pin the edge cases that a server run would hit only by chance.
"""

from __future__ import annotations

import email.utils
import logging
import subprocess
import sys

import pytest
from singer_sdk.exceptions import ConfigValidationError
from tap_stripe_custom.client import StripeApi
from tap_stripe_custom.errors import InvalidPage, ReplayedPage, RetriableStripeError
from tap_stripe_custom.retry_after import parse_retry_after
from tap_stripe_custom.transport import require_safe_api_base

NOW = 1_780_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),  # a past date: now
        (email.utils.formatdate(NOW + 5, localtime=False), 5.0),  # "-0000" zone
        ("Wed, 21 Oct 2026 07:28:00 GMT", 1792567680.0 - NOW),
        ("-5", None),
        ("soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(value, expected) -> None:
    result = parse_retry_after(value, now=NOW)
    assert result == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    "api_base",
    [
        "https://api.stripe.com",
        "http://127.0.0.1:8080",
        "http://127.5.0.1",
        "http://localhost:12111",
        "http://[::1]:9000",
    ],
)
def test_https_and_loopback_http_are_allowed(api_base) -> None:
    require_safe_api_base(api_base, allow_insecure_http=False)


@pytest.mark.parametrize(
    "api_base", ["http://api.stripe.com", "http://10.0.0.5:8080", "http://localhost.evil.com"]
)
def test_plain_http_to_another_host_is_refused_naming_the_setting(api_base) -> None:
    with pytest.raises(ConfigValidationError) as raised:
        require_safe_api_base(api_base, allow_insecure_http=False)
    assert "allow_insecure_http" in raised.value.errors[0]
    require_safe_api_base(api_base, allow_insecure_http=True)  # the explicit opt-in


def test_other_schemes_are_refused() -> None:
    with pytest.raises(ConfigValidationError):
        require_safe_api_base("ftp://api.stripe.com", allow_insecure_http=True)


@pytest.fixture()
def api() -> StripeApi:
    return StripeApi({"api_key": "sk_test_x"}, logging.getLogger("test"))


def page(*ids_created: tuple[str, int], has_more: bool = True) -> dict:
    data = [{"id": i, "created": c} for i, c in ids_created]
    return {"object": "list", "data": data, "has_more": has_more}


def test_a_page_ending_at_its_cursor_is_a_replay(api) -> None:
    with pytest.raises(ReplayedPage):
        api.validate_page(page(("a", 5), ("b", 4)), "b", set(), {})


def test_a_page_with_an_id_already_seen_is_a_replay(api) -> None:
    with pytest.raises(ReplayedPage):
        api.validate_page(page(("c", 5), ("a", 4)), "b", {"a", "b"}, {})


def test_a_page_outside_its_window_or_not_a_list_is_invalid(api) -> None:
    with pytest.raises(InvalidPage):
        api.validate_page(page(("a", 50)), None, set(), {"gte": 10, "lt": 50})
    with pytest.raises(InvalidPage):
        api.validate_page({"error": "text"}, None, set(), {})
    with pytest.raises(InvalidPage):
        api.validate_page(page(has_more=True), "b", set(), {})


def test_a_new_page_in_its_window_passes(api) -> None:
    api.validate_page(page(("c", 49), ("d", 10)), "b", {"a", "b"}, {"gte": 10, "lt": 50})
    api.validate_page(page(has_more=False), "b", {"a", "b"}, {})


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (502, b"<html><body>502 Bad Gateway</body></html>", "text/html"),
        (503, b'{"error": "upstream connect error"}', "application/json"),
        (429, b'{"error": "slow down"}', "application/json"),
        (500, b'{"error": {"type": "api_error"}}', "application/json"),
    ],
)
def test_retriable_statuses_are_retried_whatever_the_body(api, status, body, content_type) -> None:
    headers = {"Content-Type": content_type, "Retry-After": "2"}
    with pytest.raises(RetriableStripeError) as raised:
        api.validate_response("GET", "http://127.0.0.1/v1/charges?limit=1", status, headers, body)
    assert raised.value.cause == str(status)
    assert raised.value.retry_after == 2.0
    assert f"HTTP {status}" in str(raised.value)


def test_the_wait_is_at_least_retry_after_and_capped(api) -> None:
    api.backoff_base, api.backoff_cap = 0.01, 5.0
    waits = api.backoff_wait_generator()
    next(waits)
    assert waits.send(RetriableStripeError("x", "503", retry_after=3.0)) >= 3.0
    assert waits.send(RetriableStripeError("x", "503", retry_after=60.0)) == 5.0


def test_the_tap_imports_without_deprecation_warnings() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", "import tap_stripe_custom.tap"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
