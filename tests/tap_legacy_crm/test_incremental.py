"""Incremental extraction by `updated_since`, and requests the CRM rejects."""

from __future__ import annotations

import requests
from elt_sandbox.crm_api.data import build

from tests.conftest import TEST_SCALE
from tests.tap_legacy_crm.conftest import crm_config, run_crm_tap

SINCE = "2025-06-01T00:00:00+00:00"


def test_start_date_then_bookmark_delivers_exactly_the_updated_records(crm_env, tmp_path) -> None:
    expected = sorted({int(r["id"]) for r in build(TEST_SCALE).filtered(SINCE)})
    assert 0 < len(expected) < len(build(TEST_SCALE).distinct_ids)
    config = crm_config(crm_env["SANDBOX_CRM_API_URL"], start_date=SINCE)
    first, states, _ = run_crm_tap(config, tmp_path)
    assert sorted(r["id"] for r in first) == expected
    assert all(r["updated_at"] >= SINCE for r in first)
    bookmark = states[-1]["bookmarks"]["customers"]
    assert "listing" not in bookmark and bookmark["updated_since"] > SINCE
    second, _, _ = run_crm_tap(config, tmp_path, state=states[-1])
    assert second == []  # nothing changed in the CRM since the first run started


def test_other_4xx_fails_fast_with_the_reason(crm_server, tmp_path) -> None:
    base = crm_server()
    config = crm_config(base, per_page=5000)
    records, _, result = run_crm_tap(config, tmp_path, check=False)
    assert result.returncode != 0 and records == []
    assert "rejected the request (400)" in result.stderr
    assert "per_page must be 1..1000" in result.stderr
    stats = requests.get(f"{base}/_sandbox/stats", timeout=5).json()
    assert stats["requests"] == 1  # one request: a 400 is not retried
