"""The job wiring under real Meltano: the taps' counts come from Meltano's run logs, the
gate runs after the loads and before `dbt build`, and a critical gate stops the job."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from tests.e2e.conftest import (  # noqa: F401 (fixtures)
    MeltanoRunner,
    all_sources_env,
    local_lake_runner,
    meltano_installed,
)


@pytest.fixture()
def runner(all_sources_env, meltano_installed, tmp_path) -> MeltanoRunner:  # noqa: F811
    return local_lake_runner(all_sources_env, tmp_path)


def _ledger(runner: MeltanoRunner) -> list[tuple]:
    return duckdb.sql(
        f"select source, stream, run_kind, tap_rows, target_received_rows, target_rows "
        f"from read_parquet('{runner.lake_root}/_meta/ledger/*.parquet') where stream <> '*'"
    ).fetchall()


def test_two_job_runs_are_ok_and_every_count_reconciles(runner: MeltanoRunner) -> None:
    first = runner.run("run", "ecommerce-elt")
    assert "elt-monitor check: job ecommerce-elt" in first.stdout + first.stderr
    second = runner.run("run", "ecommerce-elt")
    output = second.stdout + second.stderr
    assert "ecommerce-elt" in output and ": ok" in output, output[-4000:]
    ledger = _ledger(runner)
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


def test_a_critical_gate_stops_the_job_before_dbt_build(runner: MeltanoRunner) -> None:
    exports = runner.workdir / "exports"
    shutil.copytree(runner.env["SANDBOX_CSV_DIR"], exports)
    job = MeltanoRunner(dict(runner.env) | {"SANDBOX_CSV_DIR": str(exports)}, runner.workdir)
    job.run("run", "ecommerce-elt")
    target = runner.workdir / "dbt-target"
    (target / "run_results.json").unlink()
    # the campaign exports are emptied at the source: header only
    for path in exports.glob("campaign_performance*.csv"):
        path.write_bytes(path.read_bytes().splitlines()[0] + b"\n")
    result = job.run("run", "ecommerce-elt", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, "\n".join(
        line for line in output.splitlines() if "elt-monitor" in line or "campaign" in line
    )[-6000:]
    assert "ZERO_ROWS_FILE" in output and ": critical" in output
    # dbt build never ran after the gate: no new run_results.json
    assert not (target / "run_results.json").exists()
    check = job.run("invoke", "elt-monitor:check", check=False)
    assert check.returncode == 1
    assert "CRITICAL ZERO_ROWS_FILE" in check.stdout
