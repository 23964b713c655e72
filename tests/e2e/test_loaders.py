"""The second loader (target-jsonl) keeps each extractor's streams apart."""

from __future__ import annotations

import json
import subprocess

import pytest
from elt_sandbox.crm_api.data import build as crm_build
from elt_sandbox.stripe_api.data import StripeData

from tests.conftest import TEST_SCALE
from tests.e2e.conftest import project_copy
from tests.e2e.install import MELTANO, isolated_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def meltano(project, env, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [MELTANO, *args], cwd=project, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"meltano {' '.join(args)}:\n{result.stderr[-4000:]}"
    return result


def ids_in(path) -> list:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def test_target_jsonl_writes_one_folder_per_extractor(tmp_path, stripe_env, crm_env) -> None:
    """Stripe's and the CRM's `customers` used to land in one mixed customers.jsonl."""
    taps = ["tap-stripe-custom", "tap-legacy-crm"]
    # A copy of this project's meltano.yml in tmp_path, so that the configured default
    # ($MELTANO_PROJECT_ROOT/output/jsonl/$MELTANO_EXTRACTOR_NAMESPACE) lands there.
    project = project_copy(tmp_path / "project", taps)
    env = {**isolated_env(project), **stripe_env, **crm_env, "MELTANO_ENVIRONMENT": "dev"}
    meltano(project, env, "install", *taps, "target-jsonl")
    for tap in taps:
        meltano(project, env, "run", tap, "target-jsonl")

    root = project / "output" / "jsonl"
    assert sorted(p.name for p in root.iterdir()) == ["tap_legacy_crm", "tap_stripe_custom"]
    stripe_ids = ids_in(root / "tap_stripe_custom" / "customers.jsonl")
    crm_ids = ids_in(root / "tap_legacy_crm" / "customers.jsonl")
    expected_stripe = {
        customer_id for _, customer_id in StripeData(TEST_SCALE).lists["customers"].entries
    }
    assert set(stripe_ids) == expected_stripe
    assert {int(str(i)) for i in crm_ids} == set(crm_build(TEST_SCALE).distinct_ids)
    assert all(str(i).startswith("cus_") for i in stripe_ids)
