"""Stripe objects as incremental streams: Events for updates, created windows for new objects.

Each run first reads the Events API from the `events_cursor` bookmark to the run's start
(newest first): an updated object created before this run's listing range is emitted
with its newest event's state; `*.deleted` events set `is_deleted`; `.created` events
are skipped. Then new objects are listed by `created` in ascending windows ([start, end),
newest first within a window, as Stripe lists them); the `created_cursor` bookmark moves
to a window's end only after the whole window was emitted, so a killed run re-reads at
most one window and never leaves a gap. An object is emitted at most once per run: a new
object that also has update events is listed once (its current state) with `updated` =
its newest event's time. A stream whose requests fail for good keeps its bookmark at the
last good window and lets the other streams run; the tap then exits non-zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_stripe_custom import schemas
from tap_stripe_custom.client import StripeApi
from tap_stripe_custom.errors import StripeAuthFailed, StripeRequestFailed
from tap_stripe_custom.root_conform import RootConformer

DAY = 86400
EVENT_RETENTION_DAYS = 30


def iso(epoch: int | float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


def to_epoch(value: str) -> int:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp())


class StripeStream(Stream):
    """One Stripe list endpoint."""

    resource: str
    object_name: str
    schema_list: Any
    has_events = True  # updates and deletions come from the Events API
    replication_key = "updated"
    primary_keys = ("id",)
    is_sorted = False
    # Stripe already sends the declared JSON types; recursive conformance would cost
    # most of the tap's CPU for nothing. Root-level conformance (ROOT_ONLY's) is done
    # in `_record` by a RootConformer planned once from the schema (root_conform.py);
    # the SDK's own per-value pass is off.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap) -> None:
        super().__init__(tap, schema=self.schema_list.to_dict(), name=self.resource)

    @cached_property
    def conform(self) -> RootConformer:
        """ROOT_ONLY conformance against the schema records are written with."""
        return RootConformer(self.name, self.effective_schema, self.logger)

    @property
    def api(self) -> StripeApi:
        return self._tap.api

    def _record(self, obj: dict, updated: int, deleted: bool = False) -> dict:
        record = {**obj, "updated": iso(updated), "is_deleted": deleted}
        for field in schemas.EPOCH_FIELDS:
            if isinstance(record.get(field), int | float):
                record[field] = iso(record[field])
        return self.conform(record)

    def _windows(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        size = int(self.config.get("window_days", 30)) * DAY
        while start < end:
            yield start, min(start + size, end)
            start += size

    def sync(self, context: dict | None = None) -> None:
        """Sync; a request that failed for good fails this stream only (bookmark kept at
        its last good window), so the streams after it still run."""
        try:
            super().sync(context)
        except StripeAuthFailed:
            raise
        except StripeRequestFailed as error:
            # unpromoted progress would claim records past the last good window
            self.stream_state.pop("progress_markers", None)
            self._tap.stream_failed(self.name, error)

    def get_records(self, context: dict | None) -> Iterable[dict]:
        state = self.stream_state
        run_started = self._tap.run_boundary(self.resource)
        page_size = min(100, int(self.config.get("page_size", 100)))
        lookback = int(self.config.get("lookback_window", 0))
        created_cursor = state.get("created_cursor")
        if created_cursor is None:
            start_date = self.config.get("start_date")
            created_cursor = to_epoch(start_date) if start_date else 0
        listing_start = max(0, int(created_cursor) - lookback)
        emitted: set[str] = set()  # ids emitted this run: each object at most once
        fresher: dict[str, int] = {}  # listed-range ids -> their newest event's time
        events_cursor = state.get("events_cursor")
        if events_cursor is None:
            # First run: the listing shows current state; updates come from events after
            # this moment, also when this run is killed before it ends.
            state["events_cursor"] = run_started
        elif self.has_events:
            yield from self._updates(int(events_cursor), listing_start, emitted, fresher)
            state["events_cursor"] = run_started
            self._checkpoint()
        for window_start, window_end in self._windows(listing_start, run_started):
            params = {"created": {"gte": window_start, "lt": window_end}}
            for obj in self.api.list_all(self.resource, params, page_size):
                if obj["id"] in emitted:
                    continue
                emitted.add(obj["id"])
                yield self._record(obj, max(obj["created"], fresher.get(obj["id"], 0)))
            state["created_cursor"] = window_end
            self._checkpoint()
        state["created_cursor"] = max(int(state.get("created_cursor", 0)), run_started)
        state["events_cursor"] = run_started
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = iso(run_started)

    def _updates(
        self, start: int, listing_start: int, emitted: set[str], fresher: dict[str, int]
    ) -> Iterator[dict]:
        """Updated and deleted objects from events in [start, run start), newest first;
        only the newest version of each object is emitted."""
        if start < self._tap.run_started - EVENT_RETENTION_DAYS * DAY:  # in Stripe's time
            self.logger.warning(
                "%s: the events bookmark (%s) is older than Stripe's %d-day event retention; "
                "updates older than that cannot be fetched. Run a full re-sync (clear this "
                "stream's state) to be sure no change is missed.",
                self.name,
                iso(start),
                EVENT_RETENTION_DAYS,
            )
        page_size = min(100, int(self.config.get("page_size", 100)))
        params = {
            "created": {"gte": start, "lt": self._tap.run_started},
            "types": self.event_types(),
        }
        for event in self.api.list_all("events", params, page_size):
            obj = event.get("data", {}).get("object", {})
            object_id = obj.get("id")
            if obj.get("object") != self.object_name or event["type"].endswith(".created"):
                continue
            if object_id in emitted or object_id in fresher:
                continue  # an older version of an object already decided
            deleted = event["type"].endswith(".deleted")
            created = obj.get("created")
            if not deleted and isinstance(created, int) and created >= listing_start:
                fresher[object_id] = event["created"]  # the listing brings its current state
                continue
            emitted.add(object_id)
            yield self._record(obj, event["created"], deleted=deleted)

    def event_types(self) -> list[str]:
        return [f"{self.object_name}.*"]

    def _checkpoint(self) -> None:
        self.state_manager.is_flushed = False
        self._write_state_message()


class ChargesStream(StripeStream):
    resource, object_name, schema_list = "charges", "charge", schemas.CHARGE


class RefundsStream(StripeStream):
    resource, object_name, schema_list = "refunds", "refund", schemas.REFUND

    def event_types(self) -> list[str]:
        return ["refund.*", "charge.refund.updated"]


class CustomersStream(StripeStream):
    resource, object_name, schema_list = "customers", "customer", schemas.CUSTOMER


class PaymentIntentsStream(StripeStream):
    resource, object_name, schema_list = "payment_intents", "payment_intent", schemas.PAYMENT_INTENT


class BalanceTransactionsStream(StripeStream):
    """Immutable in Stripe: no update events exist, only the created listing."""

    resource, object_name = "balance_transactions", "balance_transaction"
    schema_list = schemas.BALANCE_TRANSACTION
    has_events = False


class DisputesStream(StripeStream):
    resource, object_name, schema_list = "disputes", "dispute", schemas.DISPUTE

    def event_types(self) -> list[str]:
        return ["charge.dispute.*"]


STREAM_TYPES = [
    ChargesStream,
    RefundsStream,
    CustomersStream,
    PaymentIntentsStream,
    BalanceTransactionsStream,
    DisputesStream,
]
