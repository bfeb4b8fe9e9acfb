"""Total deadlines for httpx requests: the whole exchange, not each wait for the network.

httpx timeouts bound every single wait (a connect, one read, one write), so a server that
sends a byte every half second never trips a 3 s read timeout and can hold a request for ever.
Here a `Deadline` is a point on the monotonic clock. Inside `total_deadline(seconds)`, or for
each request sent through a transport made with `deadline=`, every connect, TLS handshake,
write and read of a `DeadlineTransport` / `AsyncDeadlineTransport` gets at most the time
left; when it runs out the request fails with `DeadlineExceededError` (an
`httpx.TimeoutException`). The deadline is kept in a context variable: per thread, per task.

httpx 0.28's transports take no httpcore network backend (encode/httpx#3749 proposes one), so
these are built on httpcore's public API: a connection pool whose network backend clamps every
timeout, plus the request/response/exception conversion httpx's own transport does. In async
code this is better than cancelling from outside: a cancelled TLS handshake leaks its socket
in httpcore 1.0 (`start_tls` closes it on `Exception` only), a timeout does not.

Limits: name resolution in sync code is the system resolver's and cannot be interrupted; a
name with several addresses gets the time left for each connection attempt; a write is
clamped per 64 KiB piece.
"""

from __future__ import annotations

import functools
import math
import ssl
import threading
import time
import urllib.request
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

import httpcore
import httpx

__all__ = [
    "AsyncDeadlineTransport",
    "Deadline",
    "DeadlineExceededError",
    "DeadlineTransport",
    "deadline_client",
    "total_deadline",
]

T = TypeVar("T")
Pool = TypeVar("Pool", httpcore.ConnectionPool, httpcore.AsyncConnectionPool)

# The same defaults as httpx.Client, which keeps them private.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20,
                              keepalive_expiry=5.0)
_WRITE_PIECE = 64 * 1024
_CURRENT: ContextVar[Deadline | None] = ContextVar("m2m_contract_deadline", default=None)


class DeadlineExceededError(httpx.TimeoutException):
    """A request through a deadline transport did not complete before its total deadline."""


