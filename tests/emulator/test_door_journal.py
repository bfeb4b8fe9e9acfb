"""What the HTTP door refuses before the emulator sees it is journaled all the same: the head
as read (cut at the door's limit, and marked so), the refusal it got, `refused == "door"`; a
request the door read bytes of but cannot hand over is counted in `Journal.unjournaled`.
Never a 500, never a traceback, never the secret in a log."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from m2m_contract._secrets import Known
from m2m_contract.emulator import Emulator, EmulatorServer, Exchange, FakeClock, Fault, Limits
from m2m_contract.emulator._door_journal import journal_refused_head, request_line, split_head
from m2m_contract.emulator._protocol import RefusedHead

PARSERS = ["httptools", "h11"]
SECRET = "door-Secret_0123456789abcdefXYZ"
FAST = Limits(header_timeout=0.5, body_timeout=0.5, linger=0.2)


@pytest.fixture(scope="module", params=PARSERS)
def server(request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    with EmulatorServer(Emulator(clock=FakeClock()), http=request.param, limits=FAST) as served:
        yield served


@pytest.fixture
def logged() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logging.getLogger().addHandler(handler)
    logging.getLogger("uvicorn").addHandler(handler)
    try:
        yield records
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger("uvicorn").removeHandler(handler)


def raw(port: int, data: bytes, *, close_after: float | None = None) -> bytes:
    """Send `data` on a fresh connection; read until the server closes (or `close_after`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        if close_after is not None:
            time.sleep(close_after)
            return b""
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def new_exchanges(
    server: EmulatorServer, data: bytes, **kwargs: float
) -> tuple[int, list[Exchange]]:
    journal = server.emulator.journal
    last = journal.snapshot()[-1].seq if len(journal) else 0
    answer = raw(server.port, data, **kwargs)
    deadline = time.monotonic() + 10
    while not journal.page(last) and time.monotonic() < deadline:
        time.sleep(0.01)
    return status_of(answer), journal.page(last)


def finds_secret(*texts: str) -> bool:
    known = Known(secrets=[("a client secret", SECRET)])
    return any(known.find(text) for text in texts)


def test_a_url_with_a_raw_space_is_journaled_with_its_query_and_the_400(
    server: EmulatorServer,
) -> None:
    head = f"GET /api/members?client_secret={SECRET}&scope=read members HTTP/1.1\r\nHost: x\r\n\r\n"

    status, (exchange,) = new_exchanges(server, head.encode())

    assert status == 400
    assert (exchange.kind, exchange.refused, exchange.response.status) == ("api", "door", 400)
    assert exchange.request.method == "GET" and exchange.request.path == "/api/members"
    assert exchange.request.query_string == f"client_secret={SECRET}&scope=read members"
    assert exchange.request.header("host") == "x"
    assert exchange.truncated == ()
    assert exchange.answered is not None
    assert finds_secret(exchange.request.query_string)


def test_a_control_character_in_the_url_is_journaled(server: EmulatorServer) -> None:
    head = f"GET /api/members?note=\x01&client_secret={SECRET} HTTP/1.1\r\nHost: x\r\n\r\n"

    status, (exchange,) = new_exchanges(server, head.encode())

    assert status == 400
    assert exchange.refused == "door"
    assert finds_secret(exchange.request.query_string)


def test_the_body_read_with_a_refused_head_is_journaled_with_it(server: EmulatorServer) -> None:
    body = f"client_secret={SECRET}&grant_type=client_credentials".encode()
    head = b"POST /oauth/token?a=b c HTTP/1.1\r\nHost: x\r\n"
    head += b"Content-Type: application/x-www-form-urlencoded\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n".encode()

    status, (exchange,) = new_exchanges(server, head + body)

    assert status == 400
    assert (exchange.kind, exchange.refused) == ("token", "door")
    assert exchange.request.method == "POST"
    assert exchange.request.body == body
    assert exchange.truncated == ()
    assert finds_secret(exchange.request.body.decode())


def test_a_body_the_door_never_read_is_marked(server: EmulatorServer) -> None:
    head = b"POST /oauth/token?a=b c HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"

    status, (exchange,) = new_exchanges(server, head + b"only part")

    assert status == 400
    assert exchange.request.body == b"only part"
    assert exchange.truncated == ("request.body",)


def test_a_request_line_over_the_head_limit_is_journaled_cut_and_marked(
    server: EmulatorServer,
) -> None:
    early = f"GET /api/members?client_secret={SECRET}&pad={'A' * 100_000} HTTP/1.1\r\n\r\n"
    late = f"GET /api/members?pad={'A' * 100_000}&client_secret={SECRET} HTTP/1.1\r\n\r\n"

    early_status, (kept,) = new_exchanges(server, early.encode())
    late_status, (cut,) = new_exchanges(server, late.encode())

    assert early_status == late_status == 431
    assert (kept.refused, kept.response.status, kept.kind) == ("door", 431, "api")
    assert finds_secret(kept.request.query_string)  # within the kept 32 KiB
    assert len(cut.request.query_string) < FAST.max_header_bytes
    assert cut.truncated == ("request.query",)  # past the limit: marked, never silently lost


def test_a_header_over_the_head_limit_is_journaled_cut_and_marked(
    server: EmulatorServer,
) -> None:
    head = f"GET /api/members HTTP/1.1\r\nX-Early: {SECRET}\r\nX-Pad: {'A' * 100_000}\r\n\r\n"

    status, (exchange,) = new_exchanges(server, head.encode())

    assert status == 431
    assert exchange.refused == "door"
    assert exchange.request.header("x-early") == SECRET
    assert exchange.truncated == ("request.headers",)


def test_too_many_headers_are_journaled_whole_when_the_head_was_read_whole(
    server: EmulatorServer,
) -> None:
    lines = "".join(f"X-{n}: {n}\r\n" for n in range(150))
    head = f"GET /healthz HTTP/1.1\r\n{lines}X-Last: {SECRET}\r\n\r\n"

    status, (exchange,) = new_exchanges(server, head.encode())

    assert status == 431
    assert (exchange.kind, exchange.refused) == ("health", "door")
    assert exchange.request.header("x-last") == SECRET
    assert exchange.truncated == ()


def test_a_head_that_stops_arriving_is_journaled_with_what_came_and_marked(
    server: EmulatorServer,
) -> None:
    head = f"GET /api/members?client_secret={SECRET} HTTP/1.1\r\nHost: x\r\n"

    status, (exchange,) = new_exchanges(server, head.encode())

    assert status == 408
    assert exchange.refused == "door"
    assert exchange.request.query_string == f"client_secret={SECRET}"
    assert exchange.truncated == ("request.headers",)


def test_a_body_that_stops_arriving_is_journaled_with_what_came_and_marked(
    server: EmulatorServer,
) -> None:
    start = f"client_secret={SECRET}".encode()
    head = b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n"
    head += b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"

    status, (exchange,) = new_exchanges(server, head + start)

    assert status == 408
    assert (exchange.kind, exchange.refused) == ("token", "door")
    assert exchange.request.body == start
    assert exchange.truncated == ("request.body",)


def test_an_upgrade_request_is_journaled_with_its_400(server: EmulatorServer) -> None:
    head = f"GET /api/members?s={SECRET} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
    head += "Upgrade: h2c\r\n\r\n"

    status, (exchange,) = new_exchanges(server, head.encode())

    assert status == 400
    assert (exchange.kind, exchange.refused, exchange.truncated) == ("api", "door", ())
    assert finds_secret(exchange.request.query_string)


def test_a_bad_chunk_in_a_body_being_read_is_counted_as_unjournaled(
    server: EmulatorServer,
) -> None:
    journal = server.emulator.journal
    before = journal.unjournaled
    head = b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

    status = status_of(raw(server.port, head + b"5\r\nhello\r\nZZ\r\n" + SECRET.encode()))

    assert status == 400
    assert journal.unjournaled == before + 1  # the bytes the parser refused are nowhere


def test_a_head_half_sent_then_abandoned_is_counted_as_unjournaled(
    server: EmulatorServer,
) -> None:
    journal = server.emulator.journal
    before = journal.unjournaled

    raw(server.port, f"GET /api?client_secret={SECRET}".encode(), close_after=0.05)
    wait_for(lambda: journal.unjournaled != before)

    assert journal.unjournaled == before + 1


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)


