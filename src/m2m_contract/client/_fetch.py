"""Fetching one token: POST, read the answer, retry per the policy. Sync and async twins.

Each fetch opens its own short-lived httpx client (fetches are rare: once per token lifetime)
so the auth object owns no connection pool, needs no close() and works on any event loop.
The SSL context is built once and shared, which is what makes a client cheap to open.

The policy's deadline is a total one, on the real monotonic clock: a fetch runs in a
`total_deadline` that its (Async)DeadlineTransport clamps every socket operation to. An async
fetch also runs in an `asyncio.timeout`: at the deadline for a caller's own transport, a little
after it as a backstop for ours (ours ends first, with a timeout httpcore cleans up after; a
cancelled TLS handshake would leak its socket). A caller's own sync transport is bounded per
attempt only, by the httpx timeout, unless it is a `DeadlineTransport`.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import ssl
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from .._secrets import redact
from ._deadline import (
    AsyncDeadlineTransport,
    Deadline,
    DeadlineExceededError,
    DeadlineTransport,
    total_deadline,
)
from ._errors import TokenEndpointUnreachableError
from ._request import TokenRequest
from ._retry import RetryPolicy, give_up
from ._token import Failure, Token, read_answer

logger = logging.getLogger("m2m_contract.client")

Verify = bool | str | Path | ssl.SSLContext
BACKSTOP = 0.25  # s past the deadline at which an async fetch through our transport is cancelled


class _Borrowed(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A caller's transport, used per fetch but never closed by it (the caller owns it)."""

    def __init__(
        self, sync: httpx.BaseTransport | None, asynchronous: httpx.AsyncBaseTransport | None
    ) -> None:
        self._sync, self._async = sync, asynchronous

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._sync is None:
            raise TypeError("this transport is async-only; pass a sync `transport` too")
        return self._sync.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._async is None:
            raise TypeError("this transport is sync-only; pass an `async_transport` too")
        return await self._async.handle_async_request(request)


