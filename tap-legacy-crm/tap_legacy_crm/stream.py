"""The CRM's customers as one resumable, page-by-page stream.

Every page is either delivered or accounted for. Retries go through the SDK's backoff
hooks (`validate_response`, `backoff_wait_generator`, `backoff_max_tries`). Every response
is checked to be the page that was asked for (`pages.page_mismatch`); a wrong page is
retried like a 5xx, under the cause `wrong_page`. After each page, STATE records the
current listing (its `updated_since` filter, start time, next page, last delivered id and
counts), so a run that stops - killed, or failing loudly on a page that exhausted its
retries - resumes there: by key (after the last delivered id) when the listing is ordered
by id, else by page number. With `on_unrecoverable_page: skip` such a page is recorded as
skipped instead, retried once more at the end of the stream, and, if still failing, kept
in STATE so that the next run fetches it first. A listing ends with a reconciliation
against the API's own total (`reconcile`); an unexplained difference fails the run. Its
start time, the next run's `updated_since`, is the earlier of the local clock and the
CRM's (the `Date` of its first page, `run_boundary`): a machine whose clock runs ahead
must not bookmark a moment in the CRM's future.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Iterator
from typing import Any

import requests
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.streams import RESTStream

from tap_legacy_crm.pages import PageRequest, page_mismatch, unverifiable
from tap_legacy_crm.reconcile import listing_difference, run_difference
from tap_legacy_crm.records import SCHEMA, normalise, record_id
from tap_legacy_crm.retry_after import retry_after_seconds
from tap_legacy_crm.run_boundary import log_boundary, run_boundary

RETRY_EXHAUSTED = (
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    ConnectionResetError,
)
RETRY_AFTER_STATUSES = (429, 503)


class PageFailed(RuntimeError):
    """A page still failing after the last retry; names the page and the resume point."""


class WrongPage(RetriableAPIError):
    """A well-formed response that is not the page asked for (stale cache, replay)."""


class NotReconciled(RuntimeError):
    """The delivered ids do not add up to the API's own count of the listing."""


class UnverifiableListing(RuntimeError):
    """The configured `listing_order` and what the API sends leave no page checkable."""


