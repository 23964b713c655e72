"""tap-stripe-custom: Stripe payments that reconcile to the cent."""

from __future__ import annotations

import json
import time
from functools import cached_property
from typing import Any

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError, FatalSyncError

from tap_stripe_custom.client import StripeApi
from tap_stripe_custom.errors import StripeRequestFailed
from tap_stripe_custom.raw_payloads import SETTINGS as RAW_PAYLOAD_SETTINGS
from tap_stripe_custom.raw_payloads import RawPayloadError, RawPayloads, RawSettings, raw_payloads
from tap_stripe_custom.singer_output import BlockSingerWriter
from tap_stripe_custom.streams import STREAM_TYPES
from tap_stripe_custom.transport import require_safe_api_base

# the query parameters the tap sends; any other value in a kept URL is redacted
KEPT_QUERY_PARAMETERS = frozenset({"limit", "starting_after", "ending_before", "created", "types"})


class StreamsFailed(FatalSyncError):
    """Some streams failed for good; the others completed. The message names them."""


class TapStripeCustom(Tap):
    """Charges and refunds first-class, plus customers, payment intents, balance
    transactions and disputes; updates to old objects through the Events API."""

    name = "tap-stripe-custom"
    # JSON lines in blocks, flushed at each STATE (singer_output.py): a third of the CPU
    message_writer_class = BlockSingerWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType,
            required=True,
            secret=True,
            description="Stripe secret or restricted key.",
        ),
        th.Property(
            "api_base",
            th.StringType,
            default="https://api.stripe.com",
            description="API base URL (the sandbox in tests). https://, or http:// to "
            "loopback only unless allow_insecure_http is set.",
        ),
        th.Property(
            "allow_insecure_http",
            th.BooleanType,
            default=False,
            description="Allow an http:// api_base on a host that is not loopback: the API "
            "key then travels unencrypted. Only for a trusted network.",
        ),
        th.Property(
            "stripe_api_version",
            th.StringType,
            default="2024-06-20",
            description="Pinned Stripe API version (Stripe-Version header).",
        ),
        th.Property(
            "account_id", th.StringType, description="Connect account, sent as Stripe-Account."
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Objects created before this are not extracted.",
        ),
        th.Property(
            "page_size", th.IntegerType, default=100, description="Objects per page (at most 100)."
        ),
        th.Property(
            "lookback_window",
            th.IntegerType,
            default=0,
            description="Seconds re-read before the created bookmark.",
        ),
        th.Property(
            "window_days",
            th.IntegerType,
            default=30,
            description="Days per created window; a killed run re-reads at most one window.",
        ),
        th.Property(
            "max_requests_per_second",
            th.NumberType,
            default=25,
            description="Client-side rate limit (Stripe allows ~100/s live, 25/s test).",
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=8,
            description="Retries per request for 429, 5xx and connection errors.",
        ),
        th.Property(
            "backoff_base_seconds",
            th.NumberType,
            default=0.5,
            description="First backoff ceiling; doubles per retry (full jitter).",
        ),
        th.Property(
            "backoff_max_seconds",
            th.NumberType,
            default=30,
            description="Cap on any single wait, Retry-After included.",
        ),
        *RAW_PAYLOAD_SETTINGS,
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # before any request: a key must not travel in clear text to another machine
        require_safe_api_base(
            self.config.get("api_base") or "https://api.stripe.com",
            bool(self.config.get("allow_insecure_http", False)),
        )
        try:
            RawSettings.from_config(dict(self.config))
        except RawPayloadError as error:
            raise ConfigValidationError("Config validation failed", errors=[str(error)]) from None
        self.failed_streams: dict[str, StripeRequestFailed] = {}
        self._run_started: int | None = None

    @cached_property
    def raw(self) -> RawPayloads:
        """Raw bodies kept (`raw_payloads`), served back (`replay_run`), or neither."""
        return raw_payloads(self.config, self.name, self.logger, KEPT_QUERY_PARAMETERS)

    @cached_property
    def api(self) -> StripeApi:
        return StripeApi(self.config, self.logger, self.raw)

    def stream_failed(self, stream: str, error: StripeRequestFailed) -> None:
        """Called by a stream whose requests failed for good; the run goes on."""
        self.logger.error("Stream %s failed (bookmark kept at its last good window): %s",
                          stream, error)  # fmt: skip
        self.failed_streams[stream] = error

    def run_boundary(self, resource: str) -> int:
        """The run's boundary (epoch seconds): objects created before it are listed, and
        it is bookmarked. The earlier of the local clock and Stripe's (`run_boundary`), so
        a machine whose clock runs ahead never bookmarks a moment in Stripe's future. Read
        once per run, with a `limit=1` request on the first stream that asks."""
        if self._run_started is None:
            moment = int(self.api.run_boundary(resource).moment)
            # a replay asks for the same created windows as the recorded run
            self._run_started = int(self.raw.note("run_boundary", moment))
        return self._run_started

    @property
    def run_started(self) -> int:
        """The boundary read by `run_boundary`."""
        if self._run_started is None:
            raise RuntimeError("run_started read before run_boundary() was called")
        return self._run_started

    def discover_streams(self):
        return [stream_type(self) for stream_type in STREAM_TYPES]

    def sync_all(self) -> None:
        """Every selected stream, then the run report; non-zero exit naming any stream
        that failed."""
        started = time.monotonic()
        self.raw.start()
        try:
            super().sync_all()
        finally:
            self.raw.close()
            if "api" in self.__dict__:
                self.logger.info(
                    "Stripe run report: %d requests, retries by cause %s, failed streams %s, %.1fs",
                    self.api.requests,
                    json.dumps(dict(sorted(self.api.retries.items()))),
                    sorted(self.failed_streams),
                    time.monotonic() - started,
                )
        if self.failed_streams:
            names = ", ".join(self.failed_streams)
            details = "; ".join(f"{name}: {error}" for name, error in self.failed_streams.items())
            count = len(self.failed_streams)
            raise StreamsFailed(
                f"{count} failed stream{'s' if count > 1 else ''}: {names} ({details}); "
                "the other streams completed"
            )


if __name__ == "__main__":
    TapStripeCustom.cli()
