"""tap-csv-marketing: typed marketing exports, bad rows quarantined, nothing lost."""

from __future__ import annotations

from functools import cached_property

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_csv_marketing.exports import LAYOUTS
from tap_csv_marketing.fields import CURRENCIES
from tap_csv_marketing.files import ExportLocation
from tap_csv_marketing.formats import FORMATS
from tap_csv_marketing.locations import redact_url
from tap_csv_marketing.raw_files import KeepingLocation, ReplayLocation
from tap_csv_marketing.raw_payloads import SETTINGS as RAW_PAYLOAD_SETTINGS
from tap_csv_marketing.raw_payloads import (
    RawPayloadError,
    RawPayloads,
    Recorder,
    Replayer,
    raw_payloads,
)
from tap_csv_marketing.settings import ExportSettings
from tap_csv_marketing.streams import CsvExportStream, all_streams, redact_bookmarks


class TapCsvMarketing(Tap):
    """Reads the marketing exports: CSV, JSON and NDJSON files, typed, bad rows quarantined."""

    name = "tap-csv-marketing"

    config_jsonschema = th.PropertiesList(
        th.Property(
            "source",
            th.StringType,
            required=True,
            secret=True,  # a URL may carry credentials (user:pass@, signed query values)
            description="Local directory, s3://bucket/prefix, or http(s) URL of one export "
            "file (.csv, .json, .ndjson, .jsonl, optionally .gz). "
            "No '..' or empty path segments. Credentials in it (user:pass@, query values) "
            "are redacted in logs, lineage and state.",
        ),
        th.Property(
            "urls",
            th.ArrayType(th.StringType),
            secret=True,
            description="For an http(s) source that is not a single file: the file URLs "
            "(matched against file_patterns by the last segment of their path).",
        ),
        th.Property(
            "allow_insecure_http",
            th.BooleanType,
            default=False,
            description="Allow plain http:// to a host that is not loopback (source, urls "
            "and redirects). Off: such an address fails the run before any request.",
        ),
        th.Property(
            "currency",
            th.StringType,
            default="USD",
            allowed_values=sorted(CURRENCIES),
            description="The currency every money column is in. Its symbol or code is "
            "optional in a cell; a cell with another currency's symbol or code is "
            "quarantined (wrong_currency).",
        ),
        th.Property(
            "file_patterns",
            th.ObjectType(*(th.Property(stream, th.StringType) for stream in LAYOUTS)),
            description="Glob per stream (default marketing_spend*.csv, "
            "campaign_performance*.csv, ad_events*.*json*, budget_plan*.json*).",
        ),
        th.Property(
            "file_formats",
            th.ObjectType(
                *(th.Property(stream, th.StringType, allowed_values=FORMATS) for stream in LAYOUTS)
            ),
            description="Format per stream, csv, json or ndjson, overriding the file "
            "extension (.csv, .json, .ndjson or .jsonl, each optionally .gz; any other "
            "name is read as CSV).",
        ),
        th.Property(
            "json_records_paths",
            th.ObjectType(*(th.Property(stream, th.StringType) for stream in LAYOUTS)),
            description="JSON pointer per stream to the array of records in a .json "
            "document ('' = the document is the array; default /days for budget_plan). "
            "Object keys only, without '.'.",
        ),
        th.Property("s3_endpoint_url", th.StringType, description="S3/MinIO endpoint URL."),
        th.Property("aws_access_key_id", th.StringType, secret=True, description="S3 access key."),
        th.Property(
            "aws_secret_access_key", th.StringType, secret=True, description="S3 secret key."
        ),
        th.Property("aws_region", th.StringType, default="us-east-1", description="S3 region."),
        th.Property(
            "encoding",
            th.StringType,
            description="Force an encoding (default: BOM, then UTF-8, then cp1252).",
        ),
        th.Property("delimiter", th.StringType, default=",", description="CSV delimiter."),
        th.Property(
            "day_first",
            th.BooleanType,
            default=False,
            description="Read d/m/Y instead of m/d/Y for slash dates.",
        ),
        th.Property(
            "decimal_comma",
            th.BooleanType,
            default=False,
            description='Numbers use a decimal comma and space/dot thousands ("1 234,56").',
        ),
        th.Property(
            "quarantine_unreadable_files",
            th.BooleanType,
            default=False,
            description="Quarantine a file that cannot be read at all and go on with the "
            "others, instead of failing the run with an error naming the file.",
        ),
        *RAW_PAYLOAD_SETTINGS,
    ).to_dict()

    @cached_property
    def export_settings(self) -> ExportSettings:
        """The checked config; raises ConfigValidationError naming each bad setting."""
        return ExportSettings.from_config(self.config)

    @cached_property
    def location(self) -> ExportLocation:
        """One listing of the source per run, shared by every stream."""
        if isinstance(self.raw, Recorder):
            return KeepingLocation(self.export_settings, self.raw)  # raw_payloads: true
        if isinstance(self.raw, Replayer):
            return ReplayLocation(self.export_settings, self.raw)  # replay_run
        return ExportLocation(self.export_settings)

    @cached_property
    def raw(self) -> RawPayloads:
        """The files as read, kept (`raw_payloads`) or not; raises on a bad setting."""
        try:
            return raw_payloads(self.config, self.name, self.logger, frozenset())
        except RawPayloadError as error:
            raise ConfigValidationError("Config validation failed", errors=[str(error)]) from None

    def load_state(self, state: dict) -> None:
        """Load the state with credentials in old bookmark keys redacted (it is echoed)."""
        super().load_state(state)
        redact_bookmarks(self.state)

    def discover_streams(self) -> list[CsvExportStream]:
        self.export_settings  # noqa: B018 - check the config before anything else
        return all_streams(self)

    def sync_all(self) -> None:
        """Fail before the first record when the source holds no file for any selected
        stream (a wrong `source` or `file_patterns`); warn for a selected stream alone
        without files (an export not produced yet is not a config error)."""
        self.raw.start()  # before the listing: a replay lists the recorded run's files
        try:
            self._sync_all_files()
        finally:
            self.raw.close()

    def _sync_all_files(self) -> None:
        counts: dict[str, int] = {}
        for stream in self.streams.values():
            if isinstance(stream, CsvExportStream) and stream.selected:
                layout = stream.layout
                pattern = self.export_settings.pattern(layout.stream, layout.default_pattern)
                counts[pattern] = len(self.location.list(pattern))
        shown = redact_url(self.export_settings.source)
        if counts and not any(counts.values()):
            raise ConfigValidationError(
                "Config validation failed",
                errors=[
                    f"settings 'source' and 'file_patterns': {shown} holds no file matching "
                    f"{sorted(counts)}"
                ],
            )
        for pattern, count in counts.items():
            if not count:
                self.logger.warning("%s holds no file matching %r", shown, pattern)
        super().sync_all()


if __name__ == "__main__":
    TapCsvMarketing.cli()