def cause_of(error: BaseException) -> str:
    if isinstance(error, WrongPage):
        return "wrong_page"
    if isinstance(error, RetriableAPIError):
        response = error.response
        if response is not None and response.status_code == 200:
            return "malformed_body"
        return str(response.status_code) if response is not None else "retriable"
    if isinstance(error, requests.exceptions.Timeout):
        return "timeout"
    if isinstance(
        error, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        return "truncated_body"
    return "connection"


def hinted_wait(error: BaseException | None) -> float | None:
    """The server's Retry-After (seconds or HTTP-date) on a 429/503, else None."""
    response = getattr(error, "response", None)
    if response is None or response.status_code not in RETRY_AFTER_STATUSES:
        return None
    return retry_after_seconds(response.headers.get("Retry-After"))


class CustomersStream(RESTStream):
    name = "customers"
    path = "/api/v1/customers"
    primary_keys = ("id",)
    schema = SCHEMA

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._asked = PageRequest(page=1, per_page=1)
        self._body: dict[str, Any] | None = None  # parsed once, in validate_response
        self._date: tuple[str | None, float] = (None, 0.0)  # last page's Date, round trip

    @property
    def url_base(self) -> str:
        return str(self.config["api_url"]).rstrip("/")

    @property
    def authenticator(self) -> BearerTokenAuthenticator:
        return BearerTokenAuthenticator(token=self.config["api_token"])

    @property
    def timeout(self) -> int:
        return float(self.config.get("request_timeout", 30))  # type: ignore[return-value]

    @property
    def report(self):
        return self._tap.report

    @property
    def requests_session(self) -> requests.Session:
        """The SDK's session; a replay (`replay_run`) answers it from the recorded run."""
        return self._tap.raw.mount(super().requests_session)

    @property
    def ordered_by_id(self) -> bool:
        return self.config.get("listing_order", "id") == "id"

    # -- retry policy (SDK hooks) ---------------------------------------------------------

    def validate_response(self, response: requests.Response) -> None:
        """Check the response (`check_response`), keeping its body when raw payloads are
        on: accepted or not, with the cause it was refused for."""
        try:
            self.check_response(response)
        except Exception as error:
            reason = cause_of(error) if isinstance(error, RetriableAPIError) else "fatal"
            self._tap.raw.keep_response(self.name, response, False, reason=reason,
                                        extraction_method="api_json")  # fmt: skip
            raise
        self._tap.raw.keep_response(self.name, response, True, extraction_method="api_json")

    def check_response(self, response: requests.Response) -> None:
        if response.status_code in (401, 403):
            raise FatalAPIError(
                f"The CRM API refused the token ({response.status_code}) for {self.path}: "
                "check api_token (it is not shown here)."
            )
        if response.status_code == 429 or response.status_code >= 500:
            raise RetriableAPIError(f"{response.status_code} from the CRM API", response)
        if response.status_code >= 400:
            raise FatalAPIError(
                f"The CRM API rejected the request ({response.status_code}): {response.text[:200]}"
            )
        try:
            body = response.json()
        except ValueError:
            raise RetriableAPIError("malformed JSON body", response) from None
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("data"), list)
            or not isinstance(body.get("pagination"), dict)
        ):
            raise RetriableAPIError("JSON body without data/pagination", response)
        mismatch = page_mismatch(body, self._asked)
        if mismatch:
            raise WrongPage(mismatch, response)
        self._body = body
        self._date = (response.headers.get("Date"), response.elapsed.total_seconds())

    def backoff_wait_generator(self) -> Iterator[float]:
        """Full-jitter exponential waits, capped; a 429/503 waits at least its Retry-After
        (either form), and a 429 without one uses a 4x longer base."""
        base = float(self.config.get("backoff_base_seconds", 1.0))
        cap = float(self.config.get("backoff_max_seconds", 60.0))
        attempt = 0
        error = yield 0.0
        while True:
            hinted = hinted_wait(error)
            is_429 = getattr(getattr(error, "response", None), "status_code", None) == 429
            ceiling = min(cap, (base * 4 if is_429 else base) * 2**attempt)
            wait = random.uniform(0, ceiling)
            if hinted is not None:
                wait = max(wait, hinted)
            attempt += 1
            error = yield wait

    def backoff_jitter(self, value: float) -> float:
        return value  # full jitter is applied in backoff_wait_generator

    def backoff_max_tries(self) -> int:
        return int(self.config.get("max_retries", 6)) + 1

    def backoff_handler(self, details) -> None:
        error = details.get("exception")
        cause = cause_of(error) if error else "unknown"
        self.report.retries_by_cause[cause] += 1
        self.logger.warning(
            "retrying %s after %s (try %d, waiting %.2fs)%s",
            self.path,
            cause,
            details.get("tries", 0),
            details.get("wait", 0.0),
            f": {error}" if isinstance(error, WrongPage) else "",
        )

    # -- one page -------------------------------------------------------------------------

    def _fetch(self, asked: PageRequest, updated_since: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"page": asked.page, "per_page": asked.per_page}
        if updated_since:
            params["updated_since"] = updated_since
        prepared = self.build_prepared_request(
            method="GET",
            url=f"{self.url_base}{self.path}",
            params=params,
            headers=self.http_headers,
        )
        self._asked, self._body = asked, None
        retries_before = sum(self.report.retries_by_cause.values())
        self.report.pages_requested += 1
        try:
            self.request_decorator(self._request)(prepared, None)
        except RETRY_EXHAUSTED as error:
            cause = cause_of(error)
            detail = f"{cause}: {error}" if cause == "wrong_page" else cause
            raise PageFailed(
                f"page {asked.page} (per_page={asked.per_page}, updated_since={updated_since}) "
                f"still failing after {self.backoff_max_tries()} tries ({detail})"
            ) from None
        if sum(self.report.retries_by_cause.values()) > retries_before:
            self.report.pages_retried += 1
        self.report.pages_succeeded += 1
        assert self._body is not None  # set by validate_response on success
        if problem := unverifiable(self._body, self.ordered_by_id):
            raise UnverifiableListing(
                f"listing_order: none, but on page {asked.page} {problem}: nothing can tell a "
                "replayed or stale page from the page asked for, so ids could be lost without "
                "a word. Set listing_order: id if the API lists customers by id (the CRM's "
                "documented order), or put the tap in front of an API that echoes the page "
                "number or reports its total. Nothing was delivered from this page."
            )
        return self._body

    def _checkpoint(self) -> None:
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _page_records(
        self,
        body: dict,
        page: int,
        seen: set[int],
        delivered_upto: int | None = None,
        listing: dict | None = None,
    ) -> Iterator[dict]:
        """The page's new records; every received record lands in exactly one count."""
        for raw in body["data"]:
            self.report.records_received += 1
            record = normalise(raw, page)
            if delivered_upto is not None and record["id"] <= delivered_upto:
                self.report.already_delivered += 1
                continue
            if record["id"] in seen:
                self.report.duplicates_dropped += 1
                continue
            seen.add(record["id"])
            self.report.records_emitted += 1
            if listing is not None and listing.get("emitted") is not None:
                listing["emitted"] += 1  # None: a listing begun before counts were kept
            yield record

    # -- the listing ----------------------------------------------------------------------

    def _carried_pages(self, state: dict) -> Iterator[dict]:
        """Pages an earlier run could not fetch (skip mode), first; still failing: kept."""
        still_failing: list[dict] = []
        seen: set[int] = set()
        for skipped in list(state.get("skipped_pages", [])):
            asked = PageRequest(
                skipped["page"],
                skipped["per_page"],
                skipped.get("after_id") if self.ordered_by_id else None,
            )
            try:
                body = self._fetch(asked, skipped["updated_since"])
            except PageFailed as error:
                self.logger.error("%s (skipped again)", error)
                still_failing.append(skipped)
                continue
            self.report.pages_recovered.append(skipped["page"])
            yield from self._page_records(body, skipped["page"], seen)
        state["skipped_pages"] = still_failing

    def _restart_page(self, listing: dict) -> int:
        """The page a resumed, id-ordered listing restarts from: walk back from `next_page`
        to a page that starts at or before the last delivered id, so that records which
        moved to earlier pages (deletions shift offsets left) are not passed over."""
        page, last_id = listing["next_page"], listing["last_id"]
        while page > 1:
            body = self._fetch(PageRequest(page, listing["per_page"]), listing["updated_since"])
            if body["data"] and record_id(body["data"][0], page) <= last_id:
                break
            page -= 1
        self.logger.info(
            "resuming the listing after id %s from page %s (STATE said next_page=%s)",
            last_id,
            page,
            listing["next_page"],
        )
        return page

    def get_records(self, context: dict | None) -> Iterable[dict]:
        state = self.stream_state
        per_page = int(self.config.get("per_page", 500))
        skip_mode = self.config.get("on_unrecoverable_page", "fail") == "skip"
        yield from self._carried_pages(state)
        still_failing = list(state["skipped_pages"])
        local_start = dt.datetime.now(dt.UTC)
        new_listing = not state.get("listing")
        listing = state.get("listing") or {
            "updated_since": state.get("updated_since") or self.config.get("start_date"),
            "started_at": local_start.isoformat(),  # until the CRM's clock is known
            "next_page": 1,
            "per_page": per_page,
            "last_id": None,
            "emitted": 0,
            "api_total_max": None,
        }
        state["listing"] = listing
        resumed_after = listing.get("last_id")  # delivered by an earlier run of this listing
        seen: set[int] = {resumed_after} if resumed_after is not None else set()
        delivered_upto = resumed_after if self.ordered_by_id else None
        page = listing["next_page"]
        if self.ordered_by_id and resumed_after is not None and page > 1:
            page = self._restart_page(listing)
        after_id, total_pages, api_total = None, None, None
        skipped_now: list[dict] = []
        while total_pages is None or page <= total_pages:
            asked = PageRequest(page, listing["per_page"], after_id if self.ordered_by_id else None)
            try:
                body = self._fetch(asked, listing["updated_since"])
            except PageFailed as error:
                if not skip_mode or total_pages is None:
                    self.logger.error(
                        "%s. STATE points at this page; the next run resumes there.", error
                    )
                    raise
                self.logger.error("%s; recorded as skipped, retried at the end", error)
                skipped_now.append(
                    {
                        "page": page,
                        "per_page": listing["per_page"],
                        "updated_since": listing["updated_since"],
                        "after_id": after_id,
                    }
                )
                self.report.pages_skipped.append(page)
                listing["next_page"] = page = page + 1
                state["skipped_pages"] = still_failing + skipped_now
                self._checkpoint()
                continue
            if new_listing:  # its first page: bound the listing by the CRM's clock too
                new_listing = False
                listing["started_at"] = self._listing_start(local_start)
            pagination = body["pagination"]
            total_pages = int(pagination["total_pages"])
            if pagination.get("total_records") is not None:
                api_total = int(pagination["total_records"])
                listing["api_total_max"] = max(api_total, listing.get("api_total_max") or 0)
            yield from self._page_records(body, page, seen, delivered_upto, listing)
            if body["data"]:
                after_id = listing["last_id"] = record_id(body["data"][-1], page)
            listing["next_page"] = page = page + 1
            self._checkpoint()
        for skipped in list(skipped_now):  # one more try at the end of the stream
            asked = PageRequest(skipped["page"], skipped["per_page"], skipped["after_id"])
            try:
                body = self._fetch(asked, skipped["updated_since"])
            except PageFailed as error:
                self.logger.error("%s; kept in STATE for the next run", error)
                continue
            skipped_now.remove(skipped)
            self.report.pages_recovered.append(skipped["page"])
            yield from self._page_records(body, skipped["page"], seen, None, listing)
        state["skipped_pages"] = still_failing + skipped_now
        self._reconcile(state, listing, api_total, len(skipped_now) * listing["per_page"])

    def _listing_start(self, local_start: dt.datetime) -> str:
        """min(local start, the CRM's clock from the page just fetched), ISO 8601."""
        header, round_trip = self._date
        boundary = run_boundary(local_start.timestamp(), header, round_trip)
        log_boundary(self.logger, boundary, "The CRM API")
        return dt.datetime.fromtimestamp(boundary.moment, dt.UTC).isoformat()

    def _reconcile(
        self, state: dict, listing: dict, api_total: int | None, skipped_rows: int
    ) -> None:
        """Close the listing: advance the bookmark only when the counts add up."""
        report = self.report
        report.api_total, report.distinct_emitted = api_total, listing.get("emitted")
        problems = [
            run_difference(
                report.records_received,
                report.records_emitted,
                report.duplicates_dropped,
                report.already_delivered,
            )
        ]
        if listing.get("emitted") is None:
            self.logger.warning("listing resumed from a STATE without counts: total not compared")
        else:
            problems.append(
                listing_difference(
                    listing["emitted"], api_total, listing.get("api_total_max"), skipped_rows
                )
            )
        problems = [p for p in problems if p]
        state.pop("listing", None)
        if not problems:
            # without a total (or counts) nothing was compared: the pages were each
            # verified (echo or id order), but "yes" would claim more than was checked
            compared = api_total is not None and listing.get("emitted") is not None
            report.reconciled = "yes" if compared else "n/a"
            state["updated_since"] = listing["started_at"]
            self._checkpoint()
            return
        report.reconciled = "NO"
        self._checkpoint()  # bookmark not advanced: the next run reads the listing again
        message = "NOT RECONCILED: " + "; ".join(problems)
        if self.config.get("on_unrecoverable_page", "fail") == "skip":
            self.logger.error("%s. The bookmark is not advanced (skip mode: exit 0).", message)
            return
        raise NotReconciled(message + ". The bookmark is not advanced; the next run re-reads.")
