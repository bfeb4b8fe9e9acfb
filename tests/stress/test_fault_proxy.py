"""The fault proxy itself, seen from a raw socket: each fault does what it says, no more."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from m2m_contract.emulator import EmulatorServer

from .conftest import prepare, threads_now, wait_for
from .fault_proxy import FaultProxy

BODY = json.dumps(
    {"client_id": "demo-client", "client_secret": "demo-secret", "grant_type": "client_credentials"}
).encode()
REQUEST = (
    b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)


@pytest.fixture
def proxy(served: EmulatorServer) -> Iterator[FaultProxy]:
    prepare(served.emulator)
    with FaultProxy(served.host, served.port, stall_limit=0.5, lifetime=30.0) as running:
        yield running


def exchange(proxy: FaultProxy) -> bytes:
    """Send one token request on a fresh connection; return all bytes until the proxy closes
    or a whole answer arrived."""
    with socket.create_connection(("127.0.0.1", int(proxy.base_url.rsplit(":", 1)[1])), 5) as s:
        s.sendall(REQUEST)
        received = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return received
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length" and len(body) >= int(value):
                    return received


def test_pass_and_throttle_relay_the_whole_answer(proxy: FaultProxy) -> None:
    proxy.arm("throttle", "token")
    for _ in range(2):  # throttled, then passed through untouched
        answer = exchange(proxy)
        assert answer.startswith(b"HTTP/1.1 200")
        assert b'"access_token"' in answer and answer.endswith(b"}")
    assert [s.action for s in proxy.seen] == ["throttle", "pass"]


def test_reset_answers_with_an_rst(proxy: FaultProxy) -> None:
    proxy.arm("reset", "token")
    with pytest.raises(ConnectionResetError):
        exchange(proxy)


def test_close_mid_body_sends_half_a_body_then_closes(proxy: FaultProxy) -> None:
    proxy.arm("close_mid_body", "token")
    answer = exchange(proxy)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    assert 0 < len(body) < length


def test_stall_answers_nothing_and_gives_up_after_its_limit(proxy: FaultProxy) -> None:
    proxy.arm("stall", "token")
    assert exchange(proxy) == b""  # closed after stall_limit, without a byte


def test_faults_are_targeted_and_counted(proxy: FaultProxy) -> None:
    proxy.arm("reset", "api", times=None)  # never matches a token request
    proxy.arm("throttle", "token", times=2)
    actions = [exchange(proxy) and proxy.seen[-1].action for _ in range(3)]
    assert actions == ["throttle", "throttle", "pass"]


def test_stop_closes_every_connection_and_ends_its_thread(served: EmulatorServer) -> None:
    before = threads_now()
    proxy = FaultProxy(served.host, served.port, stall_limit=30.0).start()
    proxy.arm("stall", "any", times=None)
    with socket.create_connection(("127.0.0.1", int(proxy.base_url.rsplit(":", 1)[1])), 5) as s:
        s.sendall(REQUEST)
        wait_for(lambda: proxy.open_connections == 1)
        proxy.stop()
        assert s.recv(1) == b""  # closed by stop(), not after the 30 s stall limit
    assert proxy.open_connections == 0
    assert threads_now() == before
