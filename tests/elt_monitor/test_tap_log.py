"""The tap's counts from its log: a Meltano run log (tap and target interleaved, each line
prefixed with the plugin name) and a tap's own stderr; dbt's result files."""

from __future__ import annotations

import json
from pathlib import Path

from elt_monitor import dbt_results, tap_log
from target_minio_parquet.run import RUN_STARTED_LINE as TARGET_RUN_STARTED_LINE

MELTANO_LOG = """\
2026-12-02T12:32:56.815808Z [info     ] meltano      Running job with name 'dev:tap-x-to-target-y' and run ID 'abc-123'
2026-12-02T12:33:08.666741Z [info     ] tap-x METRIC: {"type":"timer","metric":"sync_duration","value":0.1,"tags":{"stream":"s1","pid":1,"context":{},"status":"succeeded"}}
2026-12-02T12:33:08.666969Z [info     ] tap-x METRIC: {"type":"counter","metric":"record_count","value":1000,"tags":{"stream":"s1","pid":1,"context":{}}}
2026-12-02T12:33:08.766969Z [info     ] tap-x METRIC: {"type":"counter","metric":"record_count","value":200,"tags":{"stream":"s1","pid":1,"context":{"p":2}}}
2026-12-02T12:33:08.800000Z [info     ] tap-x /exports/s1_w01.csv: 10 good rows, 2 quarantined (12 data lines)
2026-12-02T12:33:08.900000Z [info     ] tap-x METRIC: {"type":"timer","metric":"sync_duration","value":0.1,"tags":{"stream":"s2","status":"failed"}}
2026-12-02T12:33:08.900001Z [info     ] tap-x CRM run report: 3 pages, 1 retry
2026-12-02T12:33:10.533795Z [info     ] target-y METRIC: {"type":"timer","metric":"batch_processing_time","value":0.005,"tags":{"stream":"s1"}}
2026-12-02T12:33:10.613398Z [info     ] target-y METRIC: {"type":"counter","metric":"record_count","value":1199,"tags":{"stream":"s1"}}
"""  # noqa: E501


def test_meltano_log_separates_tap_and_target_counts() -> None:
    counts = tap_log.parse(MELTANO_LOG)
    assert dict(counts.tap_rows) == {"s1": 1200}
    assert dict(counts.target_received) == {"s1": 1199}
    assert counts.failed_streams == {"s2"}
    assert counts.files == {"/exports/s1_w01.csv": (10, 2)}
    assert counts.reports == ["CRM run report: 3 pages, 1 retry"]
    assert counts.meltano_run_id == "abc-123"


def test_the_log_holding_the_target_run_id_is_chosen(tmp_path: Path) -> None:
    import datetime as dt

    for name, body in [
        ("r1", MELTANO_LOG),
        ("r2", MELTANO_LOG + "committed .../T-abc-00001.parquet\n"),
    ]:
        (tmp_path / "dev" / name).mkdir(parents=True)
        (tmp_path / "dev" / name / "elt.log").write_text(body)
    started = dt.datetime(2026, 12, 2, 12, 33, tzinfo=dt.UTC)
    found = tap_log.find_meltano_log(tmp_path, "T-abc", started)
    assert found is not None and found[0].endswith("r2/elt.log")
    # a run that committed nothing still named its run id at start; without the id in
    # any block the counts are unknown: blocks that merely cover the time (a concurrent
    # run elsewhere on the machine) are never taken
    assert tap_log.find_meltano_log(tmp_path, "T-zzz", started) is None
    started_line = TARGET_RUN_STARTED_LINE.format(run_id="T-zzz", source="src")
    (tmp_path / "dev" / "r3").mkdir()
    (tmp_path / "dev" / "r3" / "elt.log").write_text(
        MELTANO_LOG.replace(
            "target-y METRIC",
            f"target-y {started_line}\n2026-12-02T12:33:10Z [info     ] target-y METRIC",
            1,
        )
    )
    found = tap_log.find_meltano_log(tmp_path, "T-zzz", started)
    assert found is not None and found[0].endswith("r3/elt.log")


def test_dbt_failures_and_stale_sources_are_folded_in(tmp_path: Path) -> None:
    (tmp_path / "run_results.json").write_text(
        json.dumps(
            {
                "results": [
                    {"unique_id": "model.p.fct_orders", "status": "success"},
                    {"unique_id": "test.p.unique_x", "status": "fail", "message": "3 rows"},
                    {"unique_id": "test.p.warn_y", "status": "warn"},
                ]
            }
        )
    )
    (tmp_path / "sources.json").write_text(
        json.dumps({"results": [{"unique_id": "source.p.shop.orders", "status": "error"}]})
    )
    found = {(f.code, f.severity, f.stream) for f in dbt_results.findings(tmp_path)}
    assert found == {
        ("DBT_TEST_FAILED", "critical", "test.p.unique_x"),
        ("DBT_TEST_WARNING", "warning", "test.p.warn_y"),
        ("DBT_SOURCE_STALE", "critical", "source.p.shop.orders"),
    }


def test_a_later_block_leaked_into_an_earlier_log_is_cut_out(tmp_path: Path) -> None:
    """Meltano 4 writes every later block of a run into the earlier blocks' elt.log too."""
    import datetime as dt

    second = MELTANO_LOG.replace("tap-x", "tap-z").replace("'dev:", "'dev2:")
    second = second.replace('"value":1000', '"value":7').replace('"value":1199', '"value":207')
    leaky = MELTANO_LOG + "run A committed A-00001.parquet\n" + second + "B-00001.parquet\n"
    (tmp_path / "a" / "r").mkdir(parents=True)
    (tmp_path / "a" / "r" / "elt.log").write_text(leaky)
    started = dt.datetime(2026, 12, 2, 12, 33, tzinfo=dt.UTC)
    _, block = tap_log.find_meltano_log(tmp_path, "B-00001", started)
    counts = tap_log.parse(block)
    assert dict(counts.tap_rows) == {"s1": 207} and dict(counts.target_received) == {"s1": 207}
    _, block = tap_log.find_meltano_log(tmp_path, "A-00001", started)
    assert dict(tap_log.parse(block).tap_rows) == {"s1": 1200}
