"""A charge whose order the lake never saw (the shop deleted it before the lake's
snapshot: a new environment, a rebuilt lake) is kept in fct_payments and flagged
`is_order_unknown`; the build passes with a warning instead of failing (issue 22,
item 10)."""

from __future__ import annotations

import pytest

from tests.transform.bronze import baseline, charge
from tests.transform.conftest import DbtProject, output

pytestmark = pytest.mark.slow

UNSEEN_ORDER = 99  # deleted in the shop before the lake's first snapshot


def test_a_charge_of_an_order_the_lake_never_saw_is_kept_and_flagged(
    dbt_project: DbtProject,
) -> None:
    streams = baseline()
    streams["charges"].append(charge(UNSEEN_ORDER, 1200, "2025-05-05 12:00"))
    dbt_project.lake.write_all(streams)
    result = dbt_project.dbt("build")
    assert result.returncode == 0, output(result)
    warned = sorted(name for name, status in dbt_project.results().items() if status == "warn")
    assert len(warned) == 3 and any("is_order_unknown" in name for name in warned), warned
    flagged = dbt_project.query(
        "select order_id, is_order_deleted, customer_key from fct_payments where is_order_unknown"
    )
    assert flagged == [(UNSEEN_ORDER, False, None)]
    [(charges,)] = dbt_project.query("select count(*) from fct_payments")
    assert charges == len(streams["charges"])
