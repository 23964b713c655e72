"""The job wiring under real Meltano: the taps' counts come from Meltano's run logs, the
gate runs after the loads and before `dbt build`, and a critical gate stops the job."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.e2e.conftest import MeltanoRunner, SecondNight
from tests.elt_monitor.test_alerts_and_report import Receiver


@dataclass(frozen=True)
class TwoNights:
    """A runner after two ok `meltano run ecommerce-elt`, with what they left."""

    runner: MeltanoRunner
    second_output: str  # what the second night's steps wrote (Meltano's log among it)
    verdicts: list[dict]
    ledger: list[tuple]
    products: list[tuple]


@pytest.fixture(scope="module")
def two_nights(second_clean_night: SecondNight) -> TwoNights:
    """Two ok nights (the e2e session's `clean_run` and its second night through the daily
    Dagster job, which test_pipeline and tests/orchestration/test_runs.py share), then
    each test adds one night of its own (a failed dbt build, an emptied export) after
    those modules' tests (`SHARED_SESSION_GROUPS`)."""
    runner = second_clean_night.runner
    products = duckdb.sql(
        f"select source_rows, lake_keys from read_parquet("
        f"'{runner.lake_root}/_meta/ledger/*.parquet', union_by_name => true) "
        "where stream = 'public-products' order by recorded_at"
    ).fetchall()
    return TwoNights(
        runner, second_clean_night.daily.output, _verdicts(runner), _ledger(runner), products
    )


def _ledger(runner: MeltanoRunner) -> list[tuple]:
    return duckdb.sql(
        f"select source, stream, run_kind, tap_rows, target_received_rows, target_rows "
        f"from read_parquet('{runner.lake_root}/_meta/ledger/*.parquet') where stream <> '*'"
    ).fetchall()


def _verdicts(runner: MeltanoRunner) -> list[dict]:
    """The job's verdicts as elt-monitor stored them, oldest first."""
    folder = Path(runner.lake_root) / "_meta" / "verdicts" / "ecommerce-elt"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def test_two_job_runs_are_ok_and_a_night_dbt_cannot_build_fails_at_finish(
    two_nights: TwoNights,
) -> None:
    runner, verdicts, ledger = two_nights.runner, two_nights.verdicts, two_nights.ledger
    assert [v["stage"] for v in verdicts] == ["finish", "finish"]
    assert verdicts[-1]["severity"] == "ok", (
        verdicts[-1]["findings"],
        two_nights.second_output[-3000:],
    )
    assert verdicts[-1]["dbt"]["ran"] and not verdicts[-1]["dbt"]["not_passed"]
    sources = {row[0] for row in ledger}
    assert sources == {
        "tap_ecommerce_postgres",
        "tap_stripe_custom",
        "tap_legacy_crm",
        "tap_csv_marketing",
    }
    # every stream's tap count was found in Meltano's log and equals what was committed
    assert all(row[3] == row[4] == row[5] for row in ledger), [r for r in ledger if r[3] != r[5]]
    assert {row[2] for row in ledger} == {"initial", "incremental"}
    # the INCREMENTAL products stream: the tap's count of the table, found in Meltano's log,
    # equals the keys the lake holds (no hard delete behind it)
    products = two_nights.products
    assert len(products) == 2 and all(row[0] == row[1] > 0 for row in products), products

    # A third night whose dbt build cannot run (its lake setting points at nothing): a
    # plain `meltano run` still reaches `finish`, which fails the run with one alert.
    receiver = Receiver(failures=0)
    night = MeltanoRunner(
        dict(runner.env)
        | {
            "DBT_DUCKDB_LAKE_ROOT": str(runner.workdir / "no-lake"),
            "ELT_MONITOR_ALERT_WEBHOOK_URL": receiver.url,
        },
        runner.workdir,
    )
    try:
        third = night.run("run", "ecommerce-elt", check=False)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    last = _verdicts(runner)[-1]
    assert third.returncode != 0
    assert last["stage"] == "finish", third.stderr[-3000:]
    assert ("MARTS_NOT_PUBLISHED", "critical") in {
        (f["code"], f["severity"]) for f in last["findings"]
    }, last["findings"]
    assert last["marts"]["as_of_run"] == verdicts[-1]["marts"]["as_of_run"]
    assert [body["job_run_id"] for body in receiver.bodies] == [last["job_run_id"]]


def test_a_critical_gate_stops_the_job_before_dbt_build(two_nights: TwoNights) -> None:
    runner = two_nights.runner
    exports = Path(runner.env["SANDBOX_CSV_DIR"])
    target = runner.workdir / "dbt-target"
    (target / "run_results.json").unlink(missing_ok=True)
    # the campaign exports are emptied at the source: header only (restored afterwards,
    # so that the module's other night sees the same exports in any order)
    emptied = {path: path.read_bytes() for path in exports.glob("campaign_performance*.csv")}
    assert emptied
    for path, content in emptied.items():
        path.write_bytes(content.splitlines()[0] + b"\n")
    try:
        result = runner.run("run", "ecommerce-elt", check=False)
    finally:
        for path, content in emptied.items():
            path.write_bytes(content)
    output = result.stdout + result.stderr
    assert result.returncode != 0, "\n".join(
        line for line in output.splitlines() if "elt-monitor" in line or "campaign" in line
    )[-6000:]
    gate = _verdicts(runner)[-1]
    assert gate["stage"] == "gate" and gate["severity"] == "critical"
    assert {(f["code"], f["stream"]) for f in gate["findings"]} >= {
        ("ZERO_ROWS_FILE", "tap_csv_marketing/campaign_performance")
    }
    # dbt build never ran after the gate: no new run_results.json
    assert not (target / "run_results.json").exists()
    check = runner.run("invoke", "elt-monitor:check", check=False)
    assert check.returncode == 1
    assert "CRITICAL ZERO_ROWS_FILE" in check.stdout
