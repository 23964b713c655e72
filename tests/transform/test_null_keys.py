"""A NULL foreign business key gives a NULL surrogate key, so the `not_null` tests on
foreign keys can fail. We chose failing over an "unknown member" row: a fact that points
at nothing is an unexplained difference, and the build must say so, naming the key."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from tests.transform.bronze import baseline, charge, item, order
from tests.transform.conftest import DbtProject, output

pytestmark = pytest.mark.slow

ORPHAN_ORDER = 6  # an order without a customer
ORDERLESS_CHARGE = "ch_manual"  # a Stripe charge without metadata.order_id


def orderless_charge() -> dict:
    return {**charge(0, 500, "2025-05-05 12:00"), "id": ORDERLESS_CHARGE, "metadata": {}}


@pytest.fixture(scope="module")
def build(dbt_project: DbtProject) -> subprocess.CompletedProcess:
    """`dbt build` over a lake whose only flaw is a charge that names no order."""
    streams = baseline()
    streams["charges"].append(orderless_charge())
    dbt_project.lake.write_all(streams)
    return dbt_project.dbt("build")


@pytest.fixture(scope="module")
def orphan_order(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """Models built (`dbt seed`, `dbt run`) over a lake with an order whose customer_id
    is NULL; the staging test on customer_id would stop `dbt build` before the marts, so
    the test runs the mart's tests on their own."""
    project = DbtProject(tmp_path_factory.mktemp("dbt-orphan"))
    streams = baseline()
    streams["orders"].append(order(ORPHAN_ORDER, None, "2025-05-05 12:00", [(1, 1, "10.00")]))
    streams["order_items"].append(item(ORPHAN_ORDER * 10, ORPHAN_ORDER, 1, 1, "10.00"))
    streams["charges"].append(charge(ORPHAN_ORDER, 1000, "2025-05-05 12:00"))
    project.lake.write_all(streams)
    for command in ("seed", "run"):
        result = project.dbt(command)
        assert result.returncode == 0, output(result)
    return project


def failed(project: DbtProject) -> list[str]:
    return sorted(name for name, status in project.results().items() if status in ("fail", "error"))


def test_charge_without_order_fails_the_build_on_its_order_key(
    build: subprocess.CompletedProcess, dbt_project: DbtProject
) -> None:
    assert build.returncode != 0, output(build)
    assert failed(dbt_project) == ["not_null_fct_payments_order_key"]
    rows = dict(dbt_project.query("select charge_id, order_key from fct_payments"))
    assert rows.pop(ORDERLESS_CHARGE) is None
    # Keys of non-NULL values keep their hash: md5 of the value's text.
    orders = dict(dbt_project.query("select charge_id, order_id from fct_payments"))
    assert rows == {
        charge_id: hashlib.md5(str(orders[charge_id]).encode()).hexdigest() for charge_id in rows
    }


def test_order_without_customer_fails_the_mart_not_null_test(orphan_order: DbtProject) -> None:
    tested = orphan_order.dbt("test", "--select", "fct_orders")
    assert tested.returncode != 0, output(tested)
    assert failed(orphan_order) == ["not_null_fct_orders_customer_key"]
    [(customer_key,)] = orphan_order.query(
        "select customer_key from fct_orders where order_id = ?", [ORPHAN_ORDER]
    )
    assert customer_key is None
