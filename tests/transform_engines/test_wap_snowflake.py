"""Write, audit, publish on the `snowflake` target against fakesnow's server.

fakesnow parses neither `ALTER SCHEMA ... SWAP WITH` nor `ALTER SCHEMA ... RENAME`, so
what is tested: the build goes to `ANALYTICS__WAP` and its tests run there; a failing
error-severity test leaves `ANALYTICS` as it was; a passing build is published with the
fakesnow-only emulation (tables moved one by one, WAP_SNOWFLAKE_EMULATE_SWAP=1); without
it the publisher issues the real `swap with`, which fakesnow rejects, and a failed swap
leaves `ANALYTICS` as it was (exit 3). What is not: the atomicity of SWAP WITH itself,
which only a real account shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.transform.bronze import baseline
from tests.transform.conftest import output
from tests.transform.test_null_keys import ORDERLESS_CHARGE, orderless_charge
from tests.transform.wap import run_wap, state
from tests.transform_engines.snowflake_raw import load
from tests.transform_engines.test_snowflake import (  # noqa: F401 - a fixture
    SCHEMA,
    connect,
    dbt_settings,
    fakesnow_port,
)

pytestmark = pytest.mark.slow

RAW, DATABASE = "WAP_RAW", "WAP_ANALYTICS"
FAILING_TEST = "not_null_fct_payments_order_key"


class Nights:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir

    def load(self, streams: dict) -> None:
        with connect(self.port) as conn:
            load(conn.cursor(), RAW, streams)

    def run(self, run_id: str, *dbt_args: str, emulate: bool = True):
        settings = dbt_settings(self.port, RAW, DATABASE, self.workdir)
        if emulate:
            settings["WAP_SNOWFLAKE_EMULATE_SWAP"] = "1"
        return run_wap("snowflake", self.workdir, settings, run_id, *dbt_args, timeout=900)

    def query(self, sql: str) -> list[tuple]:
        with connect(self.port) as conn:
            return conn.cursor().execute(sql).fetchall()

    def marts(self) -> dict[str, list[tuple]]:
        """Every row of the published marts users read."""
        return {
            mart: sorted(self.query(f"select * from {DATABASE}.{SCHEMA}.{mart}"), key=repr)
            for mart in ("fct_orders", "fct_payments", "dim_customers", "marts_publication")
        }


@pytest.fixture(scope="module")
def nights(fakesnow_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:  # noqa: F811
    with connect(fakesnow_port) as conn:
        conn.cursor().execute(f"create database if not exists {DATABASE}")
    nights = Nights(fakesnow_port, tmp_path_factory.mktemp("wap-snowflake"))
    good = baseline()
    nights.load(good)
    first = nights.run("run-1")
    assert first.returncode == 0, output(first)
    marts_after_first = nights.marts()
    bad = baseline()
    bad["charges"].append(orderless_charge())
    nights.load(bad)
    failing = nights.run("run-2")
    failing_attempt = state(nights.workdir, "attempt.json")
    marts_after_failing = nights.marts()
    nights.load(good)
    # What this night tests is the publish step after a passing build: one mart, its
    # parents and the tests of those pass as surely as the whole project (a full build
    # on fakesnow takes ~18 s)
    real_swap = nights.run(
        "run-3", "--select", "+fct_orders", "--indirect-selection", "cautious", emulate=False
    )
    yield {
        "nights": nights,
        "first": first,
        "marts_after_first": marts_after_first,
        "failing": failing,
        "failing_attempt": failing_attempt,
        "marts_after_failing": marts_after_failing,
        "real_swap": real_swap,
    }


def test_a_passing_build_is_published_into_the_schema_users_read(nights: dict) -> None:
    assert nights["first"].returncode == 0, output(nights["first"])
    marts = nights["marts_after_first"]
    assert marts["marts_publication"][0][0] == "run-1"
    assert len(marts["fct_orders"]) == len(baseline()["orders"])
    publication = state(nights["nights"].workdir, "publication.json")
    assert publication["location"] == f"{DATABASE}.{SCHEMA}"
    assert publication["run_id"] == "run-1" and publication["counts"]["tests"] > 50


def test_a_failing_test_leaves_the_published_schema_as_it_was(nights: dict) -> None:
    assert nights["failing"].returncode == 1, output(nights["failing"])
    assert nights["marts_after_failing"] == nights["marts_after_first"]
    payments = [
        row for row in nights["marts_after_failing"]["fct_payments"] if ORDERLESS_CHARGE in row
    ]
    assert payments == []
    attempt = nights["failing_attempt"]
    assert attempt["published"] is False and attempt["marts_as_of"]["run_id"] == "run-1"
    [failed] = [r for r in attempt["results"] if r["unique_id"].split(".")[2] == FAILING_TEST]
    assert (failed["status"], failed["failures"]) == ("fail", 1)


def test_the_real_swap_is_issued_and_its_failure_leaves_the_schema(nights: dict) -> None:
    """fakesnow rejects SWAP WITH: the statement reached it, and nothing changed."""
    result = nights["real_swap"]
    assert result.returncode == 3, output(result)
    assert (
        f"{DATABASE}.{SCHEMA}__WAP swap with {DATABASE}.{SCHEMA}".lower() in result.stdout.lower()
    )
    assert nights["nights"].marts() == nights["marts_after_first"]
    attempt = state(nights["nights"].workdir, "attempt.json")
    assert attempt["published"] is False and "publication failed" in attempt["reason"]
