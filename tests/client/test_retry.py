"""Retries: 429 after Retry-After, 5xx/408/no answer with jittered backoff, all in a deadline."""

from __future__ import annotations

import dataclasses
import itertools
import random
import socket
import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest

from m2m_contract.client import (
    ClientCredentials,
    RateLimitedError,
    TokenEndpointUnreachableError,
    TokenServerError,
)
from m2m_contract.client._retry import RetryPolicy
from m2m_contract.client._token import Failure, retry_after_seconds
from m2m_contract.emulator import EmulatorServer, Fault, RateLimit, default_tenant

from .conftest import Mode, Rig, run

LIMITED = {"error": "too_many_requests", "error_description": "Too many requests."}
UNAVAILABLE = {"error": "temporarily_unavailable", "error_description": "Service Unavailable"}


def _gaps(rig: Rig) -> list[float]:
    times = [e.at for e in rig.tokens()]
    return [b - a for a, b in itertools.pairwise(times)]


def test_429_waits_for_retry_after_seconds_then_succeeds(rig: Rig, mode: Mode) -> None:
    rig.emu.add_fault(Fault.respond("token", 429, json=LIMITED, headers={"Retry-After": "3"}))
    assert rig.get(rig.auth(), mode).status_code == 200
    assert len(rig.tokens()) == 2
    assert 3 <= rig.sleeps[0] <= 3.1
    assert _gaps(rig)[0] >= 3  # as the emulator saw it


def test_429_honours_an_http_date_retry_after(rig: Rig, mode: Mode) -> None:
    when = formatdate(rig.clock.time() + 4, usegmt=True)
    rig.emu.add_fault(Fault.respond("token", 429, json=LIMITED, headers={"Retry-After": when}))
    rig.token(rig.auth(), mode)
    assert 4 <= rig.sleeps[0] <= 4.1