class Deadline:
    """A point on the monotonic clock by which every socket operation must have ended.

    Never later than the deadline it is nested in. `seconds` is the budget it gave when made;
    `reached` turns true once an operation was cut short by it.
    """

    __slots__ = ("_outer", "at", "reached", "seconds")

    def __init__(self, seconds: float, outer: Deadline | None = None) -> None:
        if not seconds > 0:
            raise ValueError("a deadline must be a positive number of seconds")
        now = time.monotonic()
        self.at = now + seconds
        if outer is not None and outer.at < self.at:
            self.at = outer.at
        self.seconds = max(0.0, self.at - now)
        self.reached = False
        self._outer = outer

    def left(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - time.monotonic()

    @property
    def passed(self) -> bool:
        return self.reached or time.monotonic() >= self.at

    def _reach(self) -> None:
        # An enclosing deadline at the same instant is the one that really ran out.
        limit: Deadline | None = self
        while limit is not None:
            if limit.at <= self.at:
                limit.reached = True
            limit = limit._outer

    def __repr__(self) -> str:
        return f"Deadline(seconds={self.seconds:.3f}, left={self.left():.3f})"


@contextmanager
def total_deadline(seconds: float) -> Iterator[Deadline]:
    """Within the block (sync or async code), requests through a deadline transport end within
    `seconds` in all, or by an enclosing deadline if that is sooner."""
    limit = Deadline(seconds, _CURRENT.get())
    token = _CURRENT.set(limit)
    try:
        yield limit
    finally:
        _CURRENT.reset(token)


def _entered(limit: Deadline | None) -> AbstractContextManager[Any]:
    if limit is None or _CURRENT.get() is limit:
        return nullcontext()
    return _use(limit)


@contextmanager
def _use(limit: Deadline) -> Iterator[None]:
    token = _CURRENT.set(limit)
    try:
        yield
    finally:
        _CURRENT.reset(token)


# -- the clamp: every network operation gets min(its own timeout, the time left) -------------


def _bound(
    timeout: float | None, expired: type[httpcore.TimeoutException]
) -> tuple[float | None, Deadline | None]:
    """The timeout to use, and the deadline if it is what sets it (None: the timeout does)."""
    limit = _CURRENT.get()
    if limit is None:
        return timeout, None
    left = limit.left()
    if left <= 0:
        limit._reach()
        raise expired("the deadline was reached")
    if (timeout is not None and timeout <= left) or math.isinf(left):
        return timeout, None  # its own timeout ends first (an infinite deadline never does)
    return left, limit


def _within(
    operation: Callable[[float | None], T],
    timeout: float | None,
    expired: type[httpcore.TimeoutException],
) -> T:
    bounded, limit = _bound(timeout, expired)
    try:
        return operation(bounded)
    except httpcore.TimeoutException:
        if limit is not None:
            limit._reach()
        raise


async def _awithin(
    operation: Callable[[float | None], Awaitable[T]],
    timeout: float | None,
    expired: type[httpcore.TimeoutException],
) -> T:
    bounded, limit = _bound(timeout, expired)
    try:
        return await operation(bounded)
    except httpcore.TimeoutException:
        if limit is not None:
            limit._reach()
        raise


def _pieces(buffer: bytes) -> Iterator[bytes]:
    # httpcore sends one buffer in a loop under one timeout; pieces re-check the time left.
    for start in range(0, len(buffer), _WRITE_PIECE):
        yield buffer[start : start + _WRITE_PIECE]


class _ClampedStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _within(functools.partial(self._stream.read, max_bytes), timeout,
                       httpcore.ReadTimeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for piece in _pieces(buffer):
            _within(functools.partial(self._stream.write, piece), timeout, httpcore.WriteTimeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        tls = _within(functools.partial(self._stream.start_tls, ssl_context, server_hostname),
                      timeout, httpcore.ConnectTimeout)
        return _ClampedStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _AsyncClampedStream(httpcore.AsyncNetworkStream):
    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await _awithin(functools.partial(self._stream.read, max_bytes), timeout,
                              httpcore.ReadTimeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for piece in _pieces(buffer):
            await _awithin(functools.partial(self._stream.write, piece), timeout,
                           httpcore.WriteTimeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        tls = await _awithin(
            functools.partial(self._stream.start_tls, ssl_context, server_hostname),
            timeout, httpcore.ConnectTimeout)
        return _AsyncClampedStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _ClampedBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        def connect(bounded: float | None) -> httpcore.NetworkStream:
            return self._backend.connect_tcp(host, port, bounded, local_address, socket_options)

        return _ClampedStream(_within(connect, timeout, httpcore.ConnectTimeout))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        def connect(bounded: float | None) -> httpcore.NetworkStream:
            return self._backend.connect_unix_socket(path, bounded, socket_options)

        return _ClampedStream(_within(connect, timeout, httpcore.ConnectTimeout))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncClampedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()  # asyncio or trio, through anyio

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        def connect(bounded: float | None) -> Awaitable[httpcore.AsyncNetworkStream]:
            return self._backend.connect_tcp(host, port, bounded, local_address, socket_options)

        return _AsyncClampedStream(await _awithin(connect, timeout, httpcore.ConnectTimeout))

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        def connect(bounded: float | None) -> Awaitable[httpcore.AsyncNetworkStream]:
            return self._backend.connect_unix_socket(path, bounded, socket_options)

        return _AsyncClampedStream(await _awithin(connect, timeout, httpcore.ConnectTimeout))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


# -- httpx <-> httpcore ----------------------------------------------------------------------

# httpcore's exceptions and the httpx ones they stand for (httpx keeps its own table private;
# tests/client/test_deadline.py checks that this one matches it).
EXCEPTIONS: Mapping[type[Exception], type[httpx.TransportError]] = {
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
}


@contextmanager
def _mapped(limit: Deadline | None) -> Iterator[None]:
    """httpcore errors as httpx ones; a timeout the deadline caused as DeadlineExceededError."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, httpcore.TimeoutException) and limit is not None and limit.passed:
            raise DeadlineExceededError(
                f"no complete answer before the deadline ({_shown(limit.seconds)} s) was reached"
            ) from exc
        target: type[httpx.TransportError] | None = None
        for source, candidate in EXCEPTIONS.items():
            if isinstance(exc, source) and (target is None or issubclass(candidate, target)):
                target = candidate  # the most specific match
        if target is None:
            raise
        raise target(str(exc)) from exc


def _shown(seconds: float) -> str:
    return f"{round(seconds, 2):g}"


def _core_url(url: httpx.URL) -> httpcore.URL:
    return httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                        target=url.raw_path)


def _core_request(request: httpx.Request) -> httpcore.Request:
    return httpcore.Request(
        method=request.method,
        url=_core_url(request.url),
        headers=request.headers.raw,
        content=request.stream,  # a SyncByteStream or an AsyncByteStream: both iterable
        extensions=request.extensions,
    )


class _Body(httpx.SyncByteStream):
    """A response body, read under its request's deadline."""

    def __init__(self, stream: Iterable[bytes], limit: Deadline | None) -> None:
        self._stream, self._limit = stream, limit

    def __iter__(self) -> Iterator[bytes]:
        parts = iter(self._stream)
        while True:
            with _entered(self._limit), _mapped(self._limit):
                part = next(parts, None)
            if part is None:
                return
            yield part

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            with _mapped(None):
                close()


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes], limit: Deadline | None) -> None:
        self._stream, self._limit = stream, limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        parts = aiter(self._stream)
        while True:
            with _entered(self._limit), _mapped(self._limit):
                part = await anext(parts, None)
            if part is None:
                return
            yield part

    async def aclose(self) -> None:
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            with _mapped(None):
                await aclose()


# -- the transports --------------------------------------------------------------------------


class _Pools(Generic[Pool]):
    """What the two transports share: settings, proxy choice, one pool per proxy."""

    def __init__(
        self,
        deadline: float | None,
        verify: ssl.SSLContext | bool,
        trust_env: bool,
        limits: httpx.Limits,
        proxy: str | httpx.Proxy | None,
    ) -> None:
        if deadline is not None and not deadline > 0:
            raise ValueError("deadline must be a positive number of seconds")
        self._deadline = deadline
        # Built on first use by an https pool: loading CA certificates costs tens of ms, and a
        # plain-http caller (the emulator on loopback) never needs it.
        self._verify, self._trust_env = verify, trust_env
        self._ssl = verify if isinstance(verify, ssl.SSLContext) else None
        self._limits = limits
        self._proxy = httpx.Proxy(proxy) if isinstance(proxy, str) else proxy
        self._env = urllib.request.getproxies() if trust_env and proxy is None else {}
        self._pools: dict[tuple[str | None, bool], Pool] = {}
        self._lock = threading.Lock()

    def _scope(self) -> AbstractContextManager[Deadline | None]:
        """The request's deadline: its own (within any enclosing one), or the enclosing one."""
        if self._deadline is None:
            return nullcontext(_CURRENT.get())
        return total_deadline(self._deadline)

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context(verify=self._verify, trust_env=self._trust_env)
        return self._ssl

    def _pool_for(self, url: httpx.URL, make: Callable[..., Pool]) -> Pool:
        proxy = self._proxy_for(url)
        tls = url.scheme == "https" or (proxy is not None and proxy.url.scheme == "https")
        key = (None if proxy is None else str(proxy.url), tls)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = make(
                    ssl_context=self._context() if tls else None,
                    proxy=None if proxy is None else _core_proxy(proxy),
                    max_connections=self._limits.max_connections,
                    max_keepalive_connections=self._limits.max_keepalive_connections,
                    keepalive_expiry=self._limits.keepalive_expiry,
                )
            return pool

    def _proxy_for(self, url: httpx.URL) -> httpx.Proxy | None:
        if self._proxy is not None or not self._env:
            return self._proxy
        chosen = self._env.get(url.scheme) or self._env.get("all")
        if not chosen or urllib.request.proxy_bypass(url.host):
            return None
        return httpx.Proxy(chosen if "://" in chosen else f"http://{chosen}")

    def _taken(self) -> list[Pool]:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        return pools


def _core_proxy(proxy: httpx.Proxy) -> httpcore.Proxy:
    return httpcore.Proxy(url=_core_url(proxy.url), auth=proxy.raw_auth,
                          headers=proxy.headers.raw, ssl_context=proxy.ssl_context)


class DeadlineTransport(_Pools[httpcore.ConnectionPool], httpx.BaseTransport):
    """An httpx transport whose every request, response body included, ends within a total
    deadline: `deadline` seconds per request, and any enclosing `total_deadline`.

    Like `httpx.HTTPTransport(verify=..., limits=..., proxy=...)`, HTTP/1.1 only. With
    `trust_env` (default), HTTP_PROXY/HTTPS_PROXY/ALL_PROXY apply, NO_PROXY read as the
    standard library reads it, unless `proxy` is given.
    """

    def __init__(
        self,
        deadline: float | None = None,
        *,
        verify: ssl.SSLContext | bool = True,
        trust_env: bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        proxy: str | httpx.Proxy | None = None,
    ) -> None:
        super().__init__(deadline, verify, trust_env, limits, proxy)
        self._backend = _ClampedBackend()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        make = functools.partial(httpcore.ConnectionPool, network_backend=self._backend)
        with self._scope() as limit, _mapped(limit):
            answer = self._pool_for(request.url, make).handle_request(_core_request(request))
        assert isinstance(answer.stream, Iterable)
        return httpx.Response(status_code=answer.status, headers=answer.headers,
                              stream=_Body(answer.stream, limit), extensions=answer.extensions)

    def close(self) -> None:
        for pool in self._taken():
            pool.close()


class AsyncDeadlineTransport(_Pools[httpcore.AsyncConnectionPool], httpx.AsyncBaseTransport):
    """`DeadlineTransport` for `httpx.AsyncClient` (asyncio or trio)."""

    def __init__(
        self,
        deadline: float | None = None,
        *,
        verify: ssl.SSLContext | bool = True,
        trust_env: bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        proxy: str | httpx.Proxy | None = None,
    ) -> None:
        super().__init__(deadline, verify, trust_env, limits, proxy)
        self._backend = _AsyncClampedBackend()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        make = functools.partial(httpcore.AsyncConnectionPool, network_backend=self._backend)
        with self._scope() as limit, _mapped(limit):
            pool = self._pool_for(request.url, make)
            answer = await pool.handle_async_request(_core_request(request))
        assert isinstance(answer.stream, AsyncIterable)
        return httpx.Response(status_code=answer.status, headers=answer.headers,
                              stream=_AsyncBody(answer.stream, limit),
                              extensions=answer.extensions)

    async def aclose(self) -> None:
        for pool in self._taken():
            await pool.aclose()


def deadline_client(
    deadline: float,
    *,
    verify: ssl.SSLContext | bool = True,
    trust_env: bool = True,
    limits: httpx.Limits = DEFAULT_LIMITS,
    proxy: str | httpx.Proxy | None = None,
    **options: Any,
) -> httpx.Client:
    """An `httpx.Client` in which every request gets `deadline` seconds in all (connect, TLS,
    sending, the answer and its body); past it the request raises `DeadlineExceededError`.

    `options` go to `httpx.Client` (`auth`, `headers`, `timeout` -- default: the deadline --,
    `follow_redirects`...); each redirect hop is a request of its own. A token fetch by a
    `ClientCredentials` auth runs before the request and keeps its own deadline.
    """
    for taken in ("transport", "mounts"):
        if taken in options:
            raise TypeError(f"deadline_client() builds its own transport; {taken}= is not taken")
    if not (deadline > 0 and math.isfinite(deadline)):
        raise ValueError("deadline must be a positive, finite number of seconds")
    options.setdefault("timeout", deadline)
    transport = DeadlineTransport(deadline, verify=verify, trust_env=trust_env, limits=limits,
                                  proxy=proxy)
    return httpx.Client(transport=transport, trust_env=trust_env, **options)
