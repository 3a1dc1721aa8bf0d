"""Reading Slack's refusals: a rate limit and its Retry-After, trouble worth another try, a short name."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError


def retry_after_of(exc: SlackApiError, default: float = 1.0) -> float:
    headers = getattr(exc.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def is_rate_limited(exc: SlackApiError) -> bool:
    return getattr(exc.response, "status_code", None) == 429 or exc.response.get("error") == "ratelimited"


# Slack's own trouble, worth another try; any other refusal will not change on a retry.
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})


def is_transient(exc: Exception) -> bool:
    if isinstance(exc, SlackApiError):
        return exc.response.get("error") in TRANSIENT_ERRORS
    return True


def describe(exc: Exception) -> str:
    return str(exc.response.get("error")) if isinstance(exc, SlackApiError) else type(exc).__name__
