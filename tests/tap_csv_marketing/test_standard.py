"""The SDK's standard tap tests on a fresh copy of the sandbox exports.

The exports are written by a fixture into a pytest temp dir (nothing happens at import:
the SDK's runner keeps a reference to CONFIG, which the fixture fills before the class's
runner syncs). "No records were available to test" is an error here, so no attribute
test can pass on an empty stream: the sandbox exports (CSV files and the JSON feed)
hold good and bad rows for all eight.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elt_sandbox.marketing.generate import write_exports
from singer_sdk.testing import SuiteConfig, TapTestRunner, get_tap_test_class
from tap_csv_marketing.tap import TapCsvMarketing

CONFIG: dict = {"source": "filled-by-the-exports-fixture"}

pytestmark = pytest.mark.filterwarnings("error:No records were available to test")


@pytest.fixture(scope="module", autouse=True)
def exports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    directory = tmp_path_factory.mktemp("csv-standard")
    write_exports(directory)
    CONFIG["source"] = str(directory)
    yield
    CONFIG["source"] = "filled-by-the-exports-fixture"


StandardTapTests = get_tap_test_class(tap_class=TapCsvMarketing, config=CONFIG)


class TestTapCsvMarketingStandard(StandardTapTests):  # type: ignore[misc,valid-type]
    """Discovery, sync, schema and attribute checks from singer-sdk."""


def test_every_stream_has_records_within_the_standard_tests_limit() -> None:
    """The same sync the standard tests run (same config, same record limit)."""
    runner = TapTestRunner(TapCsvMarketing, config=CONFIG, suite_config=SuiteConfig())
    runner.sync_all()
    assert {stream: len(runner.records[stream]) > 0 for stream in runner.new_tap().streams} == {
        "marketing_spend": True,
        "marketing_spend__quarantine": True,
        "campaign_performance": True,
        "campaign_performance__quarantine": True,
        "ad_events": True,
        "ad_events__quarantine": True,
        "budget_plan": True,
        "budget_plan__quarantine": True,
    }
