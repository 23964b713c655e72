"""Every response is checked to be the page that was asked for; counts reconcile.

A proxy that answers page N with page N-1's body used to make the tap drop page N's
records as duplicates and exit 0. These runs go against the real CRM simulator.
"""

from __future__ import annotations

import ast
import re

import pytest
from elt_monitor.log_formats import REPORT

from tests.tap_legacy_crm.conftest import crm_config, run_crm_tap

PROXY_FAULTS = {
    "wrong_page": ("--rate-wrong-page", "0.2"),
    "replayed_page": ("--rate-replay", "0.2"),
    "replayed_page_without_page_echo": ("--rate-replay", "0.2", "--no-page-echo"),
    "wrong_page_without_page_echo": ("--rate-wrong-page", "0.2", "--no-page-echo"),
}

SINCE = "2000-01-01T00:00:00+00:00"  # an earlier run's bookmark: before every record
EARLIER = {"bookmarks": {"customers": {"updated_since": SINCE}}}


def causes(stderr: str) -> dict[str, int]:
    # elt-monitor keeps this line in the ledger (elt_monitor.log_formats)
    reports = [m["report"] for m in map(REPORT.search, stderr.splitlines()) if m]
    assert reports, "no run report in the log"
    found = re.findall(r"retries_by_cause=(\{[^}]*\})", reports[-1])
    return ast.literal_eval(found[-1])


@pytest.mark.parametrize("kind", sorted(PROXY_FAULTS))
def test_a_page_answered_with_another_pages_body_is_refetched(
    crm_server, crm_expected_ids, tmp_path, kind
) -> None:
    base = crm_server(*PROXY_FAULTS[kind], "--seed", "7")
    records, _, result = run_crm_tap(crm_config(base, max_retries=8), tmp_path)
    assert sorted(r["id"] for r in records) == crm_expected_ids
    assert causes(result.stderr).get("wrong_page", 0) > 0


def test_a_page_that_keeps_coming_back_wrong_stops_the_run_naming_it(crm_server, tmp_path) -> None:
    base = crm_server("--rate-wrong-page", "1")
    records, _, result = run_crm_tap(crm_config(base, max_retries=2), tmp_path, check=False)
    assert result.returncode != 0 and records == []
    assert re.search(r"page 1 .*still failing after 3 tries \(wrong_page", result.stderr)
    assert causes(result.stderr)["wrong_page"] == 2


def test_received_equals_emitted_plus_duplicates_and_matches_the_api_total(
    crm_server, crm_expected_ids, tmp_path
) -> None:
    _, _, result = run_crm_tap(crm_config(crm_server("--rate-replay", "0.1")), tmp_path)
    report = dict(re.findall(r"\b(records_received|records_emitted|duplicates_dropped|"
                             r"api_total|distinct_emitted)=(\d+)", result.stderr))  # fmt: skip
    counts = {key: int(value) for key, value in report.items()}
    assert counts["records_received"] == counts["records_emitted"] + counts["duplicates_dropped"]
    assert counts["duplicates_dropped"] > 0
    assert counts["api_total"] == counts["distinct_emitted"] == len(crm_expected_ids)
    assert "reconciled=yes" in result.stderr


def test_fewer_ids_than_the_api_total_fails_the_run(crm_server, crm_expected_ids, tmp_path) -> None:
    hidden = crm_expected_ids[5], crm_expected_ids[-3]
    base = crm_server("--hide-ids", ",".join(map(str, hidden)))
    _, states, result = run_crm_tap(crm_config(base), tmp_path, state=EARLIER, check=False)
    assert result.returncode != 0
    assert f"API reports {len(crm_expected_ids)} customers" in result.stderr
    assert f"{len(crm_expected_ids) - 2} distinct ids were delivered" in result.stderr
    bookmark = states[-1]["bookmarks"]["customers"]
    assert bookmark["updated_since"] == SINCE and "listing" not in bookmark  # re-read next run


def test_skip_mode_warns_loudly_about_a_shortfall_and_keeps_the_bookmark(
    crm_server, crm_expected_ids, tmp_path
) -> None:
    base = crm_server("--hide-ids", str(crm_expected_ids[5]))
    config = crm_config(base, on_unrecoverable_page="skip")
    records, states, result = run_crm_tap(config, tmp_path, state=EARLIER)
    assert len(records) == len(crm_expected_ids) - 1
    assert re.search(r"ERROR.*NOT RECONCILED: the API reports", result.stderr)
    assert states[-1]["bookmarks"]["customers"]["updated_since"] == SINCE


