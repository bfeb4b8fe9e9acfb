"""Every way a client leaks a known secret or token is caught, or documented as out of scope;
the stream scanner catches them across chunk boundaries, in bounded memory, and fast."""

from __future__ import annotations

import base64
import json
import random
import time
import tracemalloc
from urllib.parse import quote, quote_plus, urlencode

import pytest

from m2m_contract import _secrets as S
from m2m_contract._secrets import REDACTED, Finding, Known

SECRET = "Zx9/Lm+Tq~v.R8_pä Hunter2~~~"  # marks to encode, unreserved ones, non-ASCII
CLIENT_ID = "partner-client"
RNG = random.Random(6749)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


CLAIMS = {"sub": "partner-client@clients", "iat": 1714560000}
TOKEN = ".".join(
    b64url(part)
    for part in (b'{"alg":"RS256","typ":"JWT"}', json.dumps(CLAIMS).encode(), RNG.randbytes(256))
)
SIGNATURE = TOKEN.rsplit(".", 1)[1]
SECRET_LABEL, TOKEN_LABEL = "the client secret", "the access token"
KNOWN = Known(secrets=[(SECRET_LABEL, SECRET)], tokens=[(TOKEN_LABEL, TOKEN)], client_id=CLIENT_ID)
RAW = SECRET.encode()
BODY = json.dumps({"client_id": CLIENT_ID, "client_secret": SECRET, "scope": "read"})
FORM = urlencode({"a": "1", "client_secret": SECRET})


def ansi_between_characters(text: str) -> str:
    return "".join(f"\x1b[1;3{i % 8}m{c}" for i, c in enumerate(text)) + "\x1b[0m"


