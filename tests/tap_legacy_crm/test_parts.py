"""The tap's pure parts: Retry-After, the api_url policy, the page check, reconciliation."""

from __future__ import annotations

import datetime as dt

import pytest
from tap_legacy_crm.pages import PageRequest, page_mismatch, unverifiable
from tap_legacy_crm.reconcile import listing_difference, run_difference
from tap_legacy_crm.retry_after import retry_after_seconds
from tap_legacy_crm.url_policy import api_url_problem

NOW = dt.datetime(2026, 12, 2, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("0.5", 0.5),
        ("Wed, 02 Dec 2026 12:00:07 GMT", 7.0),
        ("Wednesday, 02-Dec-26 12:00:07 GMT", 7.0),  # RFC 850, obsolete but allowed
        ("Wed Dec  2 12:00:07 2026", 7.0),  # asctime
        ("Wed, 02 Dec 2026 11:59:00 GMT", 0.0),  # in the past: retry now
        ("-4", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_in_both_forms(header, expected) -> None:
    assert retry_after_seconds(header, now=NOW) == expected


@pytest.mark.parametrize(
    ("url", "allow", "problem"),
    [
        ("https://crm.example.com", False, None),
        ("http://127.0.0.1:8080", False, None),
        ("http://localhost:8080/", False, None),
        ("http://[::1]:8080", False, None),
        ("http://crm.example.com", False, "allow_insecure_http"),
        ("http://10.0.0.5", False, "allow_insecure_http"),
        ("http://crm.example.com", True, None),
        ("ftp://crm.example.com", True, "http(s) URL"),
        ("crm.example.com", False, "http(s) URL"),
    ],
)
def test_plain_http_only_to_this_machine_unless_allowed(url, allow, problem) -> None:
    found = api_url_problem(url, allow)
    assert (found is None) if problem is None else (problem in found)


def body(ids: list[int], **pagination) -> dict:
    return {"data": [{"id": i} for i in ids], "pagination": pagination}


@pytest.mark.parametrize(
    ("page_body", "asked", "reason"),
    [
        (body([5, 6], page=3, per_page=2, total_pages=9), PageRequest(3, 2, 4), None),
        (body([4, 5], page=3, per_page=2, total_pages=9), PageRequest(3, 2, 4), None),  # dup
        (body([1, 2], page=2, per_page=2, total_pages=9), PageRequest(3, 2), "page 2 for page 3"),
        (body([5, 6], page=3, per_page=5, total_pages=9), PageRequest(3, 2), "per_page=5"),
        (body([5], total_pages=9), PageRequest(3, 2), "holds 1 records"),
        (body([5], total_pages=3), PageRequest(3, 2, 4), None),  # the last page may be short
        (body([1, 2], total_pages=9), PageRequest(3, 2, 4), "starts at id 1"),
        (body([1, 2], total_pages=9), PageRequest(3, 2), None),  # nothing to compare with
        (body([5, 6], page="x", total_pages=9), PageRequest(3, 2), "'x' for page 3"),
    ],
)
def test_a_page_is_the_one_asked_for(page_body, asked, reason) -> None:
    found = page_mismatch(page_body, asked)
    assert (found is None) if reason is None else (reason in found)


def test_every_received_record_is_in_one_bucket() -> None:
    assert run_difference(10, 7, 2, 1) is None
    assert "received (10)" in run_difference(10, 7, 2, 0)


@pytest.mark.parametrize(
    ("emitted", "total", "total_max", "skipped_rows", "unexplained"),
    [
        (100, 100, 100, 0, None),
        (98, 100, 100, 0, "2 unexplained"),
        (98, 100, 100, 50, None),  # a skipped page explains it
        (105, 100, 105, 0, None),  # 5 deleted while the listing was read
        (107, 100, 105, 0, "2 more than the API ever counted"),
        (98, None, None, 0, None),  # no total: nothing to compare
    ],
)
def test_delivered_ids_against_the_api_total(
    emitted, total, total_max, skipped_rows, unexplained
) -> None:
    found = listing_difference(emitted, total, total_max, skipped_rows)
    assert (found is None) if unexplained is None else (unexplained in found)


@pytest.mark.parametrize(
    ("pagination", "ordered_by_id", "refused"),
    [
        ({"per_page": 2, "total_pages": 3}, False, True),  # nothing checks the page
        ({"per_page": 2, "total_pages": 3, "total_records": None}, False, True),
        ({"per_page": 2, "total_pages": 3}, True, False),  # id order checks it
        ({"page": 1, "per_page": 2, "total_pages": 3}, False, False),  # the echo does
        ({"per_page": 2, "total_pages": 3, "total_records": 5}, False, False),  # the total
    ],
)
def test_an_unordered_listing_needs_an_echo_or_a_total(pagination, ordered_by_id, refused) -> None:
    body = {"data": [{"id": 1}, {"id": 2}], "pagination": pagination}
    assert bool(unverifiable(body, ordered_by_id)) is refused
