"""The SDK's standard tap tests against the session's sandbox Stripe API.

The test class is built at import time from a config whose address is a placeholder
(building it instantiates the tap, which sends no request); the class's `runner` fixture
is replaced by one that points the runner at the sandbox started by `stripe_env`, so
collecting tests starts nothing. An attribute test that finds no record to test fails
instead of passing with a warning.
"""

from __future__ import annotations

import pytest
from singer_sdk.testing import get_tap_test_class
from singer_sdk.testing.runners import TapTestRunner
from tap_stripe_custom.tap import TapStripeCustom

from tests.tap_stripe_custom.conftest import tap_config

StandardTapTests = get_tap_test_class(
    tap_class=TapStripeCustom, config=tap_config("http://127.0.0.1:9")
)


@pytest.mark.filterwarnings("error:No records were available to test")
@pytest.mark.filterwarnings("error:Fields in transformed catalog but not in records")
class TestTapStripeCustomStandard(StandardTapTests):  # type: ignore[misc,valid-type]
    """Discovery, sync, schema and attribute checks from singer-sdk."""

    @pytest.fixture(scope="class")
    def runner(self, stripe_env: dict[str, str]) -> TapTestRunner:
        runner = TapTestRunner(
            tap_class=TapStripeCustom,
            config=tap_config(stripe_env["SANDBOX_STRIPE_API_BASE"]),
            parse_env_config=False,
        )
        runner.sync_all()
        return runner
