"""The source count travels in the monitor's METRIC form under the monitor's name."""

from __future__ import annotations

import json

from elt_monitor.log_formats import METRIC, SOURCE_ROW_COUNT
from tap_ecommerce_postgres import source_count


def test_the_source_count_line_is_read_by_the_monitors_pattern() -> None:
    line = "2026-12-06 [info     ] METRIC: " + source_count.metric_line("public-products", 42)
    found = METRIC.search(line)
    assert found is not None
    point = json.loads(found["body"])
    assert point == {
        "type": "gauge",
        "metric": SOURCE_ROW_COUNT,
        "value": 42,
        "tags": {"stream": "public-products"},
    }
    assert source_count.SOURCE_ROW_COUNT == SOURCE_ROW_COUNT