def test_429_without_retry_after_waits_for_the_rate_limit_reset(rig: Rig, mode: Mode) -> None:
    reset = str(int(rig.clock.time()) + 5)
    rig.emu.add_fault(Fault.respond("token", 429, json=LIMITED, headers={
        "X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}))
    rig.token(rig.auth(), mode)
    assert 5 <= rig.sleeps[0] <= 5.1


def test_429_from_the_emulators_own_rate_limiter_is_waited_out(rig: Rig, mode: Mode) -> None:
    rig.emu.tenant = dataclasses.replace(default_tenant(), rate_limit=RateLimit(1, 0.5))
    rig.token(rig.auth(), mode)  # uses the only request the bucket holds
    second = rig.token(rig.auth(), mode)
    statuses = [e.response.status for e in rig.tokens()]
    assert statuses == [200, 429, 200]
    assert rig.sleeps[0] >= 2 and second.access_token


def test_429_asking_to_wait_past_the_deadline_fails_at_once(rig: Rig, mode: Mode) -> None:
    rig.emu.add_fault(Fault.respond("token", 429, json=LIMITED, headers={
        "Retry-After": "120", "X-RateLimit-Reset": str(int(rig.clock.time()) + 120)}))
    with pytest.raises(RateLimitedError) as caught:
        rig.get(rig.auth(deadline=30), mode)
    error = caught.value
    assert error.retry_after == 120 and error.reset == int(rig.clock.time()) + 120
    assert "rate limiting" in str(error) and "120 s" in str(error)
    assert rig.sleeps == [] and len(rig.tokens()) == 1 and rig.apis() == []


def test_html_429_from_an_edge_proxy_is_retried_after_retry_after(rig: Rig, mode: Mode) -> None:
    rig.emu.add_fault(Fault.html("token", 429, headers={"Retry-After": "1"}))
    rig.token(rig.auth(), mode)
    assert len(rig.tokens()) == 2 and rig.sleeps[0] >= 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_retried_with_backoff(rig: Rig, mode: Mode, status: int) -> None:
    rig.emu.add_fault(Fault.respond("token", status, json=UNAVAILABLE, times=3))
    assert rig.get(rig.auth(), mode).status_code == 200
    assert len(rig.tokens()) == 4
    # equal jitter on 0.25 * 2**n: never at once, never more than the ceiling
    for wait, ceiling in zip(rig.sleeps, (0.25, 0.5, 1.0), strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_503_retry_after_is_honoured_when_longer_than_the_backoff(rig: Rig) -> None:
    rig.emu.add_fault(Fault.respond("token", 503, json=UNAVAILABLE, headers={"Retry-After": "2"}))
    rig.auth().get_token()
    assert rig.sleeps[0] >= 2


def test_dropped_connection_is_retried(rig: Rig, mode: Mode) -> None:
    rig.emu.add_fault(Fault.drop("token", times=2))
    assert rig.get(rig.auth(), mode).status_code == 200
    assert len(rig.tokens()) == 3 and len(rig.sleeps) == 2


def test_retries_stop_after_max_attempts(rig: Rig, mode: Mode) -> None:
    rig.emu.add_fault(Fault.respond("token", 503, json=UNAVAILABLE, times=None))
    with pytest.raises(TokenServerError, match="gave up after 5 attempts") as caught:
        rig.get(rig.auth(), mode)
    assert caught.value.status == 503 and caught.value.attempts == 5
    assert len(rig.tokens()) == 5 and rig.apis() == []


def test_retries_stop_at_the_deadline(rig: Rig, mode: Mode) -> None:
    rig.emu.add_fault(Fault.respond("token", 503, json=UNAVAILABLE, times=None))
    with pytest.raises(TokenServerError):
        rig.token(rig.auth(deadline=1.0, max_attempts=100), mode)
    assert sum(rig.sleeps) < 1.0
    assert 2 <= len(rig.tokens()) <= 4


@pytest.mark.parametrize("status", [400, 401, 403])
def test_refusals_are_never_retried(rig: Rig, mode: Mode, status: int) -> None:
    rig.emu.add_fault(Fault.respond("token", status, json={"error": "access_denied"},
                                    times=None))
    with pytest.raises(Exception, match=str(status)):
        rig.token(rig.auth(), mode)
    assert len(rig.tokens()) == 1 and rig.sleeps == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_endpoint_is_a_typed_error_after_bounded_retries(mode: Mode) -> None:
    sleeps: list[float] = []

    async def asleep(seconds: float) -> None:
        sleeps.append(seconds)

    auth = ClientCredentials(f"http://127.0.0.1:{_closed_port()}/oauth/token", "id", "secret",
                             max_attempts=3, sleep=sleeps.append, async_sleep=asleep)
    with pytest.raises(TokenEndpointUnreachableError, match=r"gave no answer.*ConnectError"):
        auth.get_token() if mode == "sync" else run(auth.aget_token())
    assert len(sleeps) == 2


@pytest.fixture(scope="module")
def slow_server() -> Iterator[EmulatorServer]:
    """A token endpoint that answers after 0.6 s (shared: a server's shutdown waits for it)."""
    with EmulatorServer() as server:
        server.emulator.add_fault(Fault.delayed("token", 0.6, times=None))
        yield server


def test_slow_endpoint_times_out_within_the_deadline(
    slow_server: EmulatorServer, mode: Mode
) -> None:
    emu = slow_server.emulator
    before = len(emu.journal.token_requests())
    auth = ClientCredentials(emu.token_url, "demo-client", "demo-secret",
                             timeout=0.15, deadline=0.45, backoff_base=0.05)
    started = time.monotonic()
    with pytest.raises(TokenEndpointUnreachableError, match="timed out") as caught:
        auth.get_token() if mode == "sync" else run(auth.aget_token())
    assert time.monotonic() - started < 0.6
    assert caught.value.timed_out
    assert len(emu.journal.token_requests()) - before >= 2  # it did retry


def test_untrusted_certificate_fails_at_once_with_a_hint(m2m_tls_server: EmulatorServer) -> None:
    sleeps: list[float] = []
    auth = ClientCredentials(m2m_tls_server.emulator.token_url, "demo-client", "demo-secret",
                             sleep=sleeps.append)
    with pytest.raises(TokenEndpointUnreachableError, match="ca_bundle"):
        auth.get_token()
    assert sleeps == []  # a certificate that does not verify will not verify on retry


# -- the policy and header parsing, as pure functions ----------------------------------------

def test_backoff_doubles_with_equal_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(backoff_base=0.25, backoff_cap=8.0)
    rng = random.Random(7)
    for attempt in range(1, 12):
        ceiling = min(8.0, 0.25 * 2 ** (attempt - 1))
        for _ in range(50):
            assert ceiling / 2 <= policy.backoff(attempt, rng) <= ceiling


def test_no_wait_is_started_that_would_end_past_the_deadline() -> None:
    policy = RetryPolicy()
    failure = Failure(TokenServerError("x"), retryable=True, wait=5.0)
    assert policy.next_wait(failure, 1, remaining=10.0) is not None
    assert policy.next_wait(failure, 1, remaining=5.0) is None
    assert policy.next_wait(failure, 5, remaining=100.0) is None  # max attempts
    assert policy.next_wait(dataclasses.replace(failure, retryable=False), 1, 100.0) is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), (" 7 ", 7.0), ("0", 0.0), ("1.5", 1.5),
     ("Thu, 01 Jan 1970 00:01:40 GMT", 40.0), ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),
     ("soon", None), ("-5", None), (None, None)],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    header: str | None, seconds: float | None
) -> None:
    assert retry_after_seconds(header, wall_now=60.0) == seconds


def test_after_giving_up_on_a_429_no_request_is_sent_before_retry_after(
    rig: Rig, mode: Mode
) -> None:
    rig.emu.add_fault(Fault.respond("token", 429, json=LIMITED, headers={"Retry-After": "120"}))
    auth = rig.auth(deadline=30)
    with pytest.raises(RateLimitedError):
        rig.token(auth, mode)
    rig.clock.advance(60)
    with pytest.raises(RateLimitedError) as caught:
        rig.token(auth, mode)
    assert caught.value.retry_after == pytest.approx(60)
    assert len(rig.tokens()) == 1  # the second call asked nobody
    rig.clock.advance(60)
    assert rig.token(auth, mode).access_token in rig.issued()
    assert len(rig.tokens()) == 2
