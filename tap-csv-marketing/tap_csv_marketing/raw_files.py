"""The export files as read, kept for audit (`raw_payloads`): one hook on the location.

`KeepingLocation` is the tap's `ExportLocation` with `read` also handing the bytes to the
raw-payload store (`raw_payloads.py`, the same module as in the API taps). Both streams
of a layout (records and quarantine) read each file; a file is kept once per run
(same shown path and sha256). Extraction method: `export_download` for an http(s)
source, `file_copy` for a local directory or S3. The path kept is the shown one
(credentials redacted, `locations.redact_url`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from tap_csv_marketing.files import ExportLocation, SourceFile
from tap_csv_marketing.raw_payloads import RawPayloads
from tap_csv_marketing.settings import ExportSettings

EXTENSION = re.compile(r"^[A-Za-z0-9]{1,10}$")


class KeepingLocation(ExportLocation):
    """An `ExportLocation` whose reads are kept as raw payloads."""

    def __init__(self, settings: ExportSettings, raw: RawPayloads) -> None:
        super().__init__(settings)
        self.raw = raw
        self._kept: set[tuple[str, str]] = set()

    def read(self, source_file: SourceFile) -> bytes:
        requested = dt.datetime.now(dt.UTC)
        data = super().read(source_file)
        key = (source_file.path, hashlib.sha256(data).hexdigest())
        if key not in self._kept:
            self._kept.add(key)
            http = self.settings.is_http
            extension = source_file.name.rsplit(".", 1)[-1] if "." in source_file.name else ""
            self.raw.keep(
                stream=source_file.name,
                url=source_file.path,
                method="GET" if http else None,
                status=200 if http else None,  # any other status fails the read
                body=data,
                request_time=requested,
                extraction_method="export_download" if http else "file_copy",
                accepted=True,
                extension=extension if EXTENSION.match(extension) else "bin",
            )
        return data
