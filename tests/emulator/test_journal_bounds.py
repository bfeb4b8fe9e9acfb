"""The journal is bounded in count and in bytes, stores large parts cut short and marked, and
its admin view is paged and built off the event loop; a flood of connections or of huge
headers leaves the server answering within bounded memory."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from m2m_contract.emulator import (
    Emulator,
    EmulatorServer,
    EmulatorTransport,
    Exchange,
    FakeClock,
    Journal,
    Request,
    Response,
)
from m2m_contract.emulator._journal import STORED_BODY, STORED_HEADERS, STORED_TEXT

from .conftest import Door, token_body
from .serving import serve

MiB = 1024 * 1024
JSON = {"content-type": "application/json"}


def exchange(seq: int, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()) -> Exchange:
    return Exchange(seq, "other", 0.0, Request("GET", "/x", headers=headers, body=body),
                    Response(404))  # fmt: skip


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_large_body_and_large_headers_are_stored_cut_short_and_marked() -> None:
    journal = Journal()
    huge = "a" * (4 * MiB)

    journal.append(exchange(1, b"b" * (2 * MiB), (("x-big", huge), ("x-other", "1"))))

    (stored,) = journal.snapshot()
    assert len(stored.request.body) == STORED_BODY
    assert stored.request.headers == (("x-big", "a" * (STORED_TEXT - len("x-big"))),)
    assert sum(len(k) + len(v) for k, v in stored.request.headers) <= STORED_HEADERS
    assert set(stored.truncated) == {"request.body", "request.headers"}
    assert stored.printable()["truncated"] == list(stored.truncated)
    assert journal.bytes < 200 * 1024


def test_a_small_exchange_is_stored_whole() -> None:
    journal = Journal()
    original = exchange(1, b'{"a":1}', (("content-type", "application/json"),))

    journal.append(original)

    assert journal.snapshot() == [original]
    assert original.truncated == ()


def test_the_journal_drops_the_oldest_exchanges_past_its_byte_budget() -> None:
    journal = Journal(maxlen=1000, max_bytes=300 * 1024)

    for seq in range(1, 21):
        journal.append(exchange(seq, b"x" * 60_000))

    kept = [e.seq for e in journal.snapshot()]
    assert kept == list(range(21 - len(kept), 21))  # the latest, in order
    assert 3 <= len(kept) <= 5
    assert journal.bytes <= 300 * 1024


def test_the_journal_always_keeps_the_latest_exchange() -> None:
    journal = Journal(max_bytes=10)

    journal.append(exchange(1, b"x" * 1000))

    assert [e.seq for e in journal.snapshot()] == [1]


def test_300_requests_with_4_mib_headers_in_process_hold_the_journal_in_bounded_memory() -> None:
    script = textwrap.dedent(
        """
        import gc, json, httpx
        from m2m_contract.emulator import Emulator, EmulatorTransport, FakeClock

        def rss():
            with open("/proc/self/status") as status:
                return next(int(l.split()[1]) for l in status if l.startswith("VmRSS:"))

        emulator = Emulator(clock=FakeClock())
        big = {"x-big": "a" * (4 * 1024 * 1024)}
        with httpx.Client(transport=EmulatorTransport(emulator),
                          base_url=emulator.base_url) as client:
            for _ in range(5):
                client.get("/healthz", headers=big)
            gc.collect()
            before = rss()
            statuses = {client.get("/healthz", headers=big).status_code for _ in range(300)}
            gc.collect()
            after = rss()
        held = emulator.journal.snapshot()
        print(json.dumps({"growth_kib": after - before, "statuses": sorted(statuses),
                          "held": len(held),
                          "marked": all("request.headers" in e.truncated for e in held)}))
        """
    )
    # A fixed mmap threshold: glibc otherwise raises it after the first 4 MiB string is freed
    # and serves the next ones from the heap, whose holes stay resident and would be counted.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, check=True, env=env)  # fmt: skip

    result = json.loads(done.stdout)
    assert result["statuses"] == [200]
    assert result["held"] == 305 and result["marked"]
    assert result["growth_kib"] < 50 * 1024  # 300 whole requests would be 1.2 GiB


def _huge_head_request(port: int, head: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def test_300_requests_with_4_mib_headers_over_http_leave_the_server_rss_flat() -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (4 * MiB) + b"\r\n\r\n"
    with serve() as served, httpx.Client(base_url=served.url) as client:
        port = int(served.url.rsplit(":", 1)[1])
        for _ in range(5):
            _huge_head_request(port, head)
        before = rss_kib(served.proc.pid)
        statuses = {_huge_head_request(port, head) for _ in range(300)}
        after = rss_kib(served.proc.pid)
        health = client.get("/healthz")

    assert statuses == {431}
    assert health.status_code == 200
    assert after - before < 50 * 1024


@pytest.fixture
def raised_fd_limit() -> Iterator[None]:
    """Room for 4,000 client sockets in this process (and the server child it starts)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 12_000 if hard == resource.RLIM_INFINITY else min(hard, 12_000)
    if wanted < 6000:
        pytest.skip(f"the hard limit on open files ({hard}) leaves no room for 4,000 sockets")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.usefixtures("raised_fd_limit")
