"""The run's boundary: min(local clock, the API's `Date`), the local clock without one."""

from __future__ import annotations

import logging

import pytest
from tap_stripe_custom.run_boundary import log_boundary, parse_http_date, run_boundary

LOCAL = 1_780_000_000.0  # 2026-05-28T20:26:40Z
BEHIND = "Thu, 01 Jan 2026 00:30:00 GMT"  # 1767227400


def test_http_date_parsed_as_epoch_seconds():
    assert parse_http_date(BEHIND) == 1_767_227_400.0


@pytest.mark.parametrize(
    "header", [None, "", "yesterday", "Thu, 01 Jan 2026 25:99:00 GMT", "Thu, 01 Jan 2026 00:30:00"]
)
def test_missing_or_unreadable_date_gives_the_local_clock(header):
    boundary = run_boundary(LOCAL, header)
    assert (boundary.moment, boundary.server) == (LOCAL, None)


def test_a_server_behind_bounds_the_run_less_its_round_trip():
    boundary = run_boundary(LOCAL, BEHIND, round_trip=2.5)
    assert boundary.moment == boundary.server == 1_767_227_400.0 - 2.5
    assert boundary.local == LOCAL


def test_a_server_ahead_leaves_the_local_clock():
    assert run_boundary(1_767_227_000.0, BEHIND).moment == 1_767_227_000.0


def test_logs_name_what_was_used(caplog):
    logger = logging.getLogger("boundary-test")
    with caplog.at_level(logging.INFO, logger="boundary-test"):
        log_boundary(logger, run_boundary(LOCAL, None), "Stripe")
        log_boundary(logger, run_boundary(LOCAL, BEHIND), "Stripe")
        log_boundary(logger, run_boundary(1_767_227_403.0, BEHIND), "Stripe")  # 3 s: quiet
    levels = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert len(levels) == 2
    assert levels[0][0] == "WARNING" and "no readable Date header" in levels[0][1]
    assert levels[1][0] == "INFO"
    assert "run boundary 2026-01-01T00:30:00+00:00" in levels[1][1]
    assert "local 2026-05-28T20:26:40+00:00" in levels[1][1]
