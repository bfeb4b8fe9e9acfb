"""The token cache: one token per client, one fetch in flight for every caller.

Callers may be threads, asyncio tasks or both, on one event loop or several. The first caller
that finds no usable token leads the fetch; the others wait on the same
`concurrent.futures.Future` (threads block on it, tasks await a wrapper of it). The lock
guards a few field reads and writes only; no caller holds it while waiting or fetching.

Timing is on the caller's monotonic clock, from when the token request was sent:
- fresh until `expires_in - margin`, the margin being min(configured, 10% of the lifetime), so
  a 2 s token is reused for 1.8 s instead of being fetched on every call;
- usable until `expires_in` minus 1 s (exp is stamped in whole seconds, rounded down) minus
  2% of it (at most 1 s, for transit): when an early refresh fails the caller keeps the old
  token, and the next refresh attempt waits a quarter of the margin.

After a 429 the client gave up on, no caller asks again before its Retry-After has passed, but
never for longer than MAX_RETRY_AFTER: a server cannot lock an instance out.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Literal

from ._errors import ClientCredentialsError, RateLimitedError
from ._token import MAX_RETRY_AFTER, Token

logger = logging.getLogger("m2m_contract.client")

REFRESH_SHARE = 0.1  # the early-refresh margin never exceeds this share of the lifetime
SKEW_SHARE, SKEW_MAX = 0.02, 1.0  # stop presenting a token this early: it has to reach the API
# Auth0 (and the emulator) stamp exp in whole seconds, rounded down: a token may expire up to
# 1 s before obtained_at + expires_in, so that last second is never safe either.
STAMP_ROUNDING = 1.0

Fetch = Callable[["float | None"], Token]  # argument: None, or seconds the old token has left
AsyncFetch = Callable[["float | None"], Awaitable[Token]]


@dataclass(frozen=True)
class Entry:
    """A cached token with its deadlines precomputed (the cache-hit path only compares)."""

    token: Token
    refresh_at: float
    usable_until: float
    margin: float
    authorization: str


class _Abandoned(Exception):
    """The leading caller went away (cancelled, interrupted): a waiting caller takes over."""


Plan = Literal["use", "lead", "wait", "alone", "quiet"]


class TokenCache:
    """Single-flight token cache (thread-safe and asyncio-safe)."""

    def __init__(self, monotonic: Callable[[], float], margin: float) -> None:
        if margin < 0:
            raise ValueError("refresh_margin must not be negative")
        self._monotonic = monotonic
        self._margin = margin
        self._lock = threading.Lock()
        self._entry: Entry | None = None
        self._flight: Future[Entry] | None = None
        self._flight_thread: int | None = None
        self._next_refresh = float("-inf")
        # After a 429 the client gave up on, no new request before its Retry-After has passed.
        self._quiet_until = float("-inf")

    def fresh(self) -> Entry | None:
        """The cached entry if it needs no refresh; lock-free (one attribute read)."""
        entry = self._entry
        if entry is not None and self._monotonic() < entry.refresh_at:
            return entry
        return None

    def discard(self, token: Token) -> None:
        """Forget `token` (the API rejected it), unless it was already replaced."""
        with self._lock:
            if self._entry is not None and self._entry.token.access_token == token.access_token:
                self._entry = None
                self._next_refresh = float("-inf")

    def clear(self) -> None:
        with self._lock:
            self._entry = None
            self._next_refresh = float("-inf")

    # -- sync and async callers ----------------------------------------------------------

    def get(self, fetch: Fetch) -> Entry:
        while True:
            plan, entry, flight = self._plan(blocking=True)
            if plan == "use":
                assert entry is not None
                return entry
            if plan == "quiet":
                raise self._still_limited()
            if plan == "alone":
                # Called blocking from the event loop thread whose task leads the fetch:
                # waiting would deadlock it, so fetch independently.
                return self._store(fetch(None))
            assert flight is not None
            if plan == "lead":
                try:
                    token = fetch(self._left(entry))
                except BaseException as exc:
                    return self._failed(flight, entry, exc)
                return self._landed(flight, token)
            try:
                return flight.result()
            except _Abandoned:
                continue
            except ClientCredentialsError as exc:
                return self._after_shared_error(exc)

    async def aget(self, fetch: AsyncFetch) -> Entry:
        while True:
            plan, entry, flight = self._plan(blocking=False)
            if plan == "use":
                assert entry is not None
                return entry
            if plan == "quiet":
                raise self._still_limited()
            assert flight is not None
            if plan == "lead":
                try:
                    token = await fetch(self._left(entry))
                except BaseException as exc:
                    return self._failed(flight, entry, exc)
                return self._landed(flight, token)
            try:
                import asyncio  # on first use: sync callers never import it

                return await asyncio.wrap_future(flight)
            except _Abandoned:
                continue
            except ClientCredentialsError as exc:
                return self._after_shared_error(exc)

    # -- steps ---------------------------------------------------------------------------

    def _plan(self, *, blocking: bool) -> tuple[Plan, Entry | None, Future[Entry] | None]:
        now = self._monotonic()
        with self._lock:
            entry = self._entry
            if entry is not None and now < entry.refresh_at:
                return "use", entry, None
            usable = entry if entry is not None and now < entry.usable_until else None
            if self._flight is not None:
                if usable is not None:
                    return "use", usable, None  # someone is refreshing; this one still works
                if blocking and self._flight_thread == threading.get_ident():
                    return "alone", None, None
                return "wait", None, self._flight
            if usable is not None and now < self._next_refresh:
                return "use", usable, None  # an early refresh failed a moment ago
            if usable is None and now < self._quiet_until:
                return "quiet", None, None
            flight: Future[Entry] = Future()
            flight.set_running_or_notify_cancel()  # a waiter's cancellation must not cancel it
            self._flight, self._flight_thread = flight, threading.get_ident()
            return "lead", usable, flight

    def _still_limited(self) -> RateLimitedError:
        left = max(0.0, self._quiet_until - self._monotonic())
        return RateLimitedError(
            f"the token endpoint asked to wait (rate limiting); not asking again for {left:.1f} s",
            retry_after=left,
            attempts=0,
        )

    def _left(self, usable: Entry | None) -> float | None:
        return None if usable is None else max(0.0, usable.usable_until - self._monotonic())

    def _entry_for(self, token: Token) -> Entry:
        margin = min(self._margin, REFRESH_SHARE * token.expires_in)
        skew = STAMP_ROUNDING + min(SKEW_MAX, SKEW_SHARE * token.expires_in)
        usable_until = token.expires_at - skew
        return Entry(
            token,
            min(token.expires_at - margin, usable_until),  # fresh() checks refresh_at only
            usable_until,
            margin,
            token.authorization,
        )

    def _store(self, token: Token) -> Entry:
        entry = self._entry_for(token)
        with self._lock:
            self._entry = entry
            self._next_refresh = float("-inf")
        return entry

    def _landed(self, flight: Future[Entry], token: Token) -> Entry:
        entry = self._entry_for(token)
        with self._lock:
            self._entry = entry
            self._next_refresh = float("-inf")
            self._flight = self._flight_thread = None
        flight.set_result(entry)
        return entry

    def _failed(self, flight: Future[Entry], usable: Entry | None, exc: BaseException) -> Entry:
        """End a flight that raised: keep serving a still-usable token, or re-raise."""
        keep = isinstance(exc, ClientCredentialsError) and usable is not None
        keep = keep and self._monotonic() < usable.usable_until  # type: ignore[union-attr]
        quiet = _quiet_for(exc)
        with self._lock:
            self._flight = self._flight_thread = None
            if not keep and quiet:
                self._quiet_until = self._monotonic() + quiet
            if keep:
                assert usable is not None
                self._next_refresh = self._monotonic() + max(usable.margin / 4, quiet)
        if isinstance(exc, ClientCredentialsError):
            flight.set_exception(exc)
        else:
            flight.set_exception(_Abandoned())
        if keep:
            assert usable is not None
            logger.warning(
                "early token refresh failed (%s); the current token stays in use for %.1f s",
                exc, usable.usable_until - self._monotonic(),
            )
            return usable
        raise exc

    def _after_shared_error(self, exc: ClientCredentialsError) -> Entry:
        """A waiter saw the leader's fetch fail: use a usable token if any, else raise."""
        now = self._monotonic()
        entry = self._entry
        if entry is not None and now < entry.usable_until:
            return entry
        raise exc.clone() from exc.__cause__


def _quiet_for(exc: BaseException) -> float:
    """How long a failure keeps callers from asking again: its Retry-After, 0 to the cap."""
    wait = exc.retry_after if isinstance(exc, RateLimitedError) else None
    if wait is None or math.isnan(wait) or wait <= 0:
        return 0.0
    return min(wait, MAX_RETRY_AFTER)
