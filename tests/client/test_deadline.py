"""The deadline is total: a server that drips or stalls cannot hold a request past it.

httpx's timeouts bound each wait for the network; these servers (on loopback, slow_servers.py)
send a byte every 0.5 s, so with a 30 s per-read timeout only a total deadline can stop them.
Timings are asserted as bounds: not before the deadline, and less than a second after it.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from m2m_contract.client import (
    AsyncDeadlineTransport,
    ClientCredentials,
    DeadlineExceededError,
    DeadlineTransport,
    Token,
    TokenEndpointUnreachableError,
    deadline_client,
    total_deadline,
)
from m2m_contract.client._deadline import EXCEPTIONS
from m2m_contract.emulator import EmulatorServer

from .conftest import SECRET, Mode, run, within
from .slow_servers import Behaviour, SlowServer

DEADLINE = 1.5
SLACK = 1.0  # the task's bound: failure within deadline + 1 s
PATIENT = 30.0  # per-read/write timeout: never the thing that ends these requests


def _fetch(auth: ClientCredentials, mode: Mode) -> Token:
    return auth.get_token() if mode == "sync" else run(auth.aget_token())


def _timed(work: Callable[[], object], budget: float) -> tuple[BaseException, float]:
    """Run `work` (in a thread, failing the test on a hang); return what it raised and when."""
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        within(budget + 5, work)
    return caught.value, time.monotonic() - started


def _auth(url: str, **options: object) -> ClientCredentials:
    return ClientCredentials(f"{url}/oauth/token", "demo-client", SECRET, timeout=PATIENT,
                             **options)  # type: ignore[arg-type]


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    yield


# -- the token fetch -------------------------------------------------------------------------

@pytest.mark.parametrize("behaviour", ["drip_headers", "drip_body", "silent"])
def test_token_fetch_fails_at_its_deadline_when_the_server_drips_or_stalls(
    behaviour: Behaviour, mode: Mode
) -> None:
    with SlowServer(behaviour) as server:
        auth = _auth(server.url, deadline=DEADLINE)
        error, elapsed = _timed(lambda: _fetch(auth, mode), DEADLINE)
    assert isinstance(error, TokenEndpointUnreachableError), repr(error)
    assert error.timed_out and error.attempts == 1
    assert "deadline of 1.5 s for the token fetch was reached" in str(error)
    assert SECRET not in str(error) and SECRET not in repr(error)
    assert DEADLINE - 0.05 <= elapsed < DEADLINE + SLACK
    if behaviour != "silent":
        assert server.bytes_sent >= 2  # it kept dripping: no single read ever timed out


def test_tls_handshake_that_never_completes_is_cut_at_the_deadline(mode: Mode) -> None:
    with SlowServer("silent") as server:
        https = server.url.replace("http://", "https://")
        auth = _auth(https, deadline=DEADLINE)
        error, elapsed = _timed(lambda: _fetch(auth, mode), DEADLINE)
    assert isinstance(error, TokenEndpointUnreachableError) and error.timed_out, repr(error)
    assert "deadline" in str(error)
    assert DEADLINE - 0.05 <= elapsed < DEADLINE + SLACK


def test_the_deadline_spans_every_retry_not_each_attempt(mode: Mode) -> None:
    with SlowServer("503_then_drip") as server:
        auth = _auth(server.url, deadline=DEADLINE)
        error, elapsed = _timed(lambda: _fetch(auth, mode), DEADLINE)
        connections = server.connections
    assert isinstance(error, TokenEndpointUnreachableError) and error.timed_out, repr(error)
    assert error.attempts == 2 and "gave up after 2 attempts" in str(error)
    assert connections == 2
    assert DEADLINE - 0.05 <= elapsed < DEADLINE + SLACK


def test_async_fetch_through_a_callers_own_transport_is_cancelled_at_the_deadline() -> None:
    async def never(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(60)
        return httpx.Response(500)

    auth = ClientCredentials("https://tenant.example/oauth/token", "demo-client", SECRET,
                             async_transport=httpx.MockTransport(never), deadline=DEADLINE)
    error, elapsed = _timed(lambda: run(auth.aget_token()), DEADLINE)
    assert isinstance(error, TokenEndpointUnreachableError) and error.timed_out, repr(error)
    assert "deadline of 1.5 s for the token fetch was reached" in str(error)
    assert DEADLINE - 0.05 <= elapsed < DEADLINE + SLACK


def test_an_enclosing_total_deadline_bounds_a_longer_token_deadline() -> None:
    with SlowServer("drip_headers") as server:
        auth = _auth(server.url, deadline=30)

        def fetch() -> Token:
            with total_deadline(1.0):
                return auth.get_token()

        error, elapsed = _timed(fetch, 1.0)
    assert isinstance(error, TokenEndpointUnreachableError) and error.timed_out, repr(error)
    assert "deadline of 1 s" in str(error)
    assert 0.95 <= elapsed < 1.0 + SLACK


def test_token_over_tls_through_the_deadline_transport(m2m_tls_server: EmulatorServer) -> None:
    auth = ClientCredentials(m2m_tls_server.emulator.token_url, "demo-client", SECRET,
                             ca_bundle=m2m_tls_server.ca_bundle, deadline=5)
    assert auth.get_token().access_token
    assert len(m2m_tls_server.emulator.journal.token_requests()) == 1


def test_proxy_variables_still_route_the_token_fetch(
    no_proxy_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = b'{"access_token":"abc","token_type":"Bearer","expires_in":60}'
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
              + str(len(token)).encode() + b"\r\n\r\n" + token)
    with SlowServer("answer", answer=answer) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        auth = ClientCredentials("http://127.0.0.1:9/oauth/token", "demo-client", SECRET)
        assert auth.get_token().access_token == "abc"
    assert proxy.request_lines == [b"POST http://127.0.0.1:9/oauth/token HTTP/1.1"]


def test_no_proxy_sends_the_token_fetch_direct(
    no_proxy_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SlowServer("answer", answer=b"") as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        auth = ClientCredentials("http://127.0.0.1:9/oauth/token", "demo-client", SECRET,
                                 max_attempts=1)
        with pytest.raises(TokenEndpointUnreachableError, match="ConnectError"):
            auth.get_token()
    assert proxy.connections == 0


# -- one API request: deadline_client --------------------------------------------------------

@pytest.mark.parametrize("behaviour", ["drip_headers", "drip_body", "silent"])
def test_deadline_client_request_fails_at_its_deadline(behaviour: Behaviour) -> None:
    with SlowServer(behaviour) as server, deadline_client(DEADLINE, timeout=PATIENT) as http:
        error, elapsed = _timed(lambda: http.get(f"{server.url}/api/members"), DEADLINE)
    assert isinstance(error, DeadlineExceededError), repr(error)
    assert isinstance(error, httpx.TimeoutException)
    assert "deadline (1.5 s) was reached" in str(error)
    assert DEADLINE - 0.05 <= elapsed < DEADLINE + SLACK


def test_deadline_client_bounds_an_upload_the_server_never_reads() -> None:
    body = b"x" * (64 * 1024 * 1024)  # more than loopback socket buffers hold
    with SlowServer("deaf") as server, deadline_client(DEADLINE, timeout=PATIENT) as http:
        error, elapsed = _timed(lambda: http.post(server.url, content=body), DEADLINE)
    assert isinstance(error, DeadlineExceededError), repr(error)
    assert DEADLINE - 0.05 <= elapsed < DEADLINE + SLACK


def test_deadline_client_deadline_is_per_request(m2m_server: EmulatorServer) -> None:
    emu = m2m_server.emulator
    auth = ClientCredentials(emu.token_url, "demo-client", SECRET, scope="read:members")
    with deadline_client(5.0, auth=auth) as http:
        first = http.get(emu.api_url)
        second = http.get(emu.api_url)
    assert (first.status_code, second.status_code) == (200, 200)
    assert len(emu.journal.api_requests()) == 2


def test_deadline_client_over_tls_trusts_the_given_context(m2m_tls_server: EmulatorServer) -> None:
    emu = m2m_tls_server.emulator
    trust = ssl.create_default_context(cafile=str(m2m_tls_server.ca_bundle))
    auth = ClientCredentials(emu.token_url, "demo-client", SECRET, scope="read:members",
                             verify=trust)
    with deadline_client(5.0, auth=auth, verify=trust) as http:
        assert http.get(emu.api_url).status_code == 200
    with deadline_client(5.0) as untrusting, pytest.raises(httpx.ConnectError):
        untrusting.get(emu.api_url)


def test_deadline_client_refuses_a_transport_of_its_own() -> None:
    with pytest.raises(TypeError, match="transport"):
        deadline_client(1.0, transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    with pytest.raises(ValueError, match="positive"):
        deadline_client(0)
    with pytest.raises(ValueError, match="positive"):
        DeadlineTransport(float("nan"))


def test_total_deadline_bounds_a_client_with_a_longer_deadline() -> None:
    with SlowServer("drip_body") as server, deadline_client(30, timeout=PATIENT) as http:

        def get() -> httpx.Response:
            with total_deadline(1.0):
                return http.get(server.url)

        error, elapsed = _timed(get, 1.0)
    assert isinstance(error, DeadlineExceededError), repr(error)
    assert 0.95 <= elapsed < 1.0 + SLACK


@pytest.mark.parametrize("behaviour", ["drip_headers", "drip_body"])
def test_async_deadline_transport_request_fails_at_its_deadline(behaviour: Behaviour) -> None:
    async def get(url: str) -> httpx.Response:
        transport = AsyncDeadlineTransport(DEADLINE)
        async with httpx.AsyncClient(transport=transport, timeout=PATIENT) as http:
            return await http.get(url)

    with SlowServer(behaviour) as server:
        error, elapsed = _timed(lambda: run(get(server.url)), DEADLINE)
    assert isinstance(error, DeadlineExceededError), repr(error)
    assert DEADLINE - 0.05 <= elapsed < DEADLINE + SLACK


def test_an_infinite_deadline_leaves_requests_unbounded(m2m_server: EmulatorServer) -> None:
    emu = m2m_server.emulator
    credentials = {"client_id": "demo-client", "client_secret": SECRET,
                   "grant_type": "client_credentials"}
    with total_deadline(math.inf), httpx.Client(transport=DeadlineTransport(),
                                                timeout=None) as http:
        assert http.post(emu.token_url, json=credentials).status_code == 200


def test_the_transport_maps_httpcore_errors_exactly_as_httpx_does() -> None:
    """httpx keeps its table private; if it changes, this fails and EXCEPTIONS must follow."""
    from httpx._transports.default import _load_httpcore_exceptions

    assert dict(EXCEPTIONS) == _load_httpcore_exceptions()
