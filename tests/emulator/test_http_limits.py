"""The HTTP door cannot be knocked over: oversized bodies get their 413, oversized or slow
heads a 431 or 408, idle connections close, the connection cap refuses cleanly, and an
upgrade request gets a JSON 400. Bounds in these tests are generous: they catch hangs."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests

from m2m_contract.emulator import Emulator, EmulatorServer, FakeClock, Fault, Limits

from .conftest import token_body

MiB = 1024 * 1024
REPEAT = 30
PARSERS = ["httptools", "h11"]


def raw_exchange(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data` on a fresh connection; return everything read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


@pytest.fixture(scope="module")
def big_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(Emulator(clock=FakeClock())) as server:
        yield server


# 2 MiB: the case; 16 MiB: far past every socket buffer, so the server must read (and
# drop) most of the body before the client, still sending, can read the 413.
@pytest.fixture(scope="module", params=[2 * MiB, 16 * MiB], ids=["2MiB", "16MiB"])
def big_body(request: pytest.FixtureRequest) -> bytes:
    return b"x" * int(request.param)


def _httpx_sync(url: str, body: bytes) -> list[int]:
    # httpcore's sync write copies what is left of a buffer after every send(): a 16 MiB
    # body in one piece costs the client a lot of copying. The same bytes in 1 MiB pieces,
    # with the same Content-Length, cost it nothing, and the server sees the same request.
    def pieces() -> Iterator[bytes]:
        for start in range(0, len(body), MiB):
            yield body[start : start + MiB]

    length = {"content-length": str(len(body))}
    with httpx.Client() as client:
        if len(body) <= 2 * MiB:
            return [client.post(url, content=body).status_code for _ in range(REPEAT)]
        return [client.post(url, content=pieces(), headers=length).status_code
                for _ in range(REPEAT)]  # fmt: skip


def _httpx_async(url: str, body: bytes, repeat: int = REPEAT) -> list[int]:
    async def run() -> list[int]:
        async with httpx.AsyncClient() as client:
            return [(await client.post(url, content=body)).status_code for _ in range(repeat)]

    return asyncio.run(run())


def _requests(url: str, body: bytes) -> list[int]:
    with requests.Session() as session:
        return [session.post(url, data=body, timeout=60).status_code for _ in range(REPEAT)]


def _curl(url: str, body: bytes, tmp_path: Path) -> list[int]:
    path = tmp_path / "body.bin"
    path.write_bytes(body)
    statuses = []
    for _ in range(REPEAT):
        done = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "60",
             "-H", "content-type: application/json", "--data-binary", f"@{path}", url],
            capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
        statuses.append(int(done.stdout or 0))
    return statuses


@pytest.mark.parametrize("client", ["httpx-sync", "httpx-async", "requests", "curl"])
def test_an_oversized_body_gets_its_413_every_time(
    big_server: EmulatorServer, big_body: bytes, client: str, tmp_path: Path
) -> None:
    url = big_server.emulator.token_url
    if client == "curl" and shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    send = {"httpx-sync": _httpx_sync, "httpx-async": _httpx_async, "requests": _requests}
    statuses = _curl(url, big_body, tmp_path) if client == "curl" else send[client](url, big_body)
    big_server.emulator.journal.clear()

    assert statuses == [413] * REPEAT


def test_an_oversized_body_gets_its_413_with_the_pure_python_parser(big_body: bytes) -> None:
    repeat = REPEAT if len(big_body) <= 2 * MiB else 10  # h11 reads about 30 MiB/s
    with EmulatorServer(Emulator(clock=FakeClock()), http="h11", loop="asyncio") as server:
        statuses = _httpx_async(server.emulator.token_url, big_body, repeat)

    assert statuses == [413] * repeat


def test_the_413_is_journaled_with_its_body_cut_short_and_marked(
    big_server: EmulatorServer,
) -> None:
    big_server.emulator.journal.clear()

    answer = httpx.post(big_server.emulator.token_url, content=b"x" * (2 * MiB))

    (exchange,) = big_server.emulator.journal.snapshot()
    assert answer.status_code == 413
    assert exchange.response.status == 413
    assert len(exchange.request.body) <= big_server.emulator.max_body + 1
    assert "request.body" in exchange.truncated


@pytest.fixture(params=PARSERS)
def guarded(request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    limits = Limits(header_timeout=0.5, body_timeout=0.5, idle_timeout=0.5, max_connections=4)
    with EmulatorServer(Emulator(clock=FakeClock()), limits=limits, http=request.param) as s:
        yield s


def test_a_request_head_over_the_byte_limit_gets_431(guarded: EmulatorServer) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (256 * 1024) + b"\r\n\r\n"

    answer = raw_exchange(guarded.port, head)

    assert status_of(answer) == 431
    assert b'"error": "invalid_request"' in answer
    assert httpx.get(f"{guarded.base_url}/healthz").status_code == 200


def test_an_http_client_sending_a_huge_header_reads_the_431(guarded: EmulatorServer) -> None:
    answer = httpx.get(f"{guarded.base_url}/healthz", headers={"x-big": "a" * (64 * 1024)})

    assert answer.status_code == 431
    assert "over 32768 bytes" in answer.json()["error_description"]


def test_a_request_with_too_many_headers_gets_431(guarded: EmulatorServer) -> None:
    lines = b"".join(b"X-H%d: 1\r\n" % i for i in range(101))

    answer = raw_exchange(guarded.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
    allowed = raw_exchange(
        guarded.port,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + lines[: lines.index(b"X-H98")] + b"\r\n",  # 100 headers
    )  # fmt: skip

    assert status_of(answer) == 431
    assert b"more than 100 headers" in answer
    assert status_of(allowed) == 200


def test_a_head_that_trickles_in_gets_408(guarded: EmulatorServer) -> None:
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost")
        answer = sock.recv(65536)
        closed = sock.recv(65536)

    assert status_of(answer) == 408
    assert closed == b""


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    guarded: EmulatorServer,
) -> None:
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=10) as sock:
        assert sock.recv(65536) == b""  # closed, no answer: there was no request


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(
    guarded: EmulatorServer,
) -> None:
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = sock.recv(65536)
        closed = sock.recv(65536)

    assert status_of(answer) == 200
    assert closed == b""


def test_a_body_that_stops_arriving_gets_408(guarded: EmulatorServer) -> None:
    head = b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"

    answer = raw_exchange(guarded.port, head)

    assert status_of(answer) == 408
    assert b"body stopped arriving" in answer


def test_at_the_connection_cap_the_oldest_idle_connection_makes_room(
    guarded: EmulatorServer,
) -> None:
    idle = [socket.create_connection(("127.0.0.1", guarded.port), timeout=10) for _ in range(4)]
    try:
        for sock in idle:  # each is answered once, then waits, idle, for another request
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status_of(sock.recv(65536)) == 200
        newcomer = httpx.get(f"{guarded.base_url}/healthz")
        oldest = idle[0].recv(65536)
    finally:
        for sock in idle:
            sock.close()

    assert newcomer.status_code == 200
    assert oldest == b""  # closed to make room


def test_when_every_connection_is_busy_a_new_one_gets_a_clean_503(
    guarded: EmulatorServer,
) -> None:
    guarded.emulator.add_fault(Fault.stall("token", times=None))
    body = b'{"client_id":"demo-client","client_secret":"demo-secret","grant_type":"x"}'
    request = (b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body  # fmt: skip
    busy = [socket.create_connection(("127.0.0.1", guarded.port), timeout=10) for _ in range(4)]
    try:
        for sock in busy:
            sock.sendall(request)
        deadline = time.monotonic() + 10
        while len(guarded.emulator.journal.token_requests()) < 4:
            assert time.monotonic() < deadline, "the stalled requests never arrived"
            time.sleep(0.01)
        refused = httpx.get(f"{guarded.base_url}/healthz")
    finally:
        guarded.emulator.faults.clear()
        for sock in busy:
            sock.close()

    assert refused.status_code == 503
    assert refused.headers["connection"] == "close"
    assert "too many open connections" in refused.json()["error_description"]


@pytest.mark.parametrize("parser", PARSERS)
def test_a_websocket_upgrade_gets_a_json_400_and_logs_nothing(parser: str) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    with EmulatorServer(Emulator(clock=FakeClock()), http=parser) as server:
        logging.getLogger("uvicorn").addHandler(handler)
        try:
            with pytest.raises(InvalidStatus) as refused:
                connect(f"ws://127.0.0.1:{server.port}/api/members", open_timeout=10)
            after = httpx.get(f"{server.base_url}/healthz")
        finally:
            logging.getLogger("uvicorn").removeHandler(handler)

    response = refused.value.response
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert b"not supported" in response.body
    assert after.status_code == 200
    assert [r.getMessage() for r in records if r.levelno >= logging.WARNING] == []


def test_the_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        Limits(max_connections=0)
    with pytest.raises(ValueError, match="header_timeout"):
        Limits(header_timeout=float("inf"))


def test_the_connection_cap_leaves_file_descriptors_for_the_rest_of_the_process() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)

    cap = Limits(max_connections=10**9).connection_cap()

    assert 1 <= cap < soft


def test_a_token_request_is_answered_on_a_reused_keep_alive_connection(
    guarded: EmulatorServer,
) -> None:
    with httpx.Client(base_url=guarded.base_url) as client:
        answers = [client.post("/oauth/token", json=token_body()) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