def test_4000_half_open_connections_leave_a_normal_client_answered() -> None:
    with serve() as served:
        port = int(served.url.rsplit(":", 1)[1])
        flood: list[socket.socket] = []
        try:
            for n in range(4000):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                if n % 2:  # half send the start of a head and never finish it
                    sock.sendall(b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Le")
                flood.append(sock)
            with httpx.Client(base_url=served.url, timeout=10) as client:
                health = client.get("/healthz")
                token = client.post("/oauth/token", json=token_body())
            held = len(list(Path(f"/proc/{served.proc.pid}/fd").iterdir()))
        finally:
            for sock in flood:
                sock.close()

    assert health.status_code == 200
    assert token.status_code == 200
    assert held < 1024 + 200  # the connection cap, not 4,000 sockets


def test_the_journal_view_is_paged_by_since_and_limit(door: Door) -> None:
    door.client.get("/healthz")
    start = door.emulator.journal.snapshot()[0].seq  # seq counts on across resets
    for _ in range(4):
        door.client.get("/healthz")

    first = door.client.get("/__admin/journal", params={"limit": 2}).json()
    rest = door.client.get("/__admin/journal", params={"since": first["next"]}).json()

    assert [e["seq"] for e in first["exchanges"]] == [start, start + 1]
    assert first["next"] == start + 1 and first["held"] == 5
    assert [e["seq"] for e in rest["exchanges"]] == [start + 2, start + 3, start + 4]
    assert rest["next"] is None


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 5000}, {"since": -1}, {"limit": "x"}])
def test_a_bad_journal_page_is_400(door: Door, query: dict[str, object]) -> None:
    response = door.client.get("/__admin/journal", params=query)  # type: ignore[arg-type]

    assert response.status_code == 400


def test_a_journal_page_is_built_off_the_event_loop() -> None:
    emulator = Emulator(clock=FakeClock())
    for _ in range(200):
        emulator.handle(Request("GET", "/healthz"))
    threads: list[str] = []
    handle = emulator.handle

    def spy(request: Request) -> Response:
        if request.path.startswith("/__admin"):
            threads.append(threading.current_thread().name)
        return handle(request)

    emulator.handle = spy  # type: ignore[method-assign]
    with EmulatorServer(emulator) as server, httpx.Client(base_url=server.base_url) as client:
        page = client.get("/__admin/journal", params={"limit": 1000}).json()
        health = client.get("/healthz")

    assert len(page["exchanges"]) == 200
    assert health.status_code == 200
    assert threads and all(name.startswith("m2m-admin") for name in threads)


def test_the_in_process_door_journals_a_huge_header_cut_short() -> None:
    emulator = Emulator(clock=FakeClock())
    with httpx.Client(transport=EmulatorTransport(emulator), base_url=emulator.base_url) as c:
        c.post("/oauth/token", json=token_body(), headers={"x-big": "a" * MiB})

    (stored,) = emulator.journal.snapshot()
    assert stored.response.status == 200
    assert "request.headers" in stored.truncated
    assert stored.params is not None and stored.params["client_id"] == "demo-client"


def test_journal_page_gives_the_exchanges_after_since_oldest_first(door: Door) -> None:
    for _ in range(50):
        door.client.get("/healthz")
    start = door.emulator.journal.snapshot()[0].seq

    page = door.emulator.journal.page(since=start + 9, limit=5)

    assert [e.seq for e in page] == list(range(start + 10, start + 15))
    assert door.emulator.journal.page(since=start + 49) == []
