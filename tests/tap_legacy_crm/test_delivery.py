"""tap-legacy-crm against the CRM simulator: nothing lost, whatever the API does."""

from __future__ import annotations

import ast
import re

import pytest
import requests
from elt_sandbox.crm_api.__main__ import DEFAULT_TOKEN

from tests.tap_legacy_crm.conftest import crm_config, run_crm_tap

FAULTS = {  # kind -> simulator flags
    "5xx": ("--rate-5xx", "0.3"),
    "429_retry_after": ("--rate-429", "0.3", "--retry-after", "0.05"),
    "429_without_retry_after": ("--rate-429", "0.3", "--retry-after", "0"),
    "slow_beyond_timeout": ("--rate-slow", "0.2", "--slow-seconds", "3"),
    "dropped_connections": ("--rate-drop", "0.2"),
    "truncated_bodies": ("--rate-truncated", "0.2"),
    "malformed_bodies": ("--rate-malformed", "0.2"),
    "all_together": ("--rate-5xx", "0.1", "--rate-429", "0.05", "--retry-after", "0.05",
                     "--rate-malformed", "0.05", "--rate-drop", "0.05", "--rate-truncated", "0.05",
                     "--sticky-page", "4:3"),
}  # fmt: skip
RETRY_CAUSES = {  # kind -> the causes its retries must be counted under
    "5xx": {"500"},
    "429_retry_after": {"429"},
    "429_without_retry_after": {"429"},
    "slow_beyond_timeout": {"timeout"},
    "dropped_connections": {"connection"},
    "truncated_bodies": {"truncated_body", "connection"},
    "malformed_bodies": {"malformed_body"},
    "all_together": {"500", "503", "429", "malformed_body"},
}


def test_fault_free_delivery_is_exact(crm_env, crm_expected_ids, tmp_path) -> None:
    records, _, result = run_crm_tap(crm_config(crm_env["SANDBOX_CRM_API_URL"]), tmp_path)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == len(crm_expected_ids)
    assert sum(ids) == sum(crm_expected_ids)
    assert re.search(r"duplicates_dropped=[1-9]", result.stderr), "the simulator serves duplicates"
    assert "reconciled=yes" in result.stderr


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_every_record_arrives_under_each_fault(
    crm_server, crm_expected_ids, tmp_path, kind
) -> None:
    config = crm_config(crm_server(*FAULTS[kind]), request_timeout=1, max_retries=8)
    records, _, result = run_crm_tap(config, tmp_path)
    ids = [r["id"] for r in records]
    assert sorted(ids) == crm_expected_ids
    counted = ast.literal_eval(re.findall(r"retries_by_cause=(\{[^}]*\})", result.stderr)[-1])
    assert RETRY_CAUSES[kind] & {cause for cause, n in counted.items() if n > 0}


def test_retry_after_is_honoured(crm_server, tmp_path) -> None:
    config = crm_config(
        crm_server("--rate-429", "0.5", "--retry-after", "0.3"), backoff_base_seconds=0.001
    )
    _, _, result = run_crm_tap(config, tmp_path)
    waits = [
        float(w) for w in re.findall(r"after 429 \(try \d+, waiting ([0-9.]+)s\)", result.stderr)
    ]
    assert waits, "no 429 was retried"
    assert min(waits) >= 0.3


def test_a_page_beyond_max_retries_stops_the_run_and_the_next_run_resumes_there(
    crm_server, crm_expected_ids, tmp_path
) -> None:
    base = crm_server("--sticky-page", "3:3")
    config = crm_config(base, max_retries=2)
    first, states, result = run_crm_tap(config, tmp_path, check=False)
    assert result.returncode != 0
    assert "page 3" in result.stderr and "still failing after 3 tries" in result.stderr
    assert states[-1]["bookmarks"]["customers"]["listing"]["next_page"] == 3
    assert {r["_sdc_page"] for r in first} == {1, 2}
    second, _, _ = run_crm_tap(config, tmp_path, state=states[-1])
    assert min(r["_sdc_page"] for r in second) == 3
    assert sorted({r["id"] for r in first} | {r["id"] for r in second}) == crm_expected_ids