class Fetcher:
    """Gets one token from the endpoint, retrying as `policy` allows."""

    def __init__(
        self,
        request: TokenRequest,
        policy: RetryPolicy,
        *,
        timeout: float,
        verify: Verify,
        transport: httpx.BaseTransport | None,
        async_transport: httpx.AsyncBaseTransport | None,
        monotonic: Callable[[], float],
        wall: Callable[[], float],
        sleep: Callable[[float], None],
        async_sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.request, self.policy, self.timeout = request, policy, timeout
        self._verify = verify
        self._ssl: ssl.SSLContext | bool | None = None
        self._ssl_lock = threading.Lock()
        self._borrowed = (
            _Borrowed(transport, async_transport)
            if transport is not None or async_transport is not None
            else None
        )
        self._monotonic, self._wall = monotonic, wall
        self._sleep, self._async_sleep = sleep, async_sleep

    # -- the two loops: identical but for `await` (and the async backstop) --------------

    def fetch(self, policy: RetryPolicy | None = None) -> Token:
        policy = policy or self.policy
        headers, body = self.request.build()
        started = self._monotonic()
        with total_deadline(policy.deadline) as limit, self._client() as http:
            attempt = 0
            while True:
                attempt += 1
                sent_at = self._monotonic()
                try:
                    response = http.post(
                        self.request.token_url,
                        content=body,
                        headers=headers,
                        timeout=self._attempt_timeout(started, policy),
                    )
                    outcome = self._read(response, sent_at)
                except httpx.RequestError as exc:
                    outcome = self._no_answer(exc, limit)
                if isinstance(outcome, Token):
                    return outcome
                self._sleep(self._wait_or_raise(outcome, attempt, started, policy))

    async def afetch(self, policy: RetryPolicy | None = None) -> Token:
        policy = policy or self.policy
        started = self._monotonic()
        tries = [0]  # attempts made, for the error if the backstop fires
        grace = 0.0 if self._borrowed is not None else BACKSTOP
        import asyncio  # on first use: sync callers never import it

        backstop = asyncio.timeout(
            policy.deadline + grace if math.isfinite(policy.deadline) else None)
        try:
            async with backstop:
                return await self._aattempts(policy, started, tries)
        except TimeoutError:
            if not backstop.expired():
                raise
            failure = Failure(self._past_deadline(policy.deadline), retryable=False)
            raise give_up(failure, tries[0], self._monotonic() - started) from None

    async def _aattempts(self, policy: RetryPolicy, started: float, tries: list[int]) -> Token:
        headers, body = self.request.build()
        with total_deadline(policy.deadline) as limit:
            async with self._async_client() as http:
                while True:
                    tries[0] += 1
                    sent_at = self._monotonic()
                    try:
                        response = await http.post(
                            self.request.token_url,
                            content=body,
                            headers=headers,
                            timeout=self._attempt_timeout(started, policy),
                        )
                        outcome = self._read(response, sent_at)
                    except httpx.RequestError as exc:
                        outcome = self._no_answer(exc, limit)
                    if isinstance(outcome, Token):
                        return outcome
                    wait = self._wait_or_raise(outcome, tries[0], started, policy)
                    await self._async_sleep(wait)

    # -- shared steps ----------------------------------------------------------------------

    # Redirects are not followed: the body carries the secret and must go nowhere else.
    # With a caller's transport, trust_env is off: proxy variables would mount other transports.

    def _client(self) -> httpx.Client:
        if self._borrowed is not None:
            return httpx.Client(transport=self._borrowed, trust_env=False)
        # Proxy variables are honoured by the transport (httpx ignores them once given one).
        transport = DeadlineTransport(verify=self._transport_verify())
        return httpx.Client(transport=transport, follow_redirects=False)

    def _async_client(self) -> httpx.AsyncClient:
        if self._borrowed is not None:
            return httpx.AsyncClient(transport=self._borrowed, trust_env=False)
        transport = AsyncDeadlineTransport(verify=self._transport_verify())
        return httpx.AsyncClient(transport=transport, follow_redirects=False)

    def _transport_verify(self) -> ssl.SSLContext | bool:
        """The TLS settings for a fetch; to a plain-http token URL (a local emulator) the
        default ones, which the transport then never has to build."""
        if self.request.token_url.startswith("http://") and self._verify is True:
            return True
        return self.ssl_context()

    def ssl_context(self) -> ssl.SSLContext | bool:
        """The verification settings, built once (loading CA files costs tens of ms)."""
        with self._ssl_lock:
            if self._ssl is None:
                self._ssl = build_ssl(self._verify)
            return self._ssl

    def _attempt_timeout(self, started: float, policy: RetryPolicy) -> httpx.Timeout:
        remaining = started + policy.deadline - self._monotonic()
        return httpx.Timeout(max(0.001, min(self.timeout, remaining)))

    def _read(self, response: httpx.Response, sent_at: float) -> Token | Failure:
        outcome = read_answer(
            response.status_code,
            response.headers,
            response.content,
            obtained_at=sent_at,
            wall_now=self._wall(),
            hide=(self.request.client_secret.reveal(),),
        )
        if isinstance(outcome, Token):
            logger.debug(
                "got a token from %s: expires_in %g s, scope %r",
                self.request.token_url, outcome.expires_in, outcome.scope,
            )
        return outcome

    def _no_answer(self, exc: httpx.RequestError, limit: Deadline | None = None) -> Failure:
        past = isinstance(exc, httpx.TimeoutException) and limit is not None and limit.passed
        if past or isinstance(exc, DeadlineExceededError):
            seconds = limit.seconds if limit is not None else self.policy.deadline
            return Failure(self._past_deadline(seconds), retryable=False)
        detail = redact(str(exc) or type(exc).__name__, (self.request.client_secret.reveal(),))
        timed_out = isinstance(exc, httpx.TimeoutException)
        what = "timed out" if timed_out else f"gave no answer ({type(exc).__name__}: {detail})"
        tls = _is_tls_failure(exc)
        hint = "; check ca_bundle/verify" if tls else ""
        # Not chained to `exc`: a transport's message may quote the request, secret included.
        error = TokenEndpointUnreachableError(
            f"the token endpoint {self.request.token_url} {what}{hint}", timed_out=timed_out
        )
        # A certificate that does not verify will not verify on the next attempt either.
        return Failure(error, retryable=not tls)

    def _past_deadline(self, seconds: float) -> TokenEndpointUnreachableError:
        return TokenEndpointUnreachableError(
            f"the token endpoint {self.request.token_url} timed out: the deadline of "
            f"{round(seconds, 2):g} s for the token fetch was reached",
            timed_out=True,
        )

    def _wait_or_raise(
        self, failure: Failure, attempt: int, started: float, policy: RetryPolicy
    ) -> float:
        now = self._monotonic()
        wait = policy.next_wait(failure, attempt, started + policy.deadline - now)
        if wait is None:
            raise give_up(failure, attempt, now - started)
        logger.info(
            "token request attempt %d failed (%s); retrying in %.2f s",
            attempt, failure.error, wait,
        )
        return wait


def build_ssl(verify: Verify) -> ssl.SSLContext | bool:
    """An SSL context from True (system/certifi CAs, SSL_CERT_FILE honoured), a CA bundle
    path, or a ready context; False turns verification off."""
    if isinstance(verify, ssl.SSLContext) or verify is False:
        return verify
    if verify is True:
        return _default_ssl(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    path = Path(verify)
    if not path.is_file():
        raise ValueError(f"CA bundle {str(path)[:200]!r} does not exist or is not a file")
    return ssl.create_default_context(cafile=str(path))


@functools.lru_cache(maxsize=4)
def _default_ssl(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """One default context per process (per SSL_CERT_FILE/DIR): contexts are safe to share."""
    return httpx.create_ssl_context()


def _is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):  # exception chains can be cyclic; a few links are enough
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
