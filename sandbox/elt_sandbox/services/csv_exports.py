"""The marketing CSV exports and JSON feed: files in `<home>/exports/marketing`, mirrored to S3."""

from __future__ import annotations

from collections.abc import Mapping

from elt_sandbox.journal import MARKETING, journal_path, read
from elt_sandbox.marketing.generate import write_exports
from elt_sandbox.runtime import SandboxHome
from elt_sandbox.services.base import Service
from elt_sandbox.services.s3 import s3_client

S3_PREFIX = "exports/marketing/"


class CsvExportsService(Service):
    name = "csv"

    def up(self, home: SandboxHome, scale: float, env: Mapping[str, str]) -> dict[str, str]:
        directory = home.path("exports", "marketing", "_").parent
        # deterministic: the seeded files plus the simulated nights' rows, if any
        write_exports(directory, read(journal_path(home.root, MARKETING))[0])
        settings = {"SANDBOX_CSV_DIR": str(directory)}
        if "AWS_ENDPOINT_URL" in env:
            client = s3_client(env)
            bucket = env["LAKE_BUCKET"]
            # the CSV exports, the JSON feed (json_feed.py) and the manifest
            names = {
                *directory.glob("*.csv"),
                *directory.glob("*.json"),
                *directory.glob("*.ndjson*"),
            }
            for path in sorted(names):
                client.put_object(Bucket=bucket, Key=S3_PREFIX + path.name, Body=path.read_bytes())
            settings["SANDBOX_CSV_S3_URL"] = f"s3://{bucket}/{S3_PREFIX}"
        home.save_service(self.name, {"pid": None, "scale": scale, "where": str(directory)})
        return settings
