"""The SDK's standard tap tests against the session's CRM simulator.

The SDK builds the test class (and a tap, to list streams) at import time, before any
fixture runs, so the config starts with a placeholder URL that no request ever sees; a
class-scoped autouse fixture points it at the simulator started by `crm_env` before the
SDK's `runner` fixture syncs. "No records were available to test" is an error here: a
standard test that saw no records proved nothing.
"""

from __future__ import annotations

import pytest
from singer_sdk.testing import get_tap_test_class
from tap_legacy_crm.tap import TapLegacyCRM

from tests.tap_legacy_crm.conftest import crm_config

CONFIG = crm_config("http://127.0.0.1:9")  # replaced before the sync; see the docstring

StandardTapTests = get_tap_test_class(tap_class=TapLegacyCRM, config=CONFIG)

pytestmark = pytest.mark.filterwarnings("error:No records were available to test")


class TestTapLegacyCrmStandard(StandardTapTests):  # type: ignore[misc,valid-type]
    """Discovery, sync, schema and attribute checks from singer-sdk."""

    @pytest.fixture(scope="class", autouse=True)
    def _crm_api(self, crm_env: dict[str, str]) -> None:
        CONFIG["api_url"] = crm_env["SANDBOX_CRM_API_URL"]
