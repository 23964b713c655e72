"""tap-csv-marketing on the sandbox's JSON feed (ad_events NDJSON, the budget plan JSON
document), locally and on the S3 endpoint: per file, good records, the bad records'
positions and reasons, and the money sums reconcile with the sandbox's manifest to the cent.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

from elt_sandbox.marketing.json_feed import FEED_BAD

from tests.tap_csv_marketing.conftest import run_csv_tap

MONEY = {"ad_events": "cost", "budget_plan": "planned_budget"}


def feed_manifest(csv_env: dict[str, str]) -> dict:
    path = Path(csv_env["SANDBOX_CSV_DIR"]) / "_manifest.json"
    return json.loads(path.read_text())["json_feed"]


def reconcile(streams: dict, expected: dict) -> None:
    good: Counter = Counter()
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for stream, column in MONEY.items():
        for record in streams[stream]:
            name = record["_sdc_source_file"].rsplit("/", 1)[-1]
            good[name] += 1
            sums[name] += Decimal(record[column])
            assert Decimal(record[column]).as_tuple().exponent == -2  # to the cent
    quarantined = {
        (r["source_file"].rsplit("/", 1)[-1], r["line"], r["reason"])
        for stream in MONEY
        for r in streams[f"{stream}__quarantine"]
    }
    for name, entry in expected["files"].items():
        assert good[name] == entry["good_records"], name
        assert sums[name] == Decimal(entry["money_total"]), name
    assert quarantined == {
        (name, bad["position"], bad["reason"])
        for name, entry in expected["files"].items()
        for bad in entry["bad_records"]
    }
    assert len(quarantined) == len(FEED_BAD)
    for stream, total in expected["totals"].items():
        assert len(streams[stream]) == total["good_records"]
        assert sum(Decimal(r[MONEY[stream]]) for r in streams[stream]) == Decimal(
            total["money_total"]
        )


def test_the_feed_reconciles_with_the_sandbox_manifest(csv_env, tmp_path) -> None:
    streams, _, _ = run_csv_tap({"source": csv_env["SANDBOX_CSV_DIR"]}, tmp_path)
    expected = feed_manifest(csv_env)
    assert expected["totals"]["ad_events"]["good_records"] == 2920
    assert expected["totals"]["budget_plan"]["good_records"] == 1825
    reconcile(streams, expected)
    event = next(r for r in streams["ad_events"] if r["event_id"] == "EV-20250101-CMP-001")
    assert event["attributes"]["bid"] == {"max_cpc": 0.35}  # nested JSON kept
    assert len(streams["marketing_spend"]) == 365  # the CSVs beside it are unchanged


def test_the_feed_reconciles_from_s3(csv_env, s3_env, tmp_path) -> None:
    config = {
        "source": csv_env["SANDBOX_CSV_S3_URL"],
        "s3_endpoint_url": s3_env["AWS_ENDPOINT_URL"],
        "aws_access_key_id": s3_env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": s3_env["AWS_SECRET_ACCESS_KEY"],
    }
    streams, _, _ = run_csv_tap(config, tmp_path)
    reconcile(streams, feed_manifest(csv_env))
