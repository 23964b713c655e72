"""The CRM's customers as one resumable, page-by-page stream.

Every page is either delivered or accounted for. Retries go through the SDK's backoff
hooks (`validate_response`, `backoff_wait_generator`, `backoff_max_tries`). After each
page, STATE records the next page of the current listing (its `updated_since` filter and
start time), so a run that stops - killed, or failing loudly on a page that exhausted its
retries - resumes at that page. With `on_unrecoverable_page: skip` such a page is recorded
as skipped instead, retried once more at the end of the stream, and, if still failing,
kept in STATE so that the next run fetches it first.
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

from tap_legacy_crm.records import SCHEMA, normalise

RETRY_EXHAUSTED = (
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    ConnectionResetError,
)


class PageFailed(RuntimeError):
    """A page still failing after the last retry; names the page and the resume point."""


def cause_of(error: BaseException) -> str:
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


def retry_after_seconds(error: BaseException | None) -> float | None:
    response = getattr(error, "response", None)
    if response is None or response.status_code != 429:
        return None
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


class CustomersStream(RESTStream):
    name = "customers"
    path = "/api/v1/customers"
    primary_keys = ("id",)
    schema = SCHEMA

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

    # -- retry policy (SDK hooks) ---------------------------------------------------------

    def validate_response(self, response: requests.Response) -> None:
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
        if not isinstance(body, dict) or "data" not in body or "pagination" not in body:
            raise RetriableAPIError("JSON body without data/pagination", response)

    def backoff_wait_generator(self) -> Iterator[float]:
        """Full-jitter exponential waits, capped; 429s wait at least Retry-After, or use a
        4x longer base when the server does not say."""
        base = float(self.config.get("backoff_base_seconds", 1.0))
        cap = float(self.config.get("backoff_max_seconds", 60.0))
        attempt = 0
        error = yield 0.0
        while True:
            hinted = retry_after_seconds(error)
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
            "retrying %s after %s (try %d, waiting %.2fs)",
            self.path,
            cause,
            details.get("tries", 0),
            details.get("wait", 0.0),
        )

    # -- paging and state -----------------------------------------------------------------

    def _fetch(self, page: int, per_page: int, updated_since: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"page": page, "per_page": per_page}
        if updated_since:
            params["updated_since"] = updated_since
        prepared = self.build_prepared_request(
            method="GET",
            url=f"{self.url_base}{self.path}",
            params=params,
            headers=self.http_headers,
        )
        retries_before = sum(self.report.retries_by_cause.values())
        self.report.pages_requested += 1
        try:
            response = self.request_decorator(self._request)(prepared, None)
        except RETRY_EXHAUSTED as error:
            raise PageFailed(
                f"page {page} (per_page={per_page}, updated_since={updated_since}) still failing "
                f"after {self.backoff_max_tries()} tries ({cause_of(error)})"
            ) from None
        if sum(self.report.retries_by_cause.values()) > retries_before:
            self.report.pages_retried += 1
        self.report.pages_succeeded += 1
        return response.json()

    def _checkpoint(self) -> None:
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _page_records(self, body: dict, page: int, seen: set[int]) -> Iterator[dict]:
        for raw in body["data"]:
            record = normalise(raw, page)
            if record["id"] in seen:
                self.report.duplicates_seen += 1
                continue
            seen.add(record["id"])
            self.report.records_emitted += 1
            yield record

    def get_records(self, context: dict | None) -> Iterable[dict]:
        state = self.stream_state
        per_page = int(self.config.get("per_page", 500))
        skip_mode = self.config.get("on_unrecoverable_page", "fail") == "skip"
        seen: set[int] = set()
        carried = list(state.get("skipped_pages", []))
        still_failing: list[dict] = []
        for skipped in carried:  # pages a previous run could not fetch come first
            try:
                body = self._fetch(skipped["page"], skipped["per_page"], skipped["updated_since"])
            except PageFailed as error:
                self.logger.error("%s (skipped again)", error)
                still_failing.append(skipped)
                continue
            self.report.pages_recovered.append(skipped["page"])
            yield from self._page_records(body, skipped["page"], seen)
        state["skipped_pages"] = still_failing
        listing = state.get("listing") or {
            "updated_since": state.get("updated_since") or self.config.get("start_date"),
            "started_at": dt.datetime.now(dt.UTC).isoformat(),
            "next_page": 1,
            "per_page": per_page,
        }
        state["listing"] = listing
        page, total_pages = listing["next_page"], None
        skipped_now: list[dict] = []
        while total_pages is None or page <= total_pages:
            try:
                body = self._fetch(page, listing["per_page"], listing["updated_since"])
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
                    }
                )
                self.report.pages_skipped.append(page)
                listing["next_page"] = page = page + 1
                state["skipped_pages"] = still_failing + skipped_now
                self._checkpoint()
                continue
            total_pages = int(body["pagination"]["total_pages"])
            yield from self._page_records(body, page, seen)
            listing["next_page"] = page = page + 1
            self._checkpoint()
        for skipped in list(skipped_now):  # one more try at the end of the stream
            try:
                body = self._fetch(skipped["page"], skipped["per_page"], skipped["updated_since"])
            except PageFailed as error:
                self.logger.error("%s; kept in STATE for the next run", error)
                continue
            skipped_now.remove(skipped)
            self.report.pages_recovered.append(skipped["page"])
            yield from self._page_records(body, skipped["page"], seen)
        state["skipped_pages"] = still_failing + skipped_now
        state["updated_since"] = listing["started_at"]
        state.pop("listing", None)
        self._checkpoint()
