"""tap-legacy-crm: every customer out of the unreliable legacy CRM API."""

from __future__ import annotations

from functools import cached_property

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_legacy_crm.raw_payloads import SETTINGS as RAW_PAYLOAD_SETTINGS
from tap_legacy_crm.raw_payloads import RawPayloadError, RawPayloads, RawSettings, raw_payloads
from tap_legacy_crm.report import RunReport
from tap_legacy_crm.singer_output import BlockSingerWriter
from tap_legacy_crm.stream import CustomersStream
from tap_legacy_crm.url_policy import api_url_problem

# the query parameters the tap sends; any other value in a kept URL is redacted
KEPT_QUERY_PARAMETERS = frozenset({"page", "per_page", "updated_since"})


class TapLegacyCRM(Tap):
    """Page-numbered extraction with bounded retries and no silent loss."""

    name = "tap-legacy-crm"
    # JSON lines in blocks, flushed at each STATE (singer_output.py)
    message_writer_class = BlockSingerWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_url", th.StringType, required=True, description="Base URL of the CRM API."
        ),
        th.Property(
            "api_token", th.StringType, required=True, secret=True, description="Bearer token."
        ),
        th.Property(
            "per_page", th.IntegerType, default=500, description="Records per page (1..1000)."
        ),
        th.Property(
            "start_date", th.DateTimeType, description="First run: only records updated since then."
        ),
        th.Property(
            "request_timeout",
            th.NumberType,
            default=30,
            description="Seconds before a request times out (then it is retried).",
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=6,
            description="Retries per page before it counts as failed.",
        ),
        th.Property(
            "backoff_base_seconds",
            th.NumberType,
            default=1.0,
            description="First backoff ceiling for 5xx/timeouts (429 without Retry-After: 4x).",
        ),
        th.Property(
            "backoff_max_seconds",
            th.NumberType,
            default=60.0,
            description="Cap on the jittered wait (Retry-After is still honoured).",
        ),
        th.Property(
            "on_unrecoverable_page",
            th.StringType,
            default="fail",
            allowed_values=["fail", "skip"],
            description="fail: stop with an error naming the page; the next run resumes there. "
            "skip: record the page as skipped, retry it at the end and in the next run.",
        ),
        th.Property(
            "listing_order",
            th.StringType,
            default="id",
            allowed_values=["id", "none"],
            description="The order the API lists customers in. id (the CRM's documented "
            "order): each page must start where the previous one ended, and a resumed listing "
            "restarts after the last delivered id. none: no order is assumed; pages are "
            "checked by their echoed page number and size only, and resume by page number; "
            "an API that echoes neither the page number nor a total is refused (nothing "
            "could detect a replayed page).",
        ),
        th.Property(
            "allow_insecure_http",
            th.BooleanType,
            default=False,
            description="Allow a plain http:// api_url to a host other than this machine "
            "(the token then travels unencrypted). Loopback hosts are always allowed.",
        ),
        *RAW_PAYLOAD_SETTINGS,
    ).to_dict()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The schema's checks, then where the token may go: before any request is made."""
        errors = super()._validate_config(raise_errors=raise_errors)
        problem = (
            api_url_problem(
                str(self.config["api_url"]), bool(self.config.get("allow_insecure_http"))
            )
            if self.config.get("api_url")
            else None
        )
        if not problem:
            try:
                RawSettings.from_config(dict(self.config))
            except RawPayloadError as error:
                problem = str(error)
        if problem and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=[problem])
        return errors + ([problem] if problem else [])

    @cached_property
    def report(self) -> RunReport:
        return RunReport()

    @cached_property
    def raw(self) -> RawPayloads:
        """Raw bodies kept (`raw_payloads`), served back (`replay_run`), or neither."""
        return raw_payloads(self.config, self.name, self.logger, KEPT_QUERY_PARAMETERS)

    def discover_streams(self):
        return [CustomersStream(self)]

    def sync_all(self) -> None:
        self.raw.start()
        try:
            super().sync_all()
        finally:
            self.raw.close()
            self.logger.info("CRM run report: %s", self.report.summary())


if __name__ == "__main__":
    TapLegacyCRM.cli()
