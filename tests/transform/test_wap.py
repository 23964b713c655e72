"""Write, audit, publish on DuckDB, with real dbt over a real bronze lake: one night that
passes, one whose error-severity test fails, one whose build breaks half-way, one that
publishes under a reader's feet and one that a writer's lock stops. The published file is
compared byte for byte and row for row; the publication facts are read as elt-monitor
reads them (attempt.json, publication.json)."""

from __future__ import annotations

import datetime as dt
import subprocess
import time

import duckdb
import pytest
from elt_monitor import marts

from tests.transform.bronze import baseline, charge, item, order
from tests.transform.conftest import DbtProject, output
from tests.transform.test_null_keys import ORDERLESS_CHARGE, orderless_charge
from tests.transform.wap import run_wap, sha256, state
from tests.transform_engines.engines import read_duckdb_marts

pytestmark = pytest.mark.slow

FAILING_TEST = "not_null_fct_payments_order_key"
NEW_ORDER = 7


class Nights:
    """The published warehouse of one lake, and a `run` per night."""

    def __init__(self, project: DbtProject) -> None:
        self.project = project
        self.workdir = project.workdir
        self.published = self.workdir / "published" / "warehouse.duckdb"
        self.seconds: dict[str, float] = {}

    def run(self, run_id: str) -> subprocess.CompletedProcess:
        settings = {"LAKE_ROOT": str(self.workdir / "lake"), "DBT_DUCKDB_PATH": str(self.published)}
        started = time.monotonic()
        result = run_wap("duckdb", self.workdir, settings, run_id)
        self.seconds[run_id] = time.monotonic() - started
        return result

    def attempt(self) -> dict:
        return state(self.workdir, "attempt.json")

    def publication_bytes(self) -> bytes:
        return (self.workdir / "wap" / "publication.json").read_bytes()

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.published), read_only=True) as conn:
            return conn.execute(sql).fetchall()


def node(attempt: dict, name: str) -> dict:
    [found] = [r for r in attempt["results"] if r["unique_id"].split(".")[2] == name]
    return found


@pytest.fixture(scope="module")
def nights(dbt_project: DbtProject) -> Nights:
    dbt_project.lake.write_all(baseline())
    return Nights(dbt_project)


@pytest.fixture(scope="module")
def first(nights: Nights) -> dict:
    """A plain `dbt build` of the lake (the reference), then the first WAP night."""
    started = time.monotonic()
    plain = nights.project.dbt("build")
    nights.seconds["plain dbt build"] = time.monotonic() - started
    assert plain.returncode == 0, output(plain)
    result = nights.run("run-1")
    return {
        "result": result,
        "hash": sha256(nights.published) if nights.published.exists() else None,
    }


@pytest.fixture(scope="module")
def failing(nights: Nights, first: dict) -> dict:
    """Night 2: a Stripe charge that names no order (an error-severity test fails)."""
    path = nights.project.lake.write("charges", [orderless_charge()], run_id="20250602T000000Z-bad")
    before = nights.publication_bytes()
    result = nights.run("run-2")
    path.unlink()
    return {"result": result, "publication_before": before}


@pytest.fixture(scope="module")
def broken(nights: Nights, failing: dict) -> dict:
    """Night 3: one bronze file of refunds is not Parquet: the build errors half-way."""
    directory = (
        nights.workdir / "lake" / "tap_stripe_custom" / "refunds" / "extracted_date=2025-06-03"
    )
    directory.mkdir(parents=True)
    corrupt = directory / "20250603T000000Z-corrupt-00000.parquet"
    corrupt.write_bytes(b"this is not parquet")
    before = nights.publication_bytes()
    result = nights.run("run-3")
    corrupt.unlink()
    return {"result": result, "publication_before": before}


