"""Is this response the page that was asked for? A pure check, run on every page.

A stale cache or a load balancer replaying a response can answer page N with the body of
page N-1. Taken at face value, its records look like duplicates and page N is never
fetched. The check uses what the API says about itself (the echoed page and page size)
and, for a listing ordered by id, that a page starts where the previous one ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tap_legacy_crm.records import record_id


@dataclass(frozen=True)
class PageRequest:
    """What was asked for, and what is known about the page before it."""

    page: int
    per_page: int
    after_id: int | None = None  # last id of the previous page (listings ordered by id)


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def page_mismatch(body: dict[str, Any], asked: PageRequest) -> str | None:
    """Why `body` is not the page in `asked`, or None when nothing says it is wrong."""
    pagination, rows = body["pagination"], body["data"]
    if "page" in pagination and _as_int(pagination["page"]) != asked.page:
        return f"the API answered page {pagination['page']!r} for page {asked.page}"
    if "per_page" in pagination and _as_int(pagination["per_page"]) != asked.per_page:
        return f"the API answered per_page={pagination['per_page']!r} for {asked.per_page}"
    total_pages = _as_int(pagination.get("total_pages"))
    if total_pages is not None and asked.page < total_pages and len(rows) != asked.per_page:
        return (
            f"page {asked.page} of {total_pages} holds {len(rows)} records, "
            f"not per_page={asked.per_page}"
        )
    if asked.after_id is not None and rows:
        first = record_id(rows[0], asked.page)
        if first < asked.after_id:
            return (
                f"page {asked.page} starts at id {first}, before the last id of the page "
                f"before it ({asked.after_id})"
            )
    return None


def unverifiable(body: dict[str, Any], ordered_by_id: bool) -> str | None:
    """Why nothing can check that `body` is the page asked for, or None.

    A replayed or stale page is caught by the echoed page number, by the id order (with
    `listing_order: id`), or at the end of the listing by the API's total. A page of an
    unordered listing with neither echo nor total can be replaced by another page's body
    and nothing would notice: ids are lost and the run would still exit 0.
    """
    pagination = body["pagination"]
    if ordered_by_id or "page" in pagination or pagination.get("total_records") is not None:
        return None
    return "the API sends no pagination.page and no pagination.total_records"