def test_skip_mode_reports_and_recovers_the_page_at_the_end(
    crm_server, crm_expected_ids, tmp_path
) -> None:
    config = crm_config(
        crm_server("--sticky-page", "3:3"), max_retries=2, on_unrecoverable_page="skip"
    )
    records, states, result = run_crm_tap(config, tmp_path)
    assert "skipped=[3]" in result.stderr and "recovered=[3]" in result.stderr
    assert sorted(r["id"] for r in records) == crm_expected_ids
    assert states[-1]["bookmarks"]["customers"]["skipped_pages"] == []


def test_skip_mode_keeps_a_dead_page_in_state_and_the_next_run_fetches_it_first(
    crm_server, crm_expected_ids, tmp_path
) -> None:
    config = crm_config(
        crm_server("--sticky-page", "3:-1"), max_retries=1, on_unrecoverable_page="skip"
    )
    first, states, _ = run_crm_tap(config, tmp_path)
    skipped = states[-1]["bookmarks"]["customers"]["skipped_pages"]
    assert [s["page"] for s in skipped] == [3]
    assert 3 not in {r["_sdc_page"] for r in first}
    healthy = crm_config(crm_server(), max_retries=1, on_unrecoverable_page="skip")
    second, states_2, _ = run_crm_tap(healthy, tmp_path, state=states[-1])
    assert second[0]["_sdc_page"] == 3
    assert sorted({r["id"] for r in first} | {r["id"] for r in second}) == crm_expected_ids
    assert states_2[-1]["bookmarks"]["customers"]["skipped_pages"] == []


def test_unknown_fields_are_kept_and_dates_normalised_only_when_certain(crm_env, tmp_path) -> None:
    records, _, _ = run_crm_tap(crm_config(crm_env["SANDBOX_CRM_API_URL"]), tmp_path)
    extras = [r for r in records if r["_extra"]]
    assert extras and all("loyalty_tier" in r["_extra"] for r in extras)
    unparsed = [r for r in records if r["signup_date_raw"] and r["signup_date"] is None]
    assert unparsed and all(
        r["signup_date_raw"].startswith("sometime") or not r["signup_date_raw"].strip()
        for r in unparsed
    )
    assert all(r["updated_at"].endswith("+00:00") for r in records)
    assert any(r["email"] != r["email"].strip().lower() for r in records if r["email"])  # raw kept


def test_bad_token_is_a_clear_error_without_the_token(crm_env, tmp_path) -> None:
    token = "wrong-token-abcdef123456"
    config = {**crm_config(crm_env["SANDBOX_CRM_API_URL"]), "api_token": token}
    _, _, result = run_crm_tap(config, tmp_path, check=False)
    assert result.returncode != 0
    assert "refused the token (403)" in result.stderr
    assert token not in result.stderr + result.stdout and DEFAULT_TOKEN not in result.stderr


def test_plain_http_beyond_loopback_is_refused_before_any_request(
    crm_server, crm_expected_ids, tmp_path
) -> None:
    base = crm_server()
    port = base.rsplit(":", 1)[1]
    insecure = crm_config(f"http://0.0.0.0:{port}")  # reaches this machine, but not loopback
    records, _, result = run_crm_tap(insecure, tmp_path, check=False)
    assert result.returncode != 0 and records == []
    assert "set allow_insecure_http: true" in result.stderr
    assert requests.get(f"{base}/_sandbox/stats", timeout=5).json()["requests"] == 0
    allowed, _, _ = run_crm_tap({**insecure, "allow_insecure_http": True}, tmp_path)
    assert sorted(r["id"] for r in allowed) == crm_expected_ids
