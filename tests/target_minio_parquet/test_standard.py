"""The SDK's standard target tests, writing to a real local lake directory."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from singer_sdk.testing import get_target_test_class
from target_minio_parquet.target import TargetMinioParquet

# The SDK builds the test class from a config at import: the lake's path is chosen here
# (nothing is created until the target writes) and removed after the module's tests.
LAKE = Path(tempfile.gettempdir()) / f"sdk-target-tests-{uuid.uuid4().hex}"

StandardTargetTests = get_target_test_class(
    target_class=TargetMinioParquet,
    config={"destination": str(LAKE), "source_name": "sdk"},
)


@pytest.fixture(scope="module", autouse=True)
def _remove_lake() -> Iterator[None]:
    yield
    shutil.rmtree(LAKE, ignore_errors=True)


class TestTargetMinioParquetStandard(StandardTargetTests):  # type: ignore[misc,valid-type]
    """All of the SDK's sample streams must load without error."""
