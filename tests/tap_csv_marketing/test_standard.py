"""The SDK's standard tap tests on a fresh copy of the sandbox exports."""

from __future__ import annotations

import tempfile
from pathlib import Path

from elt_sandbox.marketing.generate import write_exports
from singer_sdk.testing import get_tap_test_class
from tap_csv_marketing.tap import TapCsvMarketing

_EXPORTS = Path(tempfile.mkdtemp(prefix="csv-standard-"))
write_exports(_EXPORTS)

StandardTapTests = get_tap_test_class(tap_class=TapCsvMarketing, config={"source": str(_EXPORTS)})


class TestTapCsvMarketingStandard(StandardTapTests):  # type: ignore[misc,valid-type]
    """Discovery, sync, schema and attribute checks from singer-sdk."""
