"""The SDK's standard tap tests against a CRM simulator of their own."""

from __future__ import annotations

import atexit
import tempfile
from pathlib import Path

from elt_sandbox.runtime import SandboxHome, stop_pid
from elt_sandbox.services.crm_api import start_crm_server
from singer_sdk.testing import get_tap_test_class
from tap_legacy_crm.tap import TapLegacyCRM

from tests.tap_legacy_crm.conftest import crm_config

_PID, _PORT = start_crm_server(
    SandboxHome(Path(tempfile.mkdtemp(prefix="crm-standard-"))), "crm-standard", 0.002
)
atexit.register(stop_pid, _PID)

StandardTapTests = get_tap_test_class(
    tap_class=TapLegacyCRM, config=crm_config(f"http://127.0.0.1:{_PORT}")
)


class TestTapLegacyCrmStandard(StandardTapTests):  # type: ignore[misc,valid-type]
    """Discovery, sync, schema and attribute checks from singer-sdk."""
