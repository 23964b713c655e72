"""The counts a run must reconcile before it may exit 0. Pure functions.

Two equations: every record received on an accepted page is emitted, dropped as a
duplicate, or was delivered by an earlier run of the same listing; and the distinct ids
delivered for a listing equal the API's own count of it (`pagination.total_records`),
except for what skipped pages or a listing that shrank while it was read can explain.
"""

from __future__ import annotations


def run_difference(
    received: int, emitted: int, duplicates: int, already_delivered: int
) -> str | None:
    """A message when some received record is in no bucket (a bug in the tap), else None."""
    accounted = emitted + duplicates + already_delivered
    if received == accounted:
        return None
    return (
        f"records received ({received}) != emitted ({emitted}) + duplicates dropped "
        f"({duplicates}) + delivered by an earlier run ({already_delivered})"
    )


def listing_difference(
    distinct_emitted: int,
    api_total: int | None,
    api_total_max: int | None,
    skipped_rows_bound: int = 0,
) -> str | None:
    """A message when the ids delivered for a listing and the API's total disagree beyond
    what is explained, else None. Without an API total there is nothing to compare."""
    if api_total is None:
        return None
    missing = api_total - distinct_emitted
    if missing > skipped_rows_bound:
        return (
            f"the API reports {api_total} customers in this listing but {distinct_emitted} "
            f"distinct ids were delivered ({missing - skipped_rows_bound} unexplained"
            + (
                f"; skipped pages explain at most {skipped_rows_bound}"
                if skipped_rows_bound
                else ""
            )
            + ")"
        )
    shrunk = max(0, (api_total_max or api_total) - api_total)
    if -missing > shrunk:
        return (
            f"the API reports {api_total} customers in this listing but {distinct_emitted} "
            f"distinct ids were delivered ({-missing - shrunk} more than the API ever counted)"
        )
    return None