def every_u(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


LEAK_MODES = [
    ("plain", SECRET, S.PLAIN),
    ("base64", base64.b64encode(RAW).decode(), S.B64),
    ("base64 without padding", base64.b64encode(RAW).decode().rstrip("="), S.B64_UNPADDED),
    ("URL-safe base64", base64.urlsafe_b64encode(RAW).decode(), S.B64URL),
    ("URL-safe base64 without padding", b64url(RAW), S.B64URL_UNPADDED),
    ("percent-encoded, nothing safe", quote(SECRET, safe=""), S.PERCENT),
    ("urllib.parse.quote()d", quote(SECRET), S.PERCENT),
    ("percent-encoded in lower-case hex", S._lower_hex(quote(SECRET, safe="")), S.PERCENT),
    ("form-urlencoded (+ for space)", quote_plus(SECRET), S.FORM),
    ("every character percent-encoded", "".join(f"%{b:02X}" for b in RAW), S.PERCENT_ALL),
    ("every character percent-encoded, lower", "".join(f"%{b:02x}" for b in RAW), S.PERCENT_ALL),
    ("hex", RAW.hex(), S.HEX),
    ("upper-case hex", RAW.hex().upper(), S.HEX),
    ("split across two lines", f"{SECRET[:9]}\n{SECRET[9:]}", S.PLAIN),
    ("split across two lines, CRLF", f"{SECRET[:17]}\r\n{SECRET[17:]}", S.PLAIN),
    ("JSON-escaped", json.dumps(SECRET)[1:-1], S.JSON_ESCAPED),
    ("JSON \\u escapes", every_u(SECRET), S.JSON_U),
    ("JSON \\u escapes, upper-case hex", every_u(SECRET).upper().replace("\\U", "\\u"), S.JSON_U),
    ("ANSI codes between characters", ansi_between_characters(SECRET), S.PLAIN),
    ("a 20-character prefix", SECRET[:20], S.PREFIX),
    ("a 14-character suffix", SECRET[-14:], S.SUFFIX),
    ("Basic header of client_id:secret", basic(CLIENT_ID, SECRET), S.BASIC),
    ("Basic header, RFC 6749 form-encoded first", basic(CLIENT_ID, quote_plus(SECRET)), S.BASIC),
    ("base64 of a JSON body holding it", base64.b64encode(BODY.encode()).decode(), S.B64_BLOB),
    ("URL-safe base64 of a form body", b64url(FORM.encode()), S.B64URL_BLOB),
]
TOKEN_LEAK_MODES = [
    ("the token", f"Bearer {TOKEN}", S.PLAIN),
    ("a token's signature alone", f"sig={SIGNATURE}", S.SIGNATURE),
    ("the start of a token's signature", f"sig={SIGNATURE[:20]}...", S.SIGNATURE_PREFIX),
    (
        "a token base64'd in a blob",
        base64.b64encode(json.dumps({"t": TOKEN}).encode()).decode(),
        S.B64_BLOB,
    ),
]
OUT_OF_SCOPE = [
    ("reversed", SECRET[::-1]),
    ("upper-cased", SECRET.upper()),
    ("lower-cased", SECRET.lower()),
    ("an 11-character prefix", SECRET[:11]),
    ("base64 of its hex (encoded twice)", base64.b64encode(RAW.hex().encode()).decode()),
    ("a token's header and claims alone", TOKEN.rsplit(".", 1)[0] + "." + REDACTED),
]


def leak(text: str) -> str:
    return f"\x1b[32mINFO\x1b[0m client says: {text} (done)\n"


@pytest.mark.parametrize(
    ("mode", "text", "label", "spelling", "kind"),
    [(m, t, SECRET_LABEL, s, "secret") for m, t, s in LEAK_MODES]
    + [(m, t, TOKEN_LABEL, s, "token") for m, t, s in TOKEN_LEAK_MODES],
    ids=[m for m, _, _ in LEAK_MODES + TOKEN_LEAK_MODES],
)
def test_each_leak_mode_is_caught_named_and_redacted(
    mode: str, text: str, label: str, spelling: str, kind: S.Kind
) -> None:
    output = leak(text)
    assert Finding(label, spelling, kind) in KNOWN.find(output)
    scanner = KNOWN.scanner()
    scanner.feed(output.encode())
    assert Finding(label, spelling, kind) in scanner.findings()
    clean = KNOWN.redact(output)
    assert KNOWN.find(clean) == [] and REDACTED in clean
    assert clean.startswith("\x1b[32mINFO\x1b[0m client says: ") and clean.endswith(" (done)\n")


@pytest.mark.parametrize(("mode", "text"), OUT_OF_SCOPE, ids=[m for m, _ in OUT_OF_SCOPE])
def test_what_the_docs_call_out_of_scope_is_not_claimed(mode: str, text: str) -> None:
    assert KNOWN.find(leak(text)) == []


def test_a_value_split_across_lines_is_redacted_on_both_lines() -> None:
    output = f"first: {SECRET[:9]}\n{SECRET[9:]} :last\n"
    assert KNOWN.redact(output) == "first: REDACTED\nREDACTED :last\n"


def test_escape_codes_inside_a_secret_are_dropped_and_those_around_it_kept() -> None:
    output = f"\x1b[31m{ansi_between_characters(SECRET)}\x1b[0m"  # it starts with a code
    assert KNOWN.redact(output) == f"\x1b[31m\x1b[1;30m{REDACTED}\x1b[0m\x1b[0m"


# -- the stream scanner --------------------------------------------------------------------

STREAM_SPELLINGS = [
    (ansi_between_characters(SECRET), Finding(SECRET_LABEL, S.PLAIN)),
    ("".join(f"%{b:02X}" for b in RAW), Finding(SECRET_LABEL, S.PERCENT_ALL)),
    (f"{SIGNATURE[:30]}\r\n{SIGNATURE[30:]}", Finding(TOKEN_LABEL, S.SIGNATURE, "token")),
]


@pytest.mark.parametrize(("spelled", "finding"), STREAM_SPELLINGS)
def test_a_spelling_straddling_a_block_boundary_is_found_at_every_offset(
    spelled: str, finding: Finding
) -> None:
    stream = b"x" * 40 + spelled.encode() + b"y" * 40
    for offset in range(1, len(stream)):
        scanner = KNOWN.scanner(block=offset)  # a block ends exactly at the offset
        scanner.feed(stream[:offset])
        scanner.feed(stream[offset:])
        assert scanner.findings() == [finding], offset


def test_byte_by_byte_feeding_finds_an_escape_coloured_secret() -> None:
    scanner = KNOWN.scanner(block=3)
    for byte in leak(ansi_between_characters(SECRET)).encode():
        scanner.feed(bytes([byte]))
    assert scanner.findings() == [Finding(SECRET_LABEL, S.PLAIN)]


def test_findings_can_be_read_midway_and_feeding_goes_on() -> None:
    scanner = KNOWN.scanner()
    scanner.feed(f"one {SECRET[:10]}".encode())
    assert scanner.findings() == []
    scanner.feed(f"{SECRET[10:]} two {TOKEN}".encode())
    found = {Finding(SECRET_LABEL, S.PLAIN), Finding(TOKEN_LABEL, S.PLAIN, "token")}
    assert set(scanner.findings()) == found
    assert set(scanner.findings()) == found


def log_chunk(size: int) -> bytes:
    """Ordinary client output, with colour codes, holding no known value."""
    line = b"2024-05-01T12:00:00Z \x1b[32mINFO\x1b[0m GET /api/members status=200 took=12ms\n"
    return (line * (size // len(line) + 1))[:size]


def test_memory_stays_bounded_over_a_256_mib_stream() -> None:
    scanner, chunk = KNOWN.scanner(), log_chunk(64 * 1024)
    bound = scanner.bound()
    assert bound < 2 * 1024 * 1024  # a block of 1 MiB, an escape, the longest spelling
    for _ in range(240 * 16):
        scanner.feed(chunk)
    tracemalloc.start()  # over the last 16 MiB: what the scanner allocates has stopped growing
    try:
        for _ in range(16 * 16):
            scanner.feed(chunk)
        scanner.feed(leak(SECRET).encode())
        found = scanner.findings()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found == [Finding(SECRET_LABEL, S.PLAIN)]
    assert scanner.peak <= bound
    assert peak < 16 * 2**20  # a few transient copies of a 1 MiB block, never the stream


def test_scan_speed_is_measured_and_printed(capsys: pytest.CaptureFixture[str]) -> None:
    size, chunk = 64 * 1024 * 1024, 64 * 1024
    plain = (b"2024-05-01T12:00:00Z INFO GET /api/members status=200 took=12ms\n" * 1100)[:chunk]
    rates = {}
    for name, data in (("plain", plain), ("ANSI-coloured", log_chunk(chunk))):
        scanner = KNOWN.scanner()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(size // chunk):
            scanner.feed(data)
        scanner.feed(leak(quote(SECRET)).encode())
        found = scanner.findings()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert found == [Finding(SECRET_LABEL, S.PERCENT)]
        mib = size / 2**20
        rates[name] = f"{mib / wall:.0f} MiB/s wall, {mib / max(cpu, 1e-9):.0f} MiB/s CPU"
    with capsys.disabled():
        print(f"\nStreamScanner, 64 MiB, 2 known values: {rates}")
