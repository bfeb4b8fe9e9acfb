"""ClientCredentials: an httpx.Auth that gets, caches and presents client-credentials tokens."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

import httpx

from ._cache import Entry, TokenCache
from ._fetch import Fetcher, Verify
from ._request import AuthMethod, BodyEncoding, TokenRequest
from ._retry import RetryPolicy
from ._token import Token

logger = logging.getLogger("m2m_contract.client")

# RFC 6750 §3: the Bearer challenge's error parameter, quoted or not (not error_description).
_INVALID_TOKEN = re.compile(r'(?:^|[\s,])error\s*=\s*"?invalid_token"?(?:$|[\s,])', re.I)


async def _asyncio_sleep(seconds: float) -> None:
    # asyncio is imported on first use: a sync-only caller (a CLI) never pays for it.
    import asyncio

    await asyncio.sleep(seconds)


@runtime_checkable
class ClockLike(Protocol):
    """A clock object such as the emulator's FakeClock."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...


Clock = Callable[[], float] | ClockLike


class ClientCredentials(httpx.Auth):
    """OAuth 2.0 client credentials for httpx, done as the partner document says.

    >>> auth = ClientCredentials("https://tenant.auth0.com/oauth/token", "id", secret,
    ...                          scope=["read:members"])            # doctest: +SKIP
    >>> httpx.get("https://api.example/members", auth=auth)        # doctest: +SKIP

    The token is fetched on first use, cached for this instance, refreshed shortly before it
    expires, and shared by every thread and task using the instance (one fetch at a time).

    Options: `audience` (Auth0 API identifier); `body_encoding` "json" (default) or "form";
    `auth_method` "client_secret_post" (default) or "client_secret_basic"; `refresh_margin`
    (s, default 60, capped at 10% of the token lifetime); `deadline` (s, overall time for one
    token fetch and its retries); `timeout` (s, per HTTP request); `max_attempts`;
    `verify` / `ca_bundle` (TLS trust); `transport` / `async_transport` (custom httpx
    transports for token requests, e.g. the emulator's); `clock` (a monotonic-seconds callable,
    or an object with monotonic() and time()); `sleep` / `async_sleep` (for tests).
    """

    requires_request_body = False  # bodies are never buffered; in-memory ones can be replayed
    requires_response_body = False

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | Iterable[str] | None = None,
        audience: str | None = None,
        body_encoding: BodyEncoding = "json",
        auth_method: AuthMethod = "client_secret_post",
        refresh_margin: float = 60.0,
        deadline: float = 30.0,
        timeout: float = 10.0,
        max_attempts: int = 5,
        backoff_base: float = 0.25,
        backoff_cap: float = 8.0,
        verify: Verify = True,
        ca_bundle: str | Path | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], None] | None = None,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._request = TokenRequest.create(
            token_url,
            client_id,
            client_secret,
            scope=scope,
            audience=audience,
            body_encoding=body_encoding,
            auth_method=auth_method,
        )
        if not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds")
        policy = RetryPolicy(max_attempts, deadline, backoff_base, backoff_cap)
        monotonic, wall = _clocks(clock)
        if ca_bundle is not None:
            if not Path(ca_bundle).is_file():
                raise ValueError(f"ca_bundle {str(ca_bundle)[:200]!r} does not exist")
            verify = ca_bundle
        if transport is None and isinstance(async_transport, httpx.BaseTransport):
            transport = async_transport
        if async_transport is None and isinstance(transport, httpx.AsyncBaseTransport):
            async_transport = transport  # one object serving both, like EmulatorTransport
        self._fetcher = Fetcher(
            self._request,
            policy,
            timeout=timeout,
            verify=verify,
            transport=transport,
            async_transport=async_transport,
            monotonic=monotonic,
            wall=wall,
            sleep=sleep or time.sleep,
            async_sleep=async_sleep or _asyncio_sleep,
        )
        self._cache = TokenCache(monotonic, refresh_margin)

    # -- settings, shown safely ----------------------------------------------------------

    @property
    def token_url(self) -> str:
        return self._request.token_url

    @property
    def client_id(self) -> str:
        return self._request.client_id

    @property
    def scope(self) -> str | None:
        """The normalised scope string sent (None: the parameter is omitted)."""
        return self._request.scope

    @property
    def audience(self) -> str | None:
        return self._request.audience

    def __repr__(self) -> str:
        return (
            f"ClientCredentials(token_url={self.token_url!r}, client_id={self.client_id!r}, "
            f"scope={self.scope!r}, audience={self.audience!r})"
        )

    __str__ = __repr__

    # -- tokens --------------------------------------------------------------------------

    def get_token(self) -> Token:
        """The current token, fetched (once, for all concurrent callers) when needed."""
        return self._entry().token

    async def aget_token(self) -> Token:
        """`get_token` for asyncio code: never blocks the event loop."""
        return (await self._aentry()).token

    def invalidate(self) -> None:
        """Forget the cached token; the next request fetches a new one."""
        self._cache.clear()

    def _entry(self) -> Entry:
        return self._cache.fresh() or self._cache.get(self._fetch)

    async def _aentry(self) -> Entry:
        return self._cache.fresh() or await self._cache.aget(self._afetch)

    def _fetch(self, left: float | None) -> Token:
        return self._fetcher.fetch(self._early_policy(left))

    async def _afetch(self, left: float | None) -> Token:
        return await self._fetcher.afetch(self._early_policy(left))

    def _early_policy(self, left: float | None) -> RetryPolicy | None:
        """While the old token still works, an early refresh gets one attempt, no longer than
        the old token's life; it is tried again on a later call instead of delaying this one."""
        if left is None:
            return None
        policy = self._fetcher.policy
        return RetryPolicy(1, min(policy.deadline, max(left, 0.001)), policy.backoff_base,
                           policy.backoff_cap)

    # -- httpx.Auth ----------------------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        entry = self._entry()
        request.headers["Authorization"] = entry.authorization
        response = yield request
        if self._rejected(response, entry) and _replayable(request):
            entry = self._entry()
            request.headers["Authorization"] = entry.authorization
            response = yield request
            self._rejected(response, entry, replaying=True)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        entry = await self._aentry()
        request.headers["Authorization"] = entry.authorization
        response = yield request
        if self._rejected(response, entry) and _replayable(request):
            entry = await self._aentry()
            request.headers["Authorization"] = entry.authorization
            response = yield request
            self._rejected(response, entry, replaying=True)

    def _rejected(self, response: httpx.Response, used: Entry, *, replaying: bool = False) -> bool:
        """On a 401 invalid_token (RFC 6750 §3.1), forget the token so it is never presented
        again, and say so; the caller replays at most once."""
        if response.status_code != 401:
            return False
        challenge = response.headers.get("www-authenticate", "")
        if not challenge.lower().startswith("bearer") or not _INVALID_TOKEN.search(challenge):
            return False
        self._cache.discard(used.token)
        logger.info(
            "the API rejected the token (401 invalid_token)%s",
            "; the new token too, so the request is not tried again" if replaying
            else "; dropping it (the request is replayed once with a new one if its body "
            "is in memory)",
        )
        return True

    def auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("ClientCredentials works through sync_auth_flow/async_auth_flow")


def _replayable(request: httpx.Request) -> bool:
    """A body already in memory can be sent again; a consumed stream cannot."""
    return isinstance(request.stream, httpx.ByteStream)


def _clocks(clock: Clock | None) -> tuple[Callable[[], float], Callable[[], float]]:
    if clock is None:
        return time.monotonic, time.time
    if isinstance(clock, ClockLike):
        return clock.monotonic, clock.time
    if callable(clock):
        return clock, time.time
    raise TypeError("clock must be a callable returning seconds, or have monotonic() and time()")