def test_a_passing_build_is_published_with_the_marts_of_a_plain_build(
    nights: Nights, first: dict
) -> None:
    assert first["result"].returncode == 0, output(first["result"])
    published, plain = (
        read_duckdb_marts(nights.published),
        read_duckdb_marts(nights.project.warehouse),
    )
    for mart, rows in plain.items():
        assert rows.rows, f"{mart} is empty: nothing compared"
        assert published[mart].columns == rows.columns
        assert published[mart].row_hashes() == rows.row_hashes(), mart
    assert nights.query("select run_id from marts_publication") == [("run-1",)]
    # Frozen at publication: every relation is a table (no view reads the live lake).
    kinds = nights.query("select distinct table_type from information_schema.tables")
    assert kinds == [("BASE TABLE",)]
    # Nothing left beside it: no staging build, no write-ahead log.
    assert sorted(p.name for p in nights.published.parent.iterdir()) == ["warehouse.duckdb"]


def test_the_publication_is_recorded_as_data(nights: Nights, first: dict) -> None:
    publication = state(nights.workdir, "publication.json")
    attempt = nights.attempt()
    assert publication["published"] is True
    assert publication["engine"] == "duckdb"
    assert publication["location"] == str(nights.published)
    assert publication["run_id"] == "run-1"
    assert publication["dbt_exit_code"] == 0
    assert publication["results"] == []
    assert publication["counts"]["failed"] == publication["counts"]["errored"] == 0
    assert publication["counts"]["models"] >= 22 and publication["counts"]["tests"] > 50
    assert publication["started_at"] < publication["finished_at"]
    assert publication["started_at"].endswith("Z") and publication["finished_at"].endswith("Z")
    # dbt's own target directory still holds this build's run_results.json.
    results = (nights.workdir / "dbt-target" / "run_results.json").read_text()
    assert publication["dbt_invocation_id"] in results
    assert attempt["marts_as_of"] == {"run_id": "run-1", "finished_at": publication["finished_at"]}


def test_the_next_night_reuses_the_parse(nights: Nights, first: dict, failing: dict) -> None:
    """Every attempt builds at the same staging path, so dbt's profile is the same each
    night and dbt reuses its saved parse (a path naming the run made it parse the whole
    project again every night: ~3 s of each job run)."""
    log = failing["result"].stdout + failing["result"].stderr
    assert "Found " in log, output(failing["result"])  # dbt ran and printed its summary
    assert "Unable to do partial parsing" not in log, output(failing["result"])
    assert "full parse" not in log, output(failing["result"])


def test_a_failing_test_leaves_the_marts_of_the_last_publication(
    nights: Nights, first: dict, failing: dict
) -> None:
    result = failing["result"]
    assert result.returncode == 1, output(result)
    assert sha256(nights.published) == first["hash"]
    assert nights.query("select run_id from marts_publication") == [("run-1",)]
    assert nights.query(
        f"select count(*) from fct_payments where charge_id = '{ORDERLESS_CHARGE}'"
    ) == [(0,)]
    assert nights.publication_bytes() == failing["publication_before"]
    attempt = nights.attempt()
    assert attempt["published"] is False and attempt["run_id"] == "run-2"
    failed = node(attempt, FAILING_TEST)
    assert (failed["resource_type"], failed["status"], failed["failures"]) == ("test", "fail", 1)
    assert attempt["counts"]["failed"] == 1
    assert attempt["marts_as_of"]["run_id"] == "run-1"
    assert FAILING_TEST in attempt["reason"]
    assert "NOT published" in result.stderr and "as of run run-1" in result.stderr
    # The failed build stays where it was built, to be looked at.
    with duckdb.connect(attempt["staging_location"], read_only=True) as conn:
        rows = conn.execute(
            f"select count(*) from fct_payments where charge_id = '{ORDERLESS_CHARGE}'"
        )
        assert rows.fetchall() == [(1,)]


def test_a_build_that_breaks_half_way_leaves_the_published_file_untouched(
    nights: Nights, first: dict, broken: dict
) -> None:
    result = broken["result"]
    assert result.returncode == 2, output(result)
    assert sha256(nights.published) == first["hash"]
    assert nights.publication_bytes() == broken["publication_before"]
    attempt = nights.attempt()
    assert attempt["published"] is False and attempt["run_id"] == "run-3"
    assert node(attempt, "stg_stripe__refunds")["status"] == "error"
    assert attempt["counts"]["errored"] >= 1 and attempt["counts"]["skipped"] >= 1
    # Models before the error were built, in the staging file only.
    assert attempt["counts"]["passed"] > 0
    assert attempt["marts_as_of"]["run_id"] == "run-1"


