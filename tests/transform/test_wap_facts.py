"""The publication facts' contract without a build: which run id is recorded, where the
state goes, and how dbt's run_results.json becomes `results` and `counts`."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "transform" / "scripts"))
from wap import facts  # the script's package, beside wap_publish.py


def node(unique_id: str, status: str, failures: int | None = None) -> dict:
    return {"unique_id": unique_id, "status": status, "failures": failures, "message": None}


def test_the_job_wrapper_run_id_wins_then_meltano_then_a_new_uuid() -> None:
    assert facts.run_id({"ELT_RUN_ID": "elt-1", "MELTANO_RUN_ID": "m-1"}) == "elt-1"
    assert facts.run_id({"MELTANO_RUN_ID": "m-1"}) == "m-1"
    assert uuid.UUID(facts.run_id({})).version == 4


def test_state_dir_defaults_under_the_project_output(tmp_path: Path) -> None:
    assert facts.state_dir({"WAP_STATE_DIR": str(tmp_path)}, "spark") == tmp_path
    root = {"MELTANO_PROJECT_ROOT": str(tmp_path)}
    assert facts.state_dir(root, "spark") == tmp_path / "output" / "wap" / "spark"
    with pytest.raises(SystemExit, match="WAP_STATE_DIR"):
        facts.state_dir({}, "duckdb")


def test_run_results_become_results_and_counts() -> None:
    run_results = {
        "metadata": {"invocation_id": "inv-1"},
        "results": [
            node("seed.ecommerce.us_states", "success"),
            node("model.ecommerce.fct_orders", "success"),
            node("model.ecommerce.fct_payments", "error"),
            node("model.ecommerce.rpt_revenue_by_channel", "skipped"),
            node("test.ecommerce.unique_fct_orders_order_key.1", "pass", 0),
            node("test.ecommerce.not_null_fct_orders_customer_key.2", "fail", 3),
            node("test.ecommerce.accepted_values_x.3", "warn", 2),
        ],
    }
    outcome = facts.dbt_outcome(1, run_results)
    assert outcome.counts == {
        "models": 3,
        "tests": 3,
        "passed": 3,
        "warned": 1,
        "failed": 1,
        "errored": 1,
        "skipped": 1,
    }
    assert [(r["resource_type"], r["status"]) for r in outcome.results] == [
        ("model", "error"),
        ("model", "skipped"),
        ("test", "fail"),
        ("test", "warn"),
    ]
    assert not outcome.audit_passed and outcome.errored


def test_a_warning_does_not_block_but_an_empty_build_does() -> None:
    warned = {
        "metadata": {"invocation_id": "inv-2"},
        "results": [
            node("model.ecommerce.fct_orders", "success"),
            node("test.ecommerce.accepted_values_x.3", "warn", 2),
        ],
    }
    assert facts.dbt_outcome(0, warned).audit_passed
    empty = {"metadata": {"invocation_id": "inv-3"}, "results": []}
    assert not facts.dbt_outcome(0, empty).audit_passed
    assert not facts.dbt_outcome(2, None).audit_passed


def test_a_failed_attempt_keeps_the_publication_and_names_it(tmp_path: Path) -> None:
    def attempt(run: str, published: bool) -> facts.Attempt:
        return facts.Attempt(
            engine="duckdb", location="w.duckdb", started_at="s", finished_at=f"f-{run}",
            run_id=run, published=published, dbt_exit_code=0 if published else 1,
            dbt_invocation_id="i", results=[], counts={}, reason="", staging_location=None,
        )  # fmt: skip

    assert facts.record(tmp_path, attempt("r1", False))["marts_as_of"] is None
    facts.record(tmp_path, attempt("r2", True))
    kept = (tmp_path / facts.PUBLICATION).read_bytes()
    recorded = facts.record(tmp_path, attempt("r3", False))
    assert recorded["marts_as_of"] == {"run_id": "r2", "finished_at": "f-r2"}
    assert (tmp_path / facts.PUBLICATION).read_bytes() == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == [facts.ATTEMPT, facts.PUBLICATION]
