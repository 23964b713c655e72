"""The SDK's standard target tests, writing to a real local lake directory."""

from __future__ import annotations

import tempfile

from singer_sdk.testing import get_target_test_class
from target_minio_parquet.target import TargetMinioParquet

StandardTargetTests = get_target_test_class(
    target_class=TargetMinioParquet,
    config={"destination": tempfile.mkdtemp(prefix="sdk-target-tests-"), "source_name": "sdk"},
)


class TestTargetMinioParquetStandard(StandardTargetTests):  # type: ignore[misc,valid-type]
    """All of the SDK's sample streams must load without error."""
