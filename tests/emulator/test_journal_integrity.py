"""The journal is honest about what it holds: it counts the exchanges it dropped, never
reuses a sequence number, keeps its exchanges in order, and stores whole every request the
HTTP door accepts (a head up to the door's limit, a body up to the emulator's)."""

from __future__ import annotations

import socket
import time

import httpx

from m2m_contract.emulator import (
    Emulator,
    EmulatorServer,
    EmulatorTransport,
    Exchange,
    FakeClock,
    Journal,
    Limits,
    Request,
    Response,
)

from .conftest import token_body

KiB = 1024
JSON = {"content-type": "application/json"}


def exchange(seq: int, body: bytes = b"") -> Exchange:
    return Exchange(seq, "other", 0.0, Request("GET", "/x", body=body), Response(404))


def test_the_journal_counts_every_exchange_it_drops_by_count() -> None:
    journal = Journal(maxlen=3)

    for seq in range(1, 11):
        journal.append(exchange(seq))

    assert [e.seq for e in journal] == [8, 9, 10]
    assert journal.dropped == 7


def test_the_journal_counts_every_exchange_it_drops_by_bytes() -> None:
    journal = Journal(maxlen=1000, max_bytes=300 * KiB)

    for seq in range(1, 21):
        journal.append(exchange(seq, b"x" * 60_000))

    assert journal.dropped == 20 - len(journal)
    assert journal.dropped >= 15


def test_clear_removes_exchanges_without_counting_them_and_keeps_the_count() -> None:
    journal = Journal(maxlen=2)
    for seq in range(1, 5):
        journal.append(exchange(seq))

    journal.clear()

    assert len(journal) == 0
    assert journal.dropped == 2


def test_appended_keeps_growing_in_a_full_journal() -> None:
    journal = Journal(maxlen=2)
    seen = []
    for seq in range(1, 6):
        journal.append(exchange(seq))
        seen.append((len(journal), journal.appended))
    journal.clear()

    assert seen == [(1, 1), (2, 2), (2, 3), (2, 4), (2, 5)]  # len stalls; appended does not
    assert journal.appended == 5


def test_sequence_numbers_are_never_reused_across_drops_and_clears() -> None:
    emulator = Emulator(clock=FakeClock(), journal_size=2)
    for _ in range(5):
        emulator.handle(Request("GET", "/healthz"))
    emulator.journal.clear()
    emulator.reset()

    emulator.handle(Request("GET", "/healthz"))

    assert [e.seq for e in emulator.journal] == [6]


def test_an_exchange_numbered_before_one_appended_meanwhile_is_held_in_order() -> None:
    journal = Journal()
    first, second = journal.next_seq(), journal.next_seq()

    journal.append(exchange(second))
    journal.append(exchange(first))  # another thread took longer to answer

    assert [e.seq for e in journal.page(0)] == [first, second]
    assert [e.seq for e in journal.page(first)] == [second]


def test_the_admin_journal_page_reports_what_was_dropped_and_unjournaled() -> None:
    emulator = Emulator(clock=FakeClock(), journal_size=3)
    with EmulatorServer(emulator) as server, httpx.Client(base_url=server.base_url) as client:
        for _ in range(10):
            client.get("/healthz")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as half:
            half.sendall(b"GET /healthz HTTP/1.1\r\n")  # and hangs up mid-head
        deadline = time.monotonic() + 10
        while emulator.journal.unjournaled == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        page = client.get("/__admin/journal").json()

    assert (page["held"], page["dropped"], page["unjournaled"]) == (3, 7, 1)
    assert [e["seq"] for e in page["exchanges"]] == [8, 9, 10]


def test_a_client_flooding_the_journal_leaves_the_drop_counted() -> None:
    # A client that pushes its own defect out of a small journal: the defect is gone, but
    # the journal says it dropped something, so nothing judging it can pass blindly.
    emulator = Emulator(clock=FakeClock(), journal_size=50, journal_bytes=2 * 1024 * KiB)
    with EmulatorServer(emulator) as server, httpx.Client(base_url=server.base_url) as client:
        client.post("/oauth/token?client_secret=leaked", json=token_body())
        for _ in range(60):
            client.post("/.well-known/jwks.json", content=b"a" * 60_000)

    assert "leaked" not in str([e.request.query_string for e in emulator.journal])
    assert emulator.journal.dropped == 61 - len(emulator.journal)
    assert emulator.journal.dropped > 0


def last(server: EmulatorServer) -> Exchange:
    return server.emulator.journal.snapshot()[-1]


def test_a_query_the_door_accepts_is_journaled_whole() -> None:
    query = "trace=" + "a" * 20_000 + "&client_secret=late"
    with EmulatorServer(Emulator(clock=FakeClock())) as server:
        status = httpx.post(f"{server.base_url}/oauth/token?{query}", json=token_body())
        stored = last(server)

    assert status.status_code == 200  # the door accepted it
    assert stored.request.query_string == query
    assert stored.truncated == ()


def test_a_header_the_door_accepts_is_journaled_whole() -> None:
    value = "a" * 30_000 + "late-secret"
    with EmulatorServer(Emulator(clock=FakeClock())) as server:
        status = httpx.get(f"{server.base_url}/healthz", headers={"x-trace": value})
        stored = last(server)

    assert status.status_code == 200
    assert stored.request.header("x-trace") == value
    assert stored.truncated == ()


def test_a_body_the_emulator_accepts_is_journaled_whole_even_past_the_default_size() -> None:
    body = b"a" * (200 * KiB) + b"late-secret"
    emulator = Emulator(clock=FakeClock(), max_body=256 * KiB)
    with EmulatorServer(emulator) as server:
        status = httpx.post(f"{server.base_url}/api/members", content=body)
        stored = last(server)

    assert status.status_code == 401  # read and answered, not refused as too large
    assert stored.request.body == body
    assert stored.truncated == ()


def test_a_head_a_wider_door_accepts_is_journaled_whole() -> None:
    query = "pad=" + "a" * 50_000 + "&late=1"
    limits = Limits(max_header_bytes=64 * KiB)
    with EmulatorServer(Emulator(clock=FakeClock()), limits=limits) as server:
        status = httpx.get(f"{server.base_url}/healthz?{query}")
        stored = last(server)

    assert status.status_code == 200
    assert server.emulator.journal.max_text == 64 * KiB
    assert stored.request.query_string == query
    assert stored.truncated == ()


def test_a_body_over_the_limit_is_journaled_cut_and_marked_as_such() -> None:
    body = b"a" * (70 * KiB) + b'{"client_secret": "late"}'
    with EmulatorServer(Emulator(clock=FakeClock())) as server:
        status = httpx.post(f"{server.base_url}/api/members", content=body)
        stored = last(server)

    assert status.status_code == 413
    assert b"late" not in stored.request.body
    assert stored.truncated == ("request.body",)


def test_in_process_a_body_the_emulator_accepts_is_journaled_whole() -> None:
    emulator = Emulator(clock=FakeClock(), max_body=128 * KiB)
    body = b"a" * (100 * KiB)
    with httpx.Client(transport=EmulatorTransport(emulator), base_url=emulator.base_url) as c:
        c.post("/api/members", content=body)

    (stored,) = emulator.journal.snapshot()
    assert stored.request.body == body and stored.truncated == ()


def test_widen_never_lowers_the_part_sizes() -> None:
    journal = Journal(max_text=64 * KiB, max_body=128 * KiB)

    journal.widen(max_text=1, max_body=1)

    assert (journal.max_text, journal.max_body) == (64 * KiB, 128 * KiB)
