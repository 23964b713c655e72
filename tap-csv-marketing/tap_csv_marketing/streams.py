"""One stream per export layout, plus its quarantine stream.

Both streams read the same files with the same parser: the export stream emits the rows
that type cleanly, the quarantine stream the rows that do not, with file, line, raw text
and reason. For every file, good + quarantined = data lines (blank lines and repeated
header lines excluded), and the run log says so per file. Each stream keeps a per-file
bookmark (version + content checksum): unchanged files are skipped, a re-exported file is
read again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from singer_sdk import Stream

from tap_csv_marketing.exports import LAYOUTS, ExportLayout, cell_parser, type_row
from tap_csv_marketing.fields import BadCell
from tap_csv_marketing.files import ExportLocation, SourceFile, checksum
from tap_csv_marketing.formats import CSV, format_of
from tap_csv_marketing.headers import CHANGED, REORDERED, Header, compare, is_header_line
from tap_csv_marketing.json_reader import JsonDocument, JsonFileReader
from tap_csv_marketing.locations import redact_url
from tap_csv_marketing.outcomes import FileFailed, RowOutcome
from tap_csv_marketing.parsing import UnreadableFile, decode, rows
from tap_csv_marketing.settings import ExportSettings

QUARANTINE_SCHEMA = {
    "type": "object",
    "properties": {
        "source_file": {"type": ["string"]},
        "line": {"type": ["integer"]},
        "raw_line": {"type": ["string", "null"]},
        "reason": {"type": ["string"]},
        "detail": {"type": ["string", "null"]},
        "_sdc_source_file": {"type": ["string"]},
        "_sdc_source_lineno": {"type": ["integer"]},
    },
}


class ExportFileReader:
    """Reads one layout's files and sorts every data row into good or quarantined."""

    def __init__(
        self, layout: ExportLayout, settings: ExportSettings, location: ExportLocation
    ) -> None:
        self.layout = layout
        self.settings = settings
        self.location = location

    def pattern(self) -> str:
        return self.settings.pattern(self.layout.stream, self.layout.default_pattern)

    def files(self) -> list[SourceFile]:
        return self.location.list(self.pattern())

    def rows(self, source: SourceFile, data: bytes) -> Iterator[RowOutcome]:
        """What became of each row after the header; raises FileFailed for the file."""
        try:
            text, _ = decode(data, self.settings.encoding)
            parsed = rows(text, self.settings.delimiter)
            first = next(parsed, None)
        except UnreadableFile as error:
            raise FileFailed(f"{source.path}: {error}") from None
        if first is None:
            return  # empty file: no data lines
        header = Header.of(first.line, first.cells)
        if duplicates := header.duplicates():
            raise FileFailed(f"{source.path}: duplicate column names {duplicates}")
        missing = [c.name for c in self.layout.columns if c.name not in header.positions]
        if missing:
            raise FileFailed(
                f"{source.path}: missing required column(s) {missing}; found {list(header.names)}"
            )
        settings = self.settings
        parsers = {
            c.name: cell_parser(
                c.kind, settings.day_first, settings.decimal_comma, settings.currency
            )
            for c in self.layout.columns
        }
        required = [c.name for c in self.layout.columns]
        changed_at: int | None = None  # a header with other columns: the rest is unmatchable
        for row in parsed:
            if row.error:
                yield RowOutcome(row.line, row.raw, problem=BadCell("malformed_csv", row.error))
            elif changed_at is not None:
                detail = f"after the changed header at line {changed_at}: no columns to read by"
                yield RowOutcome(row.line, row.raw, problem=BadCell("changed_header", detail))
            elif is_header_line(row.cells, required):
                repeated = Header.of(row.line, row.cells)
                relation = compare(header, repeated)
                if relation == CHANGED:
                    changed_at = row.line
                    detail = (
                        f"line {row.line} repeats the header with other columns "
                        f"{list(repeated.names)} than the file's header at line {header.line} "
                        f"{list(header.names)}: the rest of the file is quarantined"
                    )
                    yield RowOutcome(row.line, row.raw, problem=BadCell("changed_header", detail))
                    continue
                note = None
                if relation == REORDERED:
                    note = (
                        f"line {row.line} repeats the header with the columns at other "
                        f"positions {list(repeated.names)}; the rest of the file is read by name"
                    )
                    header = repeated
                yield RowOutcome(row.line, row.raw, repeated_header=True, note=note)
            else:
                try:
                    record = type_row(self.layout, header, row.cells, parsers)
                except BadCell as problem:
                    yield RowOutcome(row.line, row.raw, problem=problem)
                else:
                    yield RowOutcome(row.line, row.raw, record=record)


