"""The export files as read, kept for audit (`raw_payloads`): one hook on the location.

`KeepingLocation` is the tap's `ExportLocation` with `read` also handing the bytes to the
raw-payload store (`raw_payloads.py`, the same module as in the API taps). Both streams
of a layout (records and quarantine) read each file; a file is kept once per run
(same shown path and sha256). Extraction method: `export_download` for an http(s)
source, `file_copy` for a local directory or S3. The path kept is the shown one
(credentials redacted, `locations.redact_url`).

The JSON readers stream files (`open`): both locations serve them from the whole bytes,
so a JSON file is kept and replayed like a CSV one.

`ReplayLocation` (`replay_run`) lists and reads a recorded run's files instead of the
source, so the same readers, typing and quarantine run on them with no access to the
source; a file's version in the bookmarks is then its sha256.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import io
import re
from typing import BinaryIO

from tap_csv_marketing.files import ExportLocation, SourceFile
from tap_csv_marketing.raw_payloads import RawPayloads, Replayer
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

    def open(self, source_file: SourceFile) -> BinaryIO:
        """The JSON readers stream a file; kept, it is read whole once (`read`), so a kept
        JSON file costs its size in memory (the CSV path reads files whole anyway)."""
        return io.BytesIO(self.read(source_file))


class ReplayLocation(ExportLocation):
    """The files of a recorded run (`replay_run`) in place of the source: listed from its
    manifest and read from its kept copies; the source is never listed or read."""

    def __init__(self, settings: ExportSettings, replay: Replayer) -> None:
        super().__init__(settings)
        self.replay = replay
        self._bodies: dict[str, bytes] = {}  # both streams of a layout read each file

    def _list(self, pattern: str) -> list[SourceFile]:
        files = {
            row["url"]: SourceFile(
                row["url"], row["stream"], row["size"], row["sha256"], row["url"]
            )
            for row in self.replay.rows
            if fnmatch.fnmatch(row["stream"], pattern)
        }
        return sorted(files.values(), key=lambda f: f.name)

    def read(self, source_file: SourceFile) -> bytes:
        if source_file.path not in self._bodies:
            answer = self.replay.take("GET", source_file.path)  # a file's row has no method
            self._bodies[source_file.path] = answer.body
        return self._bodies[source_file.path]

    def open(self, source_file: SourceFile) -> BinaryIO:
        """The kept copy, for the readers that stream (JSON files)."""
        return io.BytesIO(self.read(source_file))