def test_as_a_job_step_the_attempt_leaves_its_verdict_to_the_monitor(
    nights: Nights, first: dict, broken: dict
) -> None:
    """`wap-in-job` (--defer-exit): the same failed attempt, recorded the same way, exits
    0 so that `meltano run` reaches `elt-monitor finish`, which reads attempt.json and
    makes the unpublished build critical."""
    path = nights.project.lake.write("charges", [orderless_charge()], run_id="20250604T000000Z-bad")
    before = nights.publication_bytes()
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    settings = {
        "LAKE_ROOT": str(nights.workdir / "lake"),
        "DBT_DUCKDB_PATH": str(nights.published),
    }
    result = run_wap("duckdb", nights.workdir, settings, "run-4", defer_exit=True)
    path.unlink()
    assert result.returncode == 0, output(result)
    assert "exit 1 deferred to elt-monitor finish" in result.stderr
    assert sha256(nights.published) == first["hash"]
    assert nights.publication_bytes() == before
    attempt = nights.attempt()
    assert attempt["published"] is False and attempt["run_id"] == "run-4"
    # the monitor's reading of the same files
    seen = marts.state(nights.workdir / "wap", started)
    assert seen["attempted_this_run"] and not seen["published_this_run"]
    (finding,) = marts.findings("ecommerce-elt", seen)
    assert (finding.code, finding.severity) == ("MARTS_NOT_PUBLISHED", "critical")
    assert "users still see run run-1" in finding.message
    assert attempt["reason"] in finding.message


def test_a_reader_of_the_old_file_keeps_its_view_across_the_swap(
    nights: Nights, broken: dict
) -> None:
    reader = duckdb.connect(str(nights.published), read_only=True)
    try:
        before = reader.execute("select count(*), sum(total_amount) from fct_orders").fetchall()
        lake = nights.project.lake
        night = "20250604T000000Z-new"
        lake.write(
            "orders", [order(NEW_ORDER, 1, "2025-05-01 10:00", [(1, 1, "10.00")])], run_id=night
        )
        lake.write("order_items", [item(NEW_ORDER * 10, NEW_ORDER, 1, 1, "10.00")], run_id=night)
        lake.write("charges", [charge(NEW_ORDER, 1000, "2025-05-01 10:00")], run_id=night)
        result = nights.run("run-4")
        assert result.returncode == 0, output(result)
        # The open connection still reads the file it opened, whole.
        assert (
            reader.execute("select count(*), sum(total_amount) from fct_orders").fetchall()
            == before
        )
        assert reader.execute("select run_id from marts_publication").fetchall() == [("run-1",)]
    finally:
        reader.close()
    # A new connection sees the new publication, with the new order.
    assert nights.query("select run_id from marts_publication") == [("run-4",)]
    [(orders,)] = nights.query("select count(*) from fct_orders")
    assert orders == before[0][0] + 1


def test_a_writer_holding_the_file_stops_the_swap_not_the_file(nights: Nights) -> None:
    publication = nights.publication_bytes()
    writer = duckdb.connect(str(nights.published))
    try:
        result = nights.run("run-5")
        assert writer.execute("select run_id from marts_publication").fetchall() == [("run-4",)]
    finally:
        writer.close()
    assert result.returncode == 3, output(result)
    attempt = nights.attempt()
    assert attempt["published"] is False
    assert "open for writing" in attempt["reason"]
    assert nights.publication_bytes() == publication
    assert nights.query("select run_id from marts_publication") == [("run-4",)]


def test_report_the_time_write_audit_publish_adds(nights: Nights) -> None:
    """Not an assertion on speed: the figures for the README (pytest -s shows them)."""
    print("\nseconds: " + ", ".join(f"{name} {s:.1f}" for name, s in nights.seconds.items()))
    assert "plain dbt build" in nights.seconds