def test_a_half_sent_head_closed_to_make_room_is_counted_as_unjournaled() -> None:
    emulator = Emulator(clock=FakeClock())
    with (
        EmulatorServer(emulator, limits=Limits(max_connections=1)) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as half,
    ):
        half.sendall(f"GET /api?client_secret={SECRET} HTTP/1.1\r\n".encode())
        time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as newcomer:
            newcomer.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = newcomer.recv(65536)
        wait_for(lambda: emulator.journal.unjournaled == 1)
        closed = half.recv(65536)

    assert status_of(answer) == 200
    assert closed == b""  # closed to make room: its head is nowhere but in the count
    assert [e.kind for e in emulator.journal] == ["health"]


def test_a_connection_refused_at_the_cap_that_sends_anyway_is_counted() -> None:
    emulator = Emulator(clock=FakeClock())
    emulator.add_fault(Fault.stall("token", times=None))
    body = b'{"client_id":"demo-client","client_secret":"demo-secret","grant_type":"x"}'
    stalled = (b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body  # fmt: skip
    limits = Limits(max_connections=1, linger=0.5)
    with (
        EmulatorServer(emulator, limits=limits) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as busy,
    ):
        busy.sendall(stalled)
        wait_for(lambda: len(emulator.journal.token_requests()) == 1)
        answer = raw(server.port, f"GET /api?client_secret={SECRET} HTTP/1.1\r\n\r\n".encode())
        wait_for(lambda: emulator.journal.unjournaled == 1)

    assert status_of(answer) == 503
    assert len(emulator.journal) == 1  # the stalled token request; the refused one is counted


def test_door_refusals_log_no_secret_and_no_traceback(
    server: EmulatorServer, logged: list[logging.LogRecord]
) -> None:
    for head in (f"GET /api?s={SECRET}&a=b c HTTP/1.1\r\n\r\n",
                 f"GET /api HTTP/1.1\r\nX-S: {SECRET}\r\nX-Pad: {'a' * 40_000}\r\n\r\n",
                 f"\x16\x03\x01 {SECRET}\r\n\r\n"):  # fmt: skip
        status, exchanges = new_exchanges(server, head.encode())
        assert status in (400, 431)
        assert [e.refused for e in exchanges] == ["door"]

    texts = [r.getMessage() for r in logged]
    assert not any(SECRET in text for text in texts)
    assert not any(r.exc_info for r in logged)
    assert all(r.levelno < logging.ERROR for r in logged)


def test_the_printed_form_of_a_door_refusal_is_redacted(server: EmulatorServer) -> None:
    head = "GET /api/members?client_secret=demo-secret&x=a b HTTP/1.1\r\nHost: x\r\n\r\n"

    _, (exchange,) = new_exchanges(server, head.encode())

    printed = exchange.printable()
    assert printed["refused"] == "door"
    assert "demo-secret" not in str(printed)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /a?b=c HTTP/1.1", ("GET", "/a?b=c")),
        ("GET /a?b=c d HTTP/1.1", ("GET", "/a?b=c d")),
        ("GET /a b", ("GET", "/a b")),
        ("\x16\x03\x01 hello", ("", "\x16\x03\x01 hello")),
        ("nospace", ("", "nospace")),
    ],
)
def test_a_request_line_is_split_leniently(line: str, expected: tuple[str, str]) -> None:
    assert request_line(line) == expected


def test_a_head_is_split_into_every_line_it_holds() -> None:
    head = b"POST /a%20b?q=1 HTTP/1.1\r\nHost: x\r\nno colon here\nX-Y:  z \r\n\r\n"

    method, path, query, headers = split_head(head)

    assert (method, path, query) == ("POST", "/a b", "q=1")
    assert headers == (("host", "x"), ("", "no colon here"), ("x-y", "z"))


@settings(deadline=None, max_examples=200)
@given(head=st.binary(max_size=600), rest=st.binary(max_size=100), whole=st.booleans())
def test_any_bytes_at_all_are_journaled_as_a_refused_request(
    head: bytes, rest: bytes, whole: bool
) -> None:
    emulator = Emulator(clock=FakeClock())
    refused = RefusedHead(head, whole, rest, "127.0.0.1", 400, (), b"Invalid HTTP request")

    journal_refused_head(emulator, refused)

    (exchange,) = emulator.journal.snapshot()
    assert exchange.refused == "door" and exchange.response.status == 400
    assert exchange.request.body == rest
    exchange.printable()  # and its printed form is built
