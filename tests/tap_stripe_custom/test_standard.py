"""The SDK's standard tap tests against a Stripe stand-in of their own."""

from __future__ import annotations

import atexit
import tempfile
from pathlib import Path

from elt_sandbox.runtime import SandboxHome, stop_pid
from elt_sandbox.services.stripe_api import start_stripe_server
from singer_sdk.testing import get_tap_test_class
from tap_stripe_custom.tap import TapStripeCustom

from tests.tap_stripe_custom.conftest import tap_config

_PID, _PORT = start_stripe_server(
    SandboxHome(Path(tempfile.mkdtemp(prefix="stripe-standard-"))), "stripe-standard", 0.002
)
atexit.register(stop_pid, _PID)

StandardTapTests = get_tap_test_class(
    tap_class=TapStripeCustom, config=tap_config(f"http://127.0.0.1:{_PORT}")
)


class TestTapStripeCustomStandard(StandardTapTests):  # type: ignore[misc,valid-type]
    """Discovery, sync, schema and attribute checks from singer-sdk."""
