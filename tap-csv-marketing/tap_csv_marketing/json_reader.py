"""A JSON or NDJSON export file read the way the CSV path reads one: row outcomes.

`JsonDocument` opens the file twice through `JsonText` (streamed, constant memory): the
first pass checks the whole file and hashes it (`check`), the second yields its records
(`items`). A file that fails the first pass is a `FileFailed` before any of its records is
emitted, exactly as a CSV file that cannot be read: the run fails naming the file, or with
`quarantine_unreadable_files` the file is quarantined whole. `JsonFileReader.rows` then
types each record through the CSV cell grammar (`json_values`) and yields the same
`RowOutcome`s as the CSV reader, so the stream counts, logs and quarantines them alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tap_csv_marketing.exports import ExportLayout, cell_parser
from tap_csv_marketing.fields import BadCell
from tap_csv_marketing.files import ExportLocation, SourceFile
from tap_csv_marketing.formats import NDJSON, is_gzip
from tap_csv_marketing.json_files import (
    DocumentFacts,
    DocumentFailed,
    JsonItem,
    array_items,
    check_document,
    check_ndjson,
    ndjson_items,
    to_json,
)
from tap_csv_marketing.json_text import JsonText
from tap_csv_marketing.json_values import type_json_record
from tap_csv_marketing.outcomes import FileFailed, RowOutcome
from tap_csv_marketing.settings import ExportSettings


class JsonDocument:
    """One JSON or NDJSON file: checked whole (pass 1), then read record by record."""

    def __init__(
        self, location: ExportLocation, source: SourceFile, file_format: str, pointer: str
    ) -> None:
        self.location = location
        self.source = source
        self.format = file_format
        self.pointer = pointer
        self.digest = ""
        self.failure: FileFailed | None = None
        self._facts = DocumentFacts(has_nul_escape=False)

    @contextlib.contextmanager
    def _text(self) -> Iterator[JsonText]:
        with contextlib.closing(self.location.open(self.source)) as raw:
            yield JsonText(raw, is_gzip(self.source.name))

    def check(self) -> str:
        """Pass 1: the content's sha256; a file that cannot be read sets `failure`."""
        with self._text() as text:
            try:
                if self.format == NDJSON:
                    check_ndjson(text)
                else:
                    self._facts = check_document(text, self.pointer)
            except DocumentFailed as error:
                self.failure = FileFailed(f"{self.source.path}: {error}")
                text.drain()
            self.digest = text.hexdigest()
        return self.digest

    def items(self) -> Iterator[JsonItem]:
        """Pass 2: every record; fails the run if the file changed since pass 1."""
        with self._text() as text:
            if self.format == NDJSON:
                yield from ndjson_items(text)
            else:
                yield from array_items(text, self.pointer, self._facts)
            text.drain()
            if text.hexdigest() != self.digest:
                raise RuntimeError(
                    f"{self.source.path}: changed while it was being read (sha256 "
                    f"{self.digest[:12]} then {text.hexdigest()[:12]}); run again"
                )


class JsonFileReader:
    """Reads one layout's JSON files into the same row outcomes as the CSV reader."""

    def __init__(self, layout: ExportLayout, settings: ExportSettings) -> None:
        self.layout = layout
        self.settings = settings

    def document(self, location: ExportLocation, source: SourceFile, file_format: str):
        """The file as a JsonDocument, its records path from the settings or the layout."""
        pointer = self.settings.json_records_paths.get(self.layout.stream)
        return JsonDocument(
            location, source, file_format, self.layout.records_path if pointer is None else pointer
        )

    def rows(self, source: SourceFile, data: JsonDocument) -> Iterator[RowOutcome]:
        """What became of each record; raises FileFailed (before any) for the file."""
        if data.failure is not None:
            raise data.failure
        settings = self.settings
        cells = {
            c.name: cell_parser(
                c.kind, settings.day_first, settings.decimal_comma, settings.currency
            )
            for c in self.layout.columns
        }
        where = "" if data.format == NDJSON else "at {}: "
        for item in data.items():
            problem = item.problem
            if problem is None:
                try:
                    record = type_json_record(self.layout, item.value, cells)
                except BadCell as bad:
                    problem = bad
                else:
                    yield RowOutcome(item.position, item.raw, record=record)
                    continue
            raw = item.raw or to_json(item.value)
            detail = where.format(item.pointer) + str(problem)
            yield RowOutcome(item.position, raw, problem=BadCell(problem.reason, detail))
