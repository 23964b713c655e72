"""What can go wrong with a Stripe request, sorted the SDK's way: retriable or fatal."""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError


class RetriableStripeError(RetriableAPIError):
    """A response (or its absence) worth asking again; `cause` keys the run report."""

    def __init__(self, message: str, cause: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.cause = cause
        self.retry_after = retry_after


class ReplayedPage(RetriableStripeError):
    """A page that does not move the cursor or brings ids already seen in this listing."""

    def __init__(self, message: str) -> None:
        super().__init__(message, cause="replayed_page")


class InvalidPage(RetriableStripeError):
    """A 2xx answer that is not the page asked for (shape, window, an empty has_more)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, cause="invalid_page")


class StripeRequestFailed(FatalAPIError):
    """A request failed for good (retries exhausted or a non-retriable answer); the
    message names the method, endpoint, status and tries, never the key."""


class StripeAuthFailed(StripeRequestFailed):
    """The API key was refused; the message names the account, never the key."""
