"""tap-csv-marketing: typed marketing exports, bad rows quarantined, nothing lost."""

from __future__ import annotations

from singer_sdk import Tap
from singer_sdk import typing as th

from tap_csv_marketing.streams import all_streams


class TapCsvMarketing(Tap):
    """Reads weekly marketing_spend and campaign_performance exports."""

    name = "tap-csv-marketing"

    config_jsonschema = th.PropertiesList(
        th.Property(
            "source",
            th.StringType,
            required=True,
            description="Local directory, s3://bucket/prefix, or http(s) URL of one CSV file.",
        ),
        th.Property(
            "urls",
            th.ArrayType(th.StringType),
            description="For an http(s) source that is not a single file: the file URLs.",
        ),
        th.Property(
            "file_patterns",
            th.ObjectType(
                th.Property("marketing_spend", th.StringType),
                th.Property("campaign_performance", th.StringType),
            ),
            description="Glob per stream (default marketing_spend*.csv and "
            "campaign_performance*.csv).",
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
    ).to_dict()

    def discover_streams(self):
        return all_streams(self)


if __name__ == "__main__":
    TapCsvMarketing.cli()
