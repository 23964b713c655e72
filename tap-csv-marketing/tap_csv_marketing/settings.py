"""The tap's configuration as one immutable value, checked once at start-up.

Every check here runs when the tap starts (discovery included), before any request or
record: a wrong setting fails the run with an error that names the setting. Secrets stay
out of `repr` (addresses may carry tokens; the S3 keys are secret).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_sdk.exceptions import ConfigValidationError

from tap_csv_marketing.fields import CURRENCIES, Currency
from tap_csv_marketing.formats import check_format_settings, export_suffix, is_export_file
from tap_csv_marketing.locations import (
    HTTP_SCHEMES,
    LocationError,
    check_address,
    file_name,
    redact_url,
    scheme_of,
)


@dataclass(frozen=True)
class ExportSettings:
    """Where the exports are and how their cells are read."""

    source: str = field(repr=False)
    urls: tuple[str, ...] = field(repr=False)
    file_patterns: Mapping[str, str]
    currency: Currency
    day_first: bool
    decimal_comma: bool
    delimiter: str
    encoding: str | None
    allow_insecure_http: bool
    quarantine_unreadable_files: bool
    file_formats: Mapping[str, str]
    json_records_paths: Mapping[str, str]
    s3_endpoint_url: str | None
    aws_region: str
    aws_access_key_id: str | None = field(repr=False)
    aws_secret_access_key: str | None = field(repr=False)

    @property
    def is_http(self) -> bool:
        return scheme_of(self.source) in HTTP_SCHEMES

    @property
    def is_s3(self) -> bool:
        return scheme_of(self.source) == "s3"

    def pattern(self, stream: str, default: str) -> str:
        """The file-name glob for one stream."""
        return self.file_patterns.get(stream, default)

    def http_files(self) -> tuple[str, ...]:
        """The URLs to read: `source` when it names one export file, else `urls`."""
        if is_export_file(file_name(self.source)):
            return (self.source,)
        return self.urls

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ExportSettings:
        """Check and freeze the config; ConfigValidationError lists every bad setting."""
        errors: list[str] = []
        source = str(config.get("source") or "")
        urls = tuple(str(url) for url in config.get("urls") or ())
        allow_insecure = bool(config.get("allow_insecure_http"))
        if not source:
            errors.append("setting 'source' is required: a directory, s3:// prefix or URL")
        addresses = ([("source", source)] if source else []) + [("urls", u) for u in urls]
        for setting, address in addresses:
            try:
                check_address(address, setting, allow_insecure)
            except LocationError as error:
                errors.append(str(error))
        if urls and scheme_of(source) not in HTTP_SCHEMES:
            errors.append("setting 'urls': only used with an http(s) 'source'")
        elif urls and is_export_file(file_name(source)):
            kind = export_suffix(file_name(source))
            errors.append(f"setting 'urls': 'source' already names one {kind} file; use one")
        for url in urls:
            if scheme_of(url) not in HTTP_SCHEMES:
                errors.append(f"setting 'urls': {redact_url(url)} is not an http(s) URL")
        shown = [redact_url(url) for url in urls]
        clashes = sorted({s for s in shown if shown.count(s) > 1})
        if clashes:
            errors.append(
                f"setting 'urls': {clashes} differ only in credentials or query values, so "
                "their lineage and bookmarks would be the same; list each file once"
            )
        code = str(config.get("currency") or "USD").upper()
        if code not in CURRENCIES:
            errors.append(f"setting 'currency': {code!r} is not one of {sorted(CURRENCIES)}")
        delimiter = str(config.get("delimiter") or ",")
        if len(delimiter) != 1 or delimiter in '"\r\n':
            errors.append(f"setting 'delimiter': {delimiter!r} must be one character")
        file_formats = dict(config.get("file_formats") or {})
        json_records_paths = dict(config.get("json_records_paths") or {})
        errors += check_format_settings(file_formats, json_records_paths)
        if errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return cls(
            source=source,
            urls=urls,
            file_patterns=dict(config.get("file_patterns") or {}),
            currency=CURRENCIES[code],
            day_first=bool(config.get("day_first")),
            decimal_comma=bool(config.get("decimal_comma")),
            delimiter=delimiter,
            encoding=config.get("encoding") or None,
            allow_insecure_http=allow_insecure,
            quarantine_unreadable_files=bool(config.get("quarantine_unreadable_files")),
            file_formats=file_formats,
            json_records_paths=json_records_paths,
            s3_endpoint_url=config.get("s3_endpoint_url") or os.environ.get("AWS_ENDPOINT_URL"),
            aws_region=config.get("aws_region") or "us-east-1",
            aws_access_key_id=config.get("aws_access_key_id")
            or os.environ.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=config.get("aws_secret_access_key")
            or os.environ.get("AWS_SECRET_ACCESS_KEY"),
        )
