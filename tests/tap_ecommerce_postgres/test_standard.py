"""The SDK's standard tap tests, against a sandbox Postgres of their own.

The SDK builds its test class at import time (it discovers streams to parametrize the
tests), before pytest fixtures exist, so this module starts its own small sandbox
Postgres and stops it when the interpreter exits.
"""

from __future__ import annotations

import atexit
import tempfile
from pathlib import Path

from elt_sandbox import api
from elt_sandbox.runtime import SandboxHome
from singer_sdk.testing import get_tap_test_class
from tap_ecommerce_postgres.tap import TapEcommercePostgres

_HOME = SandboxHome(Path(tempfile.mkdtemp(prefix="tap-pg-standard-")))
_ENV = api.up(_HOME, scale=0.002, services=["postgres"])
atexit.register(api.down, _HOME)

StandardTapTests = get_tap_test_class(
    tap_class=TapEcommercePostgres,
    config={
        "host": _ENV["PGHOST"],
        "port": int(_ENV["PGPORT"]),
        "user": _ENV["PGUSER"],
        "password": _ENV["PGPASSWORD"],
        "database": _ENV["PGDATABASE"],
        "schemas": ["public"],
        "stream_options": {
            "public-orders": {"replication_method": "INCREMENTAL", "replication_key": "updated_at"}
        },
    },
)


class TestTapEcommercePostgresStandard(StandardTapTests):  # type: ignore[misc,valid-type]
    """Discovery, sync, schema and attribute checks from singer-sdk."""
