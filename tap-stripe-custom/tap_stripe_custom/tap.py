"""tap-stripe-custom: Stripe payments that reconcile to the cent."""

from __future__ import annotations

import time
from functools import cached_property

from singer_sdk import Tap
from singer_sdk import typing as th

from tap_stripe_custom.client import StripeApi
from tap_stripe_custom.streams import STREAM_TYPES


class TapStripeCustom(Tap):
    """Charges and refunds first-class, plus customers, payment intents, balance
    transactions and disputes; updates to old objects through the Events API."""

    name = "tap-stripe-custom"

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
            description="API base URL (the sandbox in tests).",
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
    ).to_dict()

    @cached_property
    def api(self) -> StripeApi:
        return StripeApi(dict(self.config), self.logger)

    @cached_property
    def run_started(self) -> int:
        return int(time.time())

    def discover_streams(self):
        return [stream_type(self) for stream_type in STREAM_TYPES]

    def sync_all(self) -> None:
        started = time.monotonic()
        super().sync_all()
        if "api" in self.__dict__:
            self.logger.info(
                "Stripe run report: %d requests, retries by cause %s, %.1fs",
                self.api.requests,
                dict(self.api.retries),
                time.monotonic() - started,
            )


if __name__ == "__main__":
    TapStripeCustom.cli()
