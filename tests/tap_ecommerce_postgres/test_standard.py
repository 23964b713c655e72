"""The SDK's standard tap tests, against the scratch copy of the shop database.

`get_tap_test_class` discovers streams while the module is imported, which would need a
running Postgres before any fixture exists. Instead each SDK test template is one pytest
test here (parametrized by the SDK's own suites, known without a database), run over every
stream and property of the fixture's database, exactly as the SDK's factory would run it
(same runner: the SDK's dry run with its record limit of 150). "No records were available
to test" and "Fields in transformed catalog but not in records" are errors: a standard
test must not pass on an empty stream or a missing column.
"""

from __future__ import annotations

import pytest
from singer_sdk.testing import SuiteConfig
from singer_sdk.testing.runners import TapTestRunner
from singer_sdk.testing.suites import tap_stream_attribute_tests, tap_stream_tests, tap_tests
from tap_ecommerce_postgres.tap import TapEcommercePostgres

SUITES = [tap_tests, tap_stream_tests, tap_stream_attribute_tests]
TEMPLATES = [(suite.kind, template) for suite in SUITES for template in suite.tests]
SHOP_STREAMS = {"public-customers", "public-products", "public-orders", "public-order_items"}


@pytest.fixture(scope="module")
def runner(pg_env: dict[str, str], scratch_db: str) -> TapTestRunner:
    """One SDK test runner (and one sync) for every standard test of this module."""
    config = {
        "host": pg_env["PGHOST"],
        "port": int(pg_env["PGPORT"]),
        "user": pg_env["PGUSER"],
        "password": pg_env["PGPASSWORD"],
        "database": scratch_db,
        "schemas": ["public"],
        "stream_options": {
            "public-orders": {"replication_method": "INCREMENTAL", "replication_key": "updated_at"}
        },
    }
    test_runner = TapTestRunner(
        tap_class=TapEcommercePostgres, config=config, suite_config=SuiteConfig()
    )
    test_runner.sync_all()
    return test_runner


@pytest.mark.filterwarnings("error:No records were available to test")
@pytest.mark.filterwarnings("error:Fields in transformed catalog but not in records")
@pytest.mark.parametrize(
    ("kind", "template"), TEMPLATES, ids=[f"{kind}_{t.name}" for kind, t in TEMPLATES]
)
def test_sdk_standard(runner: TapTestRunner, kind: str, template) -> None:
    config = SuiteConfig()
    if kind == "tap":
        template().run(config, None, runner)
        return
    streams = list(runner.new_tap().streams.values())
    assert {s.name for s in streams} >= SHOP_STREAMS
    checked = 0
    for stream in streams:
        if kind == "tap_stream":
            assert runner.records[stream.name], f"no records for {stream.name}"
            # the SDK's dry-run record limit holds on the fast path too
            assert len(runner.records[stream.name]) <= config.max_records_limit, stream.name
            template().run(config, None, runner, stream)
            checked += 1
            continue
        properties = stream.stream_maps[-1].transformed_schema["properties"]
        for name, schema in properties.items():
            if template.evaluate(stream=stream, property_name=name, property_schema=schema):
                template().run(config, None, runner, stream, name)
                checked += 1
    if not checked:
        pytest.skip(f"no property of the shop is of the kind {template.name} checks")