class CsvExportStream(Stream):
    """Typed rows of one export layout; `quarantine=True` gives its quarantine stream."""

    def __init__(self, tap, layout: ExportLayout, *, quarantine: bool = False) -> None:
        self.layout = layout
        self.quarantine = quarantine
        name = f"{layout.stream}__quarantine" if quarantine else layout.stream
        schema = QUARANTINE_SCHEMA if quarantine else layout.schema()
        super().__init__(tap, schema=schema, name=name)
        self.exports_tap = tap  # its settings and shared file listing
        self.primary_keys = ["source_file", "line"] if quarantine else list(layout.keys)

    def _file_bookmarks(self) -> dict[str, dict]:
        """Per-file bookmarks keyed by the shown (redacted) address."""
        return self.stream_state.setdefault("files", {})

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        reader = ExportFileReader(
            self.layout, self.exports_tap.export_settings, self.exports_tap.location
        )
        bookmarks = self._file_bookmarks()
        settings = self.exports_tap.export_settings
        for source in reader.files():
            seen = bookmarks.get(source.path)
            if seen and seen.get("version") == source.version and seen.get("size") == source.size:
                self.logger.info("%s: unchanged since the last run, skipped", source.path)
                continue
            file_format = format_of(source.name, settings.file_formats.get(self.layout.stream))
            file_reader: ExportFileReader | JsonFileReader = reader
            content: bytes | JsonDocument
            if file_format != CSV:
                file_reader = JsonFileReader(self.layout, settings)
                content = file_reader.document(reader.location, source, file_format)
                digest = content.check()  # pass 1, before any record: see json_reader
            else:
                content = reader.location.read(source)
                digest = checksum(content)
            if seen and seen.get("sha256") == digest:
                bookmarks[source.path] = {**seen, "version": source.version}
                self.logger.info("%s: same content as the last run, skipped", source.path)
                continue
            yield from self._file_records(file_reader, source, content)
            bookmarks[source.path] = {
                "version": source.version,
                "size": source.size,
                "sha256": digest,
            }

    def _file_records(
        self,
        reader: ExportFileReader | JsonFileReader,
        source: SourceFile,
        data: bytes | JsonDocument,
    ):
        good = bad = headers = 0
        try:
            for row in reader.rows(source, data):
                if row.repeated_header:
                    headers += 1
                    if row.note and not self.quarantine:
                        self.logger.warning("%s: %s", source.path, row.note)
                elif row.record is not None:
                    good += 1
                    if not self.quarantine:
                        yield {
                            **row.record,
                            "_sdc_source_file": source.path,
                            "_sdc_source_lineno": row.line,
                        }
                else:
                    assert row.problem is not None  # a row is loaded, quarantined or a header
                    bad += 1
                    if self.quarantine:
                        yield self._quarantined(
                            source, row.line, row.raw, row.problem.reason, str(row.problem)
                        )
        except FileFailed as error:
            if not reader.settings.quarantine_unreadable_files:
                raise
            bad += 1
            self.logger.error("%s (quarantined whole, other files continue)", error)
            if self.quarantine:
                yield self._quarantined(source, 0, None, "unreadable_file", str(error))
        if not self.quarantine:
            self.logger.info(
                "%s: %d good rows, %d quarantined (%d data lines), %d repeated header lines",
                source.path,
                good,
                bad,
                good + bad,
                headers,
            )

    @staticmethod
    def _quarantined(
        source: SourceFile, line: int, raw: str | None, reason: str, detail: str
    ) -> dict:
        return {
            "source_file": source.path,
            "line": line,
            "raw_line": raw,
            "reason": reason,
            "detail": detail,
            "_sdc_source_file": source.path,
            "_sdc_source_lineno": line,
        }


def redact_bookmarks(state: dict) -> dict:
    """The state with every per-file bookmark keyed by its redacted address: a state
    written before redaction existed must not carry a token into the next STATE."""
    for stream_state in (state.get("bookmarks") or {}).values():
        files = stream_state.get("files") if isinstance(stream_state, dict) else None
        for key in [k for k in files or {} if redact_url(k) != k]:
            files.setdefault(redact_url(key), files[key])
            del files[key]
    return state


def all_streams(tap) -> list[CsvExportStream]:
    streams = []
    for layout in LAYOUTS.values():
        streams.append(CsvExportStream(tap, layout))
        streams.append(CsvExportStream(tap, layout, quarantine=True))
    return streams
