"""Provider retries done here, not inside the SDK, so each one is seen as it happens.

The SDKs retry silently (their ``max_retries`` is 0 here): a rate limit could hold THINK for
minutes with nothing on screen. We retry what they would (connection errors, timeouts, 408,
409, 429, 5xx, or what ``x-should-retry`` says), wait what the server asks (``retry-after-ms``,
``retry-after`` in seconds or as a date) or back off exponentially with jitter, and tell the
hook before and after every wait. Every error text is redacted before it leaves (``redact``).
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, TypeVar

from . import ProviderError, Settings, describe_error

T = TypeVar("T")

RETRY_STATUSES = (408, 409, 429)
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 8.0
RETRY_AFTER_MAX_S = 120.0
"""A server that asks for a longer wait is not retried: planning backs off instead of hanging in THINK."""


@dataclass(frozen=True, slots=True)
class Retry:
    """One retry about to happen: which, of how many, after how long, and why (redacted)."""

    number: int
    of: int
    wait_s: float
    why: str
    asked: bool
    """The server asked for this wait (retry-after), rather than our backoff."""


RetryHook = Callable[[Retry | None], None]
"""Called with a ``Retry`` before each wait, and with None when the wait is over."""


def retry_headers(retries_taken: int) -> dict[str, str]:
    """The SDK's own retry counter, kept right for the server although the SDK no longer retries."""
    return {"x-stainless-retry-count": str(retries_taken)}


def retry_after(headers: Any) -> float | None:
    """The wait a response asks for, in seconds, or None."""
    if headers is None:
        return None
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
    except (TypeError, ValueError):
        pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        return None if parsed is None else float(email.utils.mktime_tz(parsed) - time.time())


def retryable(exc: BaseException) -> bool:
    """What the SDKs themselves would retry (both SDKs' errors share one shape)."""
    if type(exc).__name__ in ("APITimeoutError", "APIConnectionError"):
        return True
    status = getattr(exc, "status_code", None)
    if status is None:
        return False
    response = getattr(exc, "response", None)
    should = response.headers.get("x-should-retry") if response is not None else None
    if should in ("true", "false"):
        return should == "true"
    return status in RETRY_STATUSES or status >= 500


def backoff(retries_taken: int) -> float:
    return min(BACKOFF_FIRST_S * 2.0 ** retries_taken, BACKOFF_MAX_S) * (1 - 0.25 * random.random())


async def with_retries(settings: Settings, attempt: Callable[[int], Awaitable[T]], sdk_error: type[BaseException],
                       hook: RetryHook | None) -> T:
    """``attempt(retries_taken)`` until it answers; a ``ProviderError`` (redacted) when it will not."""
    taken = 0
    while True:
        try:
            return await asyncio.wait_for(attempt(taken), settings.deadline)
        except asyncio.TimeoutError:
            raise ProviderError(f"{settings.name}: no answer within {settings.deadline:g}s") from None
        except sdk_error as exc:
            wait, asked = _wait(exc, taken, settings.max_retries)
            if wait is None:
                raise ProviderError(_final(settings, exc, taken, asked)) from None
            why = describe_error(settings, exc)
        retry = Retry(number=taken + 1, of=settings.max_retries, wait_s=max(0.0, wait), why=why,
                      asked=asked is not None)
        if hook is not None:
            hook(retry)
        try:
            await asyncio.sleep(retry.wait_s)
        finally:
            if hook is not None:
                hook(None)
        taken += 1


def _wait(exc: BaseException, taken: int, max_retries: int) -> tuple[float | None, float | None]:
    """(the wait before the next try or None for no retry, what the server asked for)."""
    response = getattr(exc, "response", None)
    asked = retry_after(response.headers) if response is not None else None
    if taken >= max_retries or not retryable(exc) or (asked is not None and asked > RETRY_AFTER_MAX_S):
        return None, asked
    return (asked if asked is not None and asked > 0 else backoff(taken)), asked


def _final(settings: Settings, exc: BaseException, taken: int, asked: float | None) -> str:
    text = describe_error(settings, exc, taken)
    if asked is not None and asked > RETRY_AFTER_MAX_S and taken < settings.max_retries and retryable(exc):
        text += f" (it asks to wait {asked:.0f}s, more than {RETRY_AFTER_MAX_S:.0f}s: not retried)"
    return text
