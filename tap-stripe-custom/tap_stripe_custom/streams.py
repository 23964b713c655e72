"""Stripe objects as incremental streams: created windows for new objects, Events for updates.

New objects are listed by `created` in ascending time windows ([start, end), newest first
within a window, as Stripe lists them). The `created_cursor` bookmark moves to a window's
end only after the whole window was emitted, so a killed run re-reads at most one window
and never leaves a gap. Updates to older objects (a charge refunded weeks later) come
from the Events API over the same kind of windows with an `events_cursor`; `.created`
events are skipped because the listing already delivers new objects. Each record gets
`updated` (created, or the event time) and `is_deleted`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator
from typing import Any

from singer_sdk import Stream
from singer_sdk.helpers._typing import TypeConformanceLevel

from tap_stripe_custom import schemas
from tap_stripe_custom.client import StripeApi

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
    replication_key = "updated"
    primary_keys = ("id",)
    is_sorted = False
    # Stripe already sends the declared JSON types; recursive conformance would cost
    # most of the tap's CPU for nothing.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    def __init__(self, tap) -> None:
        super().__init__(tap, schema=self.schema_list.to_dict(), name=self.resource)

    @property
    def api(self) -> StripeApi:
        return self._tap.api

    def _record(self, obj: dict, updated: int, deleted: bool = False) -> dict:
        record = {**obj, "updated": iso(updated), "is_deleted": deleted}
        for field in schemas.EPOCH_FIELDS:
            if isinstance(record.get(field), int | float):
                record[field] = iso(record[field])
        return record

    def _windows(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        size = int(self.config.get("window_days", 30)) * DAY
        while start < end:
            yield start, min(start + size, end)
            start += size

    def get_records(self, context: dict | None) -> Iterable[dict]:
        state = self.stream_state
        run_started = self._tap.run_started
        page_size = min(100, int(self.config.get("page_size", 100)))
        lookback = int(self.config.get("lookback_window", 0))
        created_cursor = state.get("created_cursor")
        if created_cursor is None:
            start_date = self.config.get("start_date")
            created_cursor = to_epoch(start_date) if start_date else 0
        events_cursor = state.get("events_cursor")
        first_run = events_cursor is None
        if first_run:
            events_cursor = run_started  # the listing below already shows current state
        start = max(0, int(created_cursor) - lookback)
        for window_start, window_end in self._windows(start, run_started):
            params = {"created": {"gte": window_start, "lt": window_end}}
            for obj in self.api.list_all(self.resource, params, page_size):
                yield self._record(obj, obj["created"])
            state["created_cursor"] = window_end
            self._checkpoint()
        state["created_cursor"] = max(int(state.get("created_cursor", 0)), run_started)
        if not first_run:
            yield from self._updates(int(events_cursor), run_started, page_size)
        state["events_cursor"] = run_started
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = iso(run_started)

    def _updates(self, start: int, end: int, page_size: int) -> Iterator[dict]:
        state = self.stream_state
        if start < time.time() - EVENT_RETENTION_DAYS * DAY:
            self.logger.warning(
                "%s: the events bookmark (%s) is older than Stripe's %d-day event retention; "
                "updates older than that cannot be fetched. Run a full re-sync (clear this "
                "stream's state) to be sure no change is missed.",
                self.name,
                iso(start),
                EVENT_RETENTION_DAYS,
            )
        for window_start, window_end in self._windows(start, end):
            params = {
                "created": {"gte": window_start, "lt": window_end},
                "types": self.event_types(),
            }
            for event in self.api.list_all("events", params, page_size):
                obj = event.get("data", {}).get("object", {})
                if obj.get("object") != self.object_name or event["type"].endswith(".created"):
                    continue
                yield self._record(
                    obj, event["created"], deleted=event["type"].endswith(".deleted")
                )
            state["events_cursor"] = window_end
            self._checkpoint()

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

    def _updates(self, start: int, end: int, page_size: int) -> Iterator[dict]:
        return iter(())


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