def test_retry_after_as_an_http_date_is_honoured(crm_server, tmp_path) -> None:
    base = crm_server(
        "--rate-429", "0.2", "--retry-after", "0.5", "--retry-after-style", "date", "--seed", "2"
    )
    _, _, result = run_crm_tap(crm_config(base, backoff_base_seconds=0.001), tmp_path)
    waits = [
        float(w) for w in re.findall(r"after 429 \(try \d+, waiting ([0-9.]+)s\)", result.stderr)
    ]
    assert waits, "no 429 was retried"
    # the date is >= 0.5 s ahead when sent; the jittered waits alone stay <= 0.2 s
    assert min(waits) >= 0.25


def test_gateway_html_errors_are_retried(crm_server, crm_expected_ids, tmp_path) -> None:
    records, _, result = run_crm_tap(crm_config(crm_server("--rate-gateway", "0.3")), tmp_path)
    assert sorted(r["id"] for r in records) == crm_expected_ids
    assert causes(result.stderr)["502"] > 0


def test_resume_after_deletions_restarts_by_key_not_by_page_number(
    crm_server, crm_expected_ids, tmp_path
) -> None:
    config = crm_config(crm_server("--sticky-page", "3:-1"), max_retries=1)
    first, states, result = run_crm_tap(config, tmp_path, check=False)
    assert result.returncode != 0 and {r["_sdc_page"] for r in first} == {1, 2}
    deleted = crm_expected_ids[10:17]  # on page 1: page 3's first records shift to page 2
    after = crm_config(crm_server("--delete-ids", ",".join(map(str, deleted))))
    second, _, result_2 = run_crm_tap(after, tmp_path, state=states[-1])
    delivered = {r["id"] for r in first} | {r["id"] for r in second}
    assert sorted(delivered - set(deleted)) == sorted(set(crm_expected_ids) - set(deleted))
    assert "reconciled=yes" in result_2.stderr


def test_without_order_or_echo_a_replayed_page_fails_reconciliation_not_silently(
    crm_server, tmp_path
) -> None:
    base = crm_server("--rate-replay", "0.3", "--no-page-echo", "--seed", "7")
    config = crm_config(base, listing_order="none")
    _, _, result = run_crm_tap(config, tmp_path, check=False)
    assert result.returncode != 0
    assert "NOT RECONCILED: the API reports" in result.stderr and "reconciled=NO" in result.stderr


def test_a_listing_from_a_state_without_counts_resumes_by_page(crm_env, tmp_path) -> None:
    listing = {"updated_since": None, "started_at": "2026-01-01T00:00:00+00:00",
               "next_page": 3, "per_page": 100}  # fmt: skip
    state = {"bookmarks": {"customers": {"listing": listing}}}
    records, states, result = run_crm_tap(
        crm_config(crm_env["SANDBOX_CRM_API_URL"]), tmp_path, state=state
    )
    assert min(r["_sdc_page"] for r in records) == 3
    assert "STATE without counts: total not compared" in result.stderr
    assert states[-1]["bookmarks"]["customers"]["updated_since"] == listing["started_at"]


def test_no_order_no_echo_and_no_total_is_refused_before_any_record(crm_server, tmp_path) -> None:
    """Nothing can tell a replayed page from the page asked for: replays lost ids, exit 0."""
    base = crm_server("--rate-replay", "0.3", "--no-page-echo", "--no-total", "--seed", "7")
    config = crm_config(base, listing_order="none")
    records, states, result = run_crm_tap(config, tmp_path, state=EARLIER, check=False)
    assert result.returncode != 0 and records == []
    assert "listing_order: none" in result.stderr
    assert "no pagination.page and no pagination.total_records" in result.stderr
    assert all(s["bookmarks"]["customers"]["updated_since"] == SINCE for s in states)
    assert "reconciled=n/a" in result.stderr


@pytest.mark.parametrize("order, faults", [("id", ()), ("none", ("--rate-replay", "0.3"))])
def test_without_a_total_the_report_says_reconciled_na_not_yes(
    crm_server, crm_expected_ids, tmp_path, order, faults
) -> None:
    """Pages are still verified (by id order, or by the echoed page): the run completes,
    but there was no total to compare, so it is not reported as reconciled."""
    base = crm_server("--no-total", *faults, "--seed", "7")
    records, _, result = run_crm_tap(crm_config(base, listing_order=order), tmp_path)
    assert sorted(r["id"] for r in records) == crm_expected_ids
    assert "api_total=None" in result.stderr and "reconciled=n/a" in result.stderr
    assert "reconciled=yes" not in result.stderr
