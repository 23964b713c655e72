"""Real tap-csv-marketing | target-minio-parquet runs over a copy of the sandbox exports:
emptied exports and a burst of bad rows, judged by the real `elt-monitor check`."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.elt_monitor.conftest import Pipeline, codes


def test_emptied_exports_are_a_critical_zero_row_snapshot(csv_pipeline: Pipeline) -> None:
    for _ in range(2):
        clean = csv_pipeline.run_and_check()
        assert clean.returncode == 0, clean.stdout + clean.stderr
    exports = csv_pipeline.tap_config["source"]
    for path in sorted(Path(exports).glob("campaign_performance*.csv")):
        header = path.read_bytes().splitlines()[0]
        path.write_bytes(header + b"\n")
    result = csv_pipeline.run_and_check()
    assert result.returncode == 1, result.stdout
    assert ("critical", "ZERO_ROWS_FILE") in codes(result)
    assert "src/campaign_performance:" in result.stdout
    # the tap's own per-file counts are in the ledger
    files = duckdb.sql(
        f"select tap_files from read_parquet('{csv_pipeline.lake}/_meta/ledger/*.parquet') "
        "where stream = 'campaign_performance' order by recorded_at desc limit 1"
    ).fetchall()[0][0]
    assert set(map(tuple, json.loads(files).values())) == {(0, 0)}


def test_a_burst_of_bad_rows_warns_on_the_quarantine_share(csv_pipeline: Pipeline) -> None:
    assert csv_pipeline.run_and_check().returncode == 0
    exports = Path(csv_pipeline.tap_config["source"])
    spend = sorted(exports.glob("marketing_spend*.csv"))[0]
    with spend.open("a") as out:
        out.writelines(f"not-a-date,Nowhere,bad row {i},abc,x,y\n" for i in range(200))
    result = csv_pipeline.run_and_check()
    assert result.returncode == 0, result.stdout
    assert ("warning", "QUARANTINE_SHARE") in codes(result)
    assert "src/marketing_spend:" in result.stdout
    assert ("critical", "TAP_TARGET_MISMATCH") not in codes(result)
