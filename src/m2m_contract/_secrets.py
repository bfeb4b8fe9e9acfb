"""The one vocabulary of secrets and tokens: field names, headers, shapes and spellings.

Every redaction, the cassette scrubber, the cassette hygiene check and the leak checks ask
this module, so they agree on what a secret looks like. Pure code: no I/O.

* Names: `is_secret_key`, `is_token_key` (any case style, via `normalise_key`),
  `is_credential_header`, `is_credential_cookie`.
* Shapes: `JWT`, `looks_like_token`, `is_placeholder`. An opaque token is at least
  `TOKEN_MIN_LENGTH` characters of the base64, base64url and hex alphabets (plus `.`, `~`).
  Hex (one case, UUIDs too) needs letters, digits and `HEX_MIN_ENTROPY` bits of Shannon
  entropy per character; anything else `TOKEN_MIN_ENTROPY`, and must not be made of words:
  split at `/._~+=-`, less than `WORDY_SHARE` of its characters may sit in segments of one
  case at most 16 long (`usr`, `x86`, `LLVM`) or of camelCase words with vowels. So paths,
  identifiers, host names and versions are no tokens. Measured: 0 in 300,000 `token_hex(16)`
  and about 1 in 100,000 `token_urlsafe(24)` are missed; lowercase letters alone are words.
* Placeholders (`is_placeholder`) are neither tokens nor hidden as field values: anything
  starting with REDACTED, the spellings in PLACEHOLDERS (add one there to allow it), masks
  such as `xxxx` or `****`, `<token>`, `{{token}}`, `${TOKEN}`, `YOUR_CLIENT_SECRET`.
* Known values (`Known`): each is sought in every spelling of `spellings()`, in text whose
  ANSI escape sequences and line breaks are removed first; `StreamScanner` does the same
  over an unbounded byte stream. Values shorter than `MIN_SPELLED` are sought only as they
  are, values shorter than `MIN_VALUE` not at all. Out of scope: a value reversed,
  case-changed, cut below `AFFIX` characters, or encoded twice (base64 of its hex...). A
  JWT's header and claims are shared by many tokens and readable by anyone, so for a JWT
  the prefix and suffix rules apply to its signature.
* Structural redaction (`redact`, `redact_header`, `redact_json`, `find_structural`): what
  needs no known value: secret and token fields, Bearer and Basic credentials, JWTs.
  `is_scrubbed` says what they leave: a placeholder, or a JWT whose signature is REDACTED.
* URLs (`redact_url`, `find_url`; `URL` finds them in text, `is_url_header` names the headers
  that hold one): the password of `user:password@`, query and fragment keys and values by
  field name, and keys or values shaped like a token (`looks_like_token`, decoded first).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import string
import threading
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Literal, TypeAlias
from urllib.parse import quote, quote_plus, unquote, unquote_plus

REDACTED = "REDACTED"
Kind: TypeAlias = Literal["secret", "token"]
OnToken: TypeAlias = Callable[[str], str]
MIN_VALUE = 4  # shorter values would blank out ordinary words
MIN_SPELLED = 8  # shorter values are sought only as they are
AFFIX = 12  # the shortest prefix or suffix of a value that counts as the value
TOKEN_MIN_LENGTH = 20
TOKEN_MIN_ENTROPY = 3.5  # bits per character; random base64url of 20 characters has ~4.0
HEX_MIN_ENTROPY = 2.8  # of at most 4; "deadbeefdeadbeef..." has 2.2
WORDY_SHARE = 0.8
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key")
AUTH_SCHEMES = ("basic", "bearer", "digest", "dpop", "mac", "negotiate", "ntlm", "token")
PLACEHOLDERS = ("REDACTED", "[REDACTED]", "<redacted>", "FILTERED", "[FILTERED]", "changeme",
                "placeholder", "example", "null", "none", "undefined", "...")  # fmt: skip

# Spelling names, as reports show them.
PLAIN, JSON_ESCAPED, JSON_U = "plain", "JSON-escaped", "JSON \\u escapes"
PERCENT, FORM = "percent-encoded", "form-urlencoded"
PERCENT_ALL = "percent-encoded (every character)"
B64, B64_UNPADDED = "base64", "base64 (unpadded)"
B64URL, B64URL_UNPADDED = "base64 (URL-safe)", "base64 (URL-safe, unpadded)"
B64_BLOB, B64URL_BLOB = "base64 (inside a larger blob)", "base64 (URL-safe, inside a larger blob)"
BASIC = "Basic credentials (base64 of client_id:secret)"
HEX = "hex"
PREFIX, SUFFIX = "a prefix of 12+ characters", "a suffix of 12+ characters"
SIGNATURE = "the signature alone"
SIGNATURE_PREFIX = "a prefix of the signature (12+ characters)"
SIGNATURE_SUFFIX = "a suffix of the signature (12+ characters)"

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
# Escape sequences (ECMA-48, ECMA-35): CSI (colours), OSC (titles, links), nF such as the
# charset designation ESC ( B that `tput sgr0` ends with, and the two-byte Fp/Fe/Fs ones
# (ESC 7 of `tput sc`, ESC c). ESC [ and ESC ] alone are no sequence: a stream cut there waits.
_ANSI = (
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]{0,512}(?:\x07|\x1b\\)|[ -/]{1,8}[0-~]"
    r"|[0-Z\\^_`-~])"
)
_MAX_ESCAPE = 520
_NOISE = re.compile(rf"{_ANSI}|\r|\n")
_ANSI_BYTES = re.compile(_ANSI.encode())
_LINE_BREAK = re.compile(r"(\r\n?|\n)")
_CAMEL = (re.compile(r"([A-Z]+)([A-Z][a-z])"), re.compile(r"([a-z0-9])([A-Z])"))
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")
_SECRET_ENDS = ("secret", "password", "passwd", "passphrase", "apikey", "privatekey",
                "clientassertion")  # fmt: skip
_SESSION_COOKIES = ("session", "sessionid", "sessid", "sid", "auth")
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9+/_.~-]+={0,2}")
_HEX = re.compile(r"[0-9a-f-]+|[0-9A-F-]+")
_SEGMENTS = re.compile(r"[/._~+=-]+")
_WORD = re.compile(
    r"[a-z\d]{1,16}|[A-Z\d]{1,16}|(?:[A-Z]?(?=[a-z]*[aeiouy])[a-z]{2,}|[A-Z]{2,}(?![a-z]))+\d*"
)
_MASK = re.compile(r"(?i)[x*•#.\s_-]+|your[\s_-][\w\s.-]*|\$\{.*\}|\{\{.*\}\}|<.*>")
_PLACEHOLDERS = {p.casefold() for p in PLACEHOLDERS}
_NEEDLE = 32
_CODES = 32  # a stream using more distinct escape sequences is cleaned by regex


def normalise_key(name: str) -> str:
    """`accessToken`, `Access-Token`, `ACCESS_TOKEN`, `access.token` -> `access_token`."""
    for camel in _CAMEL:
        name = camel.sub(r"\1_\2", name)
    return _NOT_ALNUM.sub("_", name).strip("_").lower()


def is_secret_key(name: str) -> bool:
    """A field whose value is a secret: `client_secret`, `password`, `apiKey`, `*_secret`..."""
    return normalise_key(name).replace("_", "").endswith(_SECRET_ENDS)


def is_token_key(name: str) -> bool:
    """A field whose value is a token: `access_token`, `token`, `*_token` (not `token_type`)."""
    return not is_secret_key(name) and normalise_key(name).replace("_", "").endswith("token")


def is_credential_header(name: str) -> bool:
    """Authorization, cookies, `x-api-key`, and any header named like a secret or token field."""
    return name.strip().lower() in CREDENTIAL_HEADERS or is_secret_key(name) or is_token_key(name)


def is_credential_cookie(name: str, value: str) -> bool:
    """A cookie named like a secret, token or session (digits at the end aside: `auth0`), or
    whose value, percent-decoded, looks like a token or holds one between colons (a signed
    cookie such as `s:v0:<id>.<signature>`)."""
    bare = normalise_key(name).replace("_", "").rstrip(string.digits)
    decoded = unquote(value.strip().strip('"'))
    shaped = any(looks_like_token(piece) for piece in dict.fromkeys((decoded, *decoded.split(":"))))
    return bare.endswith(_SESSION_COOKIES) or is_secret_key(name) or is_token_key(name) or shaped


def is_placeholder(value: str) -> bool:
    """A stand-in, not a secret: REDACTED..., PLACEHOLDERS, masks (`xxxx`, `****`), `<token>`,
    `{{token}}`, `${TOKEN}`, `YOUR_CLIENT_SECRET`, one character repeated, nothing."""
    text = value.strip()
    return (
        text.startswith(REDACTED)
        or text.casefold() in _PLACEHOLDERS
        or len(set(text)) <= 1
        or _MASK.fullmatch(text) is not None
    )


def _entropy(value: str) -> float:
    return -sum(c / len(value) * math.log2(c / len(value)) for c in Counter(value).values())


def looks_like_token(value: str) -> bool:
    """A JWT (its signature not REDACTED) or an opaque high-entropy value (see module doc)."""
    if is_placeholder(value):
        return False
    if JWT.fullmatch(value):
        return not _unsigned(value)
    if len(value) < TOKEN_MIN_LENGTH or not _TOKEN_CHARS.fullmatch(value):
        return False
    if _HEX.fullmatch(value):
        digits = sum(c.isdigit() for c in value)
        return 0 < digits < len(value) - value.count("-") and _entropy(value) >= HEX_MIN_ENTROPY
    segments = [s for s in _SEGMENTS.split(value) if s]
    words = sum(len(s) for s in segments if _WORD.fullmatch(s))
    return words < WORDY_SHARE * sum(map(len, segments)) and _entropy(value) >= TOKEN_MIN_ENTROPY


def _unsigned(jwt: str) -> bool:
    return jwt.endswith(f".{REDACTED}")


def unsign(token: str, known: Known | Iterable[str] | None = None) -> str:
    """A JWT without its signature (header and claims kept) unless they hold a known value;
    anything else becomes REDACTED."""
    if not JWT.fullmatch(token):
        return REDACTED
    header, claims, _ = token.split(".")
    decoded = []
    for part in (header, claims):
        try:
            decoded.append(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode())
        except (binascii.Error, UnicodeDecodeError, ValueError):
            decoded.append(part)
    return (
        REDACTED if _as_known(known).find("\n".join(decoded)) else f"{header}.{claims}.{REDACTED}"
    )


# -- spellings of a known value ------------------------------------------------------------


def _lower_hex(encoded: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), encoded)


def _blob_cores(raw: bytes) -> list[str]:
    """The base64 characters that depend on `raw` alone, at each of the 3 byte alignments."""
    encoded = [base64.b64encode(bytes(pad) + raw).decode() for pad in range(3)]
    return [encoded[pad][-(-8 * pad // 6) : 8 * (pad + len(raw)) // 6] for pad in range(3)]


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _to_bytes(text: str) -> bytes:
    """UTF-8; a surrogateescape'd byte back as itself, any other lone surrogate as it is."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _affix_source(value: str, kind: Kind) -> str:
    """What prefixes and suffixes are taken of: a JWT's signature, any other value itself."""
    return value.rsplit(".", 1)[1] if kind == "token" and JWT.fullmatch(value) else value


def spellings(value: str, *, kind: Kind = "secret", client_id: str | None = None) -> dict[str, str]:
    """Every spelling of `value` that `Known` seeks: {text: spelling name}, first name wins.
    `client_id` adds the Basic credentials of a secret, raw and RFC 6749 §2.3.1 encoded."""
    found: dict[str, str] = {}

    def add(name: str, *texts: str) -> None:
        for text in texts:
            if len(text := _NOISE.sub("", text)) >= MIN_VALUE:
                found.setdefault(text, name)

    if len(value) < MIN_VALUE or value.startswith(REDACTED):
        return found
    add(PLAIN, value)
    if len(value) < MIN_SPELLED or not _encodable(value):
        return found  # a lone surrogate (bytes decoded with surrogateescape) only as it is
    raw, escaped, plus = value.encode(), json.dumps(value)[1:-1], quote_plus(value)
    add(JSON_ESCAPED, escaped, json.dumps(value, ensure_ascii=False)[1:-1])
    add(JSON_ESCAPED, escaped.replace("/", "\\/"))
    utf16 = value.encode("utf-16-be")
    units = [int.from_bytes(utf16[i : i + 2], "big") for i in range(0, len(utf16), 2)]
    add(JSON_U, "".join(f"\\u{u:04x}" for u in units), "".join(f"\\u{u:04X}" for u in units))
    percent = (quote(value, safe=""), quote(value))
    add(PERCENT, *percent, *map(_lower_hex, percent))
    add(FORM, plus, _lower_hex(plus))
    every = "".join(f"%{byte:02X}" for byte in raw)
    add(PERCENT_ALL, every, every.lower())
    std, url = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()
    add(B64, std)
    add(B64_UNPADDED, std.rstrip("="))
    add(B64URL, url)
    add(B64URL_UNPADDED, url.rstrip("="))
    if kind == "secret" and client_id is not None:
        for pair in (f"{client_id}:{value}", f"{quote_plus(client_id)}:{plus}"):
            basic = base64.b64encode(pair.encode()).decode()
            add(BASIC, basic, basic.rstrip("="))
    for variant in dict.fromkeys((value, escaped, plus)):  # a JSON or form body, base64ed
        cores = _blob_cores(variant.encode())
        add(B64_BLOB, *cores)
        add(B64URL_BLOB, *(c.replace("+", "-").replace("/", "_") for c in cores))
    add(HEX, raw.hex(), raw.hex().upper())
    affix, names = _affix_source(value, kind), (PREFIX, SUFFIX)
    if affix != value:
        add(SIGNATURE, affix)
        names = (SIGNATURE_PREFIX, SIGNATURE_SUFFIX)
    if len(affix) > AFFIX:
        add(names[0], affix[:AFFIX])
        add(names[1], affix[-AFFIX:])
    return found


# -- known values --------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """What leaked and how it was spelled; never the value itself."""

    label: str
    spelling: str
    kind: Kind = "secret"

    def __str__(self) -> str:
        return f"{self.label} ({self.spelling})"


def _needles(texts: list[str], *, tail_only: bool) -> list[str]:
    """Few short strings, one of them in each of `texts`: a quick test before the regex.
    Each is a window of _NEEDLE characters near the start or the end of a text, shared by as
    many texts as can be (one base64 core covers its JSON and form variants); for a JWT only
    near the end, as its start is shared by many tokens."""
    left, needles = sorted(texts, key=len), []
    while left:
        text = left[0]
        ends = range(len(text) - _NEEDLE, max(-1, len(text) - 3 * _NEEDLE), -1)
        starts = () if tail_only else range(min(2 * _NEEDLE, len(text) - _NEEDLE + 1))
        windows = [text[i : i + _NEEDLE] for i in (*ends, *starts)] or [text]
        best = max(windows, key=lambda w: sum(w in t for t in left))
        needles.append(best)
        left = [t for t in left if best not in t]
    return needles


class _Spelled:
    """One known value's spellings, compiled once for text and for bytes (immutable)."""

    def __init__(self, label: str, value: str, kind: Kind, table: dict[str, str]) -> None:
        self.kind, self.affix = kind, _affix_source(value, kind)
        self.findings = {text: Finding(label, name, kind) for text, name in table.items()}
        self.bytes_findings = {_to_bytes(t): f for t, f in self.findings.items()}
        needles = _needles(list(table), tail_only=self.affix != value)
        self.needles = tuple(needles)
        self.bytes_needles = tuple(map(_to_bytes, needles))
        self.longest = max(map(len, self.bytes_findings))

    # Compiled on the first needle found: most values never leak, and compiling is slow.
    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("|".join(map(re.escape, sorted(self.findings, key=len, reverse=True))))

    @cached_property
    def bytes_pattern(self) -> re.Pattern[bytes]:
        texts = sorted(self.bytes_findings, key=len, reverse=True)  # the longest wins at a place
        return re.compile(b"|".join(map(re.escape, texts)))

    def redact(self, text: str) -> str:
        norm, starts, origins = _normalise(text)
        out, done, pos = [], 0, 0  # `done` counts original characters, `pos` normalised ones
        while match := self.pattern.search(norm, pos):
            start, end = match.span()
            name = self.findings[match.group()].spelling  # a cut value is redacted in full
            if name in (PREFIX, SIGNATURE_PREFIX):
                end += _common(norm[end : end + len(self.affix)], self.affix[AFFIX:])
            elif name in (SUFFIX, SIGNATURE_SUFFIX):
                start -= _common(norm[pos:start][::-1], self.affix[-AFFIX - 1 :: -1])
            first = _original(start, starts, origins)
            last = _original(end - 1, starts, origins) + 1
            out.append(text[done:first])
            for i, piece in enumerate(_LINE_BREAK.split(text[first:last])):
                out.append(piece if i % 2 else REDACTED if _NOISE.sub("", piece) else "")
            done, pos = last, end
        return "".join(out) + text[done:]


class Known:
    """The known secret and token values of one run, each sought in all its spellings.

    `Known(secrets=[("the client secret", secret)], client_id=client_id)`; `add` more
    (tokens as they are issued) from any thread while others search. Never shows a value.
    """

    def __init__(
        self,
        secrets: Iterable[str | tuple[str, str]] = (),
        tokens: Iterable[str | tuple[str, str]] = (),
        client_id: str | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._seen: set[tuple[str, Kind]] = set()
        self._values: tuple[_Spelled, ...] = ()  # replaced, never changed: searches need no lock
        groups: tuple[tuple[Kind, Iterable[str | tuple[str, str]]], ...] = (
            ("secret", secrets),
            ("token", tokens),
        )
        for kind, items in groups:
            for item in items:
                label, value = item if isinstance(item, tuple) else (f"a {kind}", item)
                self.add(label, value, kind=kind, client_id=client_id)

    def add(
        self, label: str, value: str, *, kind: Kind = "secret", client_id: str | None = None
    ) -> None:
        """Seek `value` (reported as `label`, e.g. "the client secret") from now on."""
        table = spellings(value, kind=kind, client_id=client_id) if isinstance(value, str) else {}
        if not table or (value, kind) in self._seen:
            return
        spelled = _Spelled(label, value, kind, table)
        with self._lock:
            if (value, kind) not in self._seen:
                self._seen.add((value, kind))
                values = (*self._values, spelled)
                self._values = tuple(sorted(values, key=lambda v: v.longest, reverse=True))

    def learn(self, parsed: Any) -> None:
        """Add the string value of every secret and token field of parsed JSON, at any depth
        (placeholders and unsigned JWTs aside: they are what redaction leaves)."""
        if isinstance(parsed, list):
            for item in parsed:
                self.learn(item)
        elif isinstance(parsed, dict):
            for key, value in parsed.items():
                kind = _field_kind(str(key))
                if kind is not None and isinstance(value, str):
                    if not is_scrubbed(value):
                        self.add(f"the issued {normalise_key(str(key))}", value, kind=kind)
                else:
                    self.learn(value)

    def __len__(self) -> int:
        return len(self._values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def __repr__(self) -> str:
        secrets = sum(v.kind == "secret" for v in self._values)
        return f"Known({secrets} secrets, {len(self) - secrets} tokens)"

    def __deepcopy__(self, memo: dict[int, Any]) -> Known:
        return self  # one run's values are shared (pytest-recording deep-copies its config)

    def find(self, text: str | bytes, kind: Kind | None = None) -> list[Finding]:
        """One finding per (label, spelling) of a known value in `text` (normalised first);
        only of values of `kind` when given (the others are not even sought: a token where
        it belongs costs no search for it)."""
        if isinstance(text, bytes):
            scanner = self.scanner()
            scanner.feed(text)
            return [f for f in scanner.findings() if kind is None or f.kind == kind]
        norm, found = _NOISE.sub("", text), dict[Finding, None]()
        for value in self._values:
            if kind is not None and value.kind != kind:
                continue
            if any(needle in norm for needle in value.needles):
                for match in value.pattern.finditer(norm):
                    found[value.findings[match.group()]] = None
        return list(found)

    def redact(self, text: str) -> str:
        """`text` with every spelling found replaced by REDACTED, longest first; a value split
        by line breaks is redacted on each line, escape codes inside it are dropped."""
        norm = _NOISE.sub("", text)
        for value in self._values:
            if any(needle in norm for needle in value.needles):
                text = value.redact(text)
                norm = _NOISE.sub("", text)
        return text

    def scanner(self, block: int = 1 << 20) -> StreamScanner:
        """A scanner of an unbounded byte stream for these values (see StreamScanner)."""
        return StreamScanner(self, block)


def _normalise(text: str) -> tuple[str, list[int], list[int]]:
    """`text` without escape sequences and line breaks, and where each kept run started:
    run k begins at normalised index starts[k] and original index origins[k]."""
    starts, origins, pieces, kept, at = [0], [0], [], 0, 0
    for noise in _NOISE.finditer(text):
        pieces.append(text[at : noise.start()])
        kept += noise.start() - at
        at = noise.end()
        starts.append(kept)
        origins.append(at)
    pieces.append(text[at:])
    return "".join(pieces), starts, origins


def _common(a: str, b: str) -> int:
    """How many characters `a` and `b` share at their start."""
    same = (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
    return next(same, min(len(a), len(b)))


def _original(index: int, starts: list[int], origins: list[int]) -> int:
    run = bisect_right(starts, index) - 1  # the last run starting at or before: not empty
    return origins[run] + index - starts[run]


def _clean(raw: bytes) -> bytes:
    return (_ANSI_BYTES.sub(b"", raw) if b"\x1b" in raw else raw).translate(None, b"\r\n")


class StreamScanner:
    """Scans a byte stream of any length for known spellings, in bounded memory.

    Bytes are gathered in blocks of `block` bytes. A block loses its escape sequences and
    line breaks (an escape cut at its end waits for the next block) and is searched after the
    last `longest spelling - 1` normalised bytes before it; a match starting in those bytes
    waits for the next block, which may make it longer. So a spelling straddling chunks is
    found and named as `Known.find` names it in the whole stream. At most `bound()` bytes are
    held. One feeding thread at a time.
    """

    def __init__(self, known: Known, block: int = 1 << 20) -> None:
        self._known, self.block = known, block
        self._pending = bytearray()  # it starts with any escape the last block ended in
        self._tail = b""  # the end of the normalised stream searched so far
        self._resume: dict[_Spelled, int] = {}  # where in the tail a value's search goes on
        self._found: dict[Finding, None] = {}
        self._codes: list[bytes] = []  # escape sequences seen: bytes.replace beats re.sub
        self.peak = 0  # the most bytes held at once

    def bound(self) -> int:
        """The most bytes held at once, with the values known now."""
        values = self._known._values  # the longest spelling comes first
        return self.block + _MAX_ESCAPE + (values[0].longest if values else 0)

    def feed(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            room = max(1, self.block - len(self._pending))
            self._pending += view[:room]
            view = view[room:]
            if len(self._pending) >= self.block:
                self._scan()

    def findings(self) -> list[Finding]:
        """Every finding so far, one per label and spelling; feeding may go on (a spelling
        cut by the end of what was fed is reported as the part seen)."""
        self._scan()
        self._search(self._tail + self._clean(bytes(self._pending)), final=True)
        return list(self._found)

    def _scan(self) -> None:
        raw = bytes(self._pending)
        cut = raw.rfind(b"\x1b", max(0, len(raw) - _MAX_ESCAPE))
        held = cut >= 0 and not _ANSI_BYTES.match(raw, cut)
        self._pending = bytearray(raw[cut:] if held else b"")
        clean = self._clean(raw[:cut] if held else raw)
        del raw  # one copy of the block fewer while it is searched
        self._search(self._tail + clean, final=False)

    def _clean(self, raw: bytes) -> bytes:
        for code in self._codes if b"\x1b" in raw else ():
            raw = raw.replace(code, b"")
        if b"\x1b" in raw:
            codes = set(_ANSI_BYTES.findall(raw))
            if len(self._codes) + len(codes) > _CODES:
                return _clean(raw)
            self._codes += codes
            for code in codes:
                raw = raw.replace(code, b"")
        return raw.translate(None, b"\r\n")

    def _search(self, data: bytes, *, final: bool) -> None:
        self.peak = max(self.peak, len(data) + len(self._pending))
        values = self._known._values  # the longest spelling comes first
        cutoff = len(data) if final or not values else max(0, len(data) - values[0].longest + 1)
        resume = {}
        for value in values:
            if any(needle in data for needle in value.bytes_needles):
                for match in value.bytes_pattern.finditer(data, self._resume.get(value, 0)):
                    if match.start() >= cutoff:
                        break
                    self._found[value.bytes_findings[match.group()]] = None
                    resume[value] = max(0, match.end() - cutoff)
        if not final:
            self._tail, self._resume = data[cutoff:], resume


@lru_cache(maxsize=64)
def _known_of(values: tuple[str, ...]) -> Known:
    return Known(secrets=values)


def _as_known(known: Known | Iterable[str] | None) -> Known:
    """Callers holding plain values (`redact(text, secrets)` as today) keep working."""
    if isinstance(known, Known):
        return known
    values = (known,) if isinstance(known, str) else known or ()
    return _known_of(tuple(v for v in values if isinstance(v, str)))


# -- structural redaction: what needs no known value ---------------------------------------

_QUOTED_KEY = re.compile(r"(\\*)([\"'])([^\"'\\\n]{1,64})\1\2\s*:\s*")
_BARE = re.compile(r"[^,}\]\s]+")
# A key is the last 64 characters before "=" at most: names are judged by how they end.
_FORM = re.compile(r"([\w.%\[\]-]{1,64})=(\"[^\"]*\"|'[^']*'|[^&\s\"'#]*)")
_CREDENTIALS = re.compile(
    r"(?i)\b(bearer|basic)(\s+)(?=[A-Za-z0-9._~+/=-]{8})([A-Za-z0-9._~+/-]++=*+)(?![\w\"=.~+/-])"
)
_PROSE = re.compile(r"[A-Z]?[a-z]{1,15}")  # "Bearer authentication" is prose


def is_scrubbed(value: str) -> bool:
    """What redaction leaves in a secret's place: a placeholder, or a JWT whose signature is
    REDACTED (its header and claims kept)."""
    return is_placeholder(value) or (JWT.fullmatch(value) is not None and _unsigned(value))


def _field_kind(key: str) -> Kind | None:
    key = unquote_plus(key)
    return "secret" if is_secret_key(key) else "token" if is_token_key(key) else None


def _string_end(text: str, start: int, quote_char: str, level: int) -> int:
    """Where a string opened before `start` ends. Nested `level` times in JSON strings, it
    ends at a quote after n (mod 2n+2) backslashes, n = 2**level - 1; else at the line end."""
    n, at = (1 << level) - 1, start
    while (at := text.find(quote_char, at)) >= 0:
        run = 0
        while run < at - start and text[at - 1 - run] == "\\":
            run += 1
        if run % (2 * n + 2) == n:
            return at - n
        at += 1
    return len(text) if (newline := text.find("\n", start)) < 0 else newline


def _structural(text: str, on_token: OnToken | None, found: list[Finding]) -> str:
    """Every structural rule, once: the redacted text; what was hidden goes to `found`."""

    def hide(kind: Kind, key: str, value: str, where: str) -> str:
        if is_scrubbed(value):
            return value
        found.append(Finding(f"the {normalise_key(unquote_plus(key))} field's value", where, kind))
        return on_token(value) if on_token and kind == "token" else REDACTED

    out, at = [], 0  # quoted keys, in JSON at any nesting of JSON strings, or in a repr
    for match in _QUOTED_KEY.finditer(text):
        kind, key, start = _field_kind(match.group(3)), match.group(3), match.end()
        escape, quote_char = match.group(1), match.group(2)
        if kind is None or match.start() < at:
            continue
        if text.startswith(escape + quote_char, start):
            start += len(escape) + 1
            end = _string_end(text, start, quote_char, len(escape).bit_length())
            out += [text[at:start], hide(kind, key, text[start:end], "in JSON")]
        elif (bare := _BARE.match(text, start)) and bare.group() not in ("null", "true", "false"):
            if bare.group()[0] in "{[":
                continue
            end, hidden = bare.end(), hide(kind, key, bare.group(), "in JSON")
            out += [text[at:start], hidden if hidden == bare.group() else f'"{hidden}"']
        else:
            continue
        at = end
    text = "".join(out) + text[at:]

    def form(m: re.Match[str]) -> str:
        kind, value = _field_kind(m.group(1)), m.group(2)
        quoted = value[:1] in ("'", '"')
        inner = value[1:-1] if quoted else value
        if kind is None or not inner:
            return m.group()
        hidden = hide(kind, m.group(1), inner, "in a form")
        return f"{m.group(1)}={value[0] + hidden + value[-1] if quoted else hidden}"

    def credentials(m: re.Match[str]) -> str:
        if is_scrubbed(m.group(3)) or _PROSE.fullmatch(m.group(3)):
            return m.group()
        found.append(Finding(f"{m.group(1).capitalize()} credentials", "in text", "token"))
        return f"{m.group(1)}{m.group(2)}{REDACTED}"

    def jwt(m: re.Match[str]) -> str:
        if is_scrubbed(m.group()):
            return m.group()
        found.append(Finding("a JWT", "in text", "token"))
        return on_token(m.group()) if on_token else REDACTED

    return JWT.sub(jwt, _CREDENTIALS.sub(credentials, _FORM.sub(form, text)))


def redact(
    text: str, known: Known | Iterable[str] | None = None, *, on_token: OnToken | None = None
) -> str:
    """Hide every spelling of a known value, then secret and token fields (JSON, quoted keys,
    forms, queries), Bearer and Basic credentials and JWTs; prose ("Bearer <token>") stays.
    `on_token` replaces a token instead of REDACTED (the scrubber passes `unsign`)."""
    return _structural(_as_known(known).redact(text), on_token, [])


def find_structural(text: str) -> list[Finding]:
    """What `redact` would hide without a known value: one finding per label and place."""
    found: list[Finding] = []
    _structural(text, None, found)
    return list(dict.fromkeys(found))


def redact_header(name: str, value: str, known: Known | Iterable[str] | None = None) -> str:
    """A header value safe to print: cookies become REDACTED, other credential headers keep
    only their authentication scheme ("Bearer REDACTED"), the rest goes through `redact`."""
    if name.strip().lower() in ("cookie", "set-cookie"):
        return REDACTED
    if is_credential_header(name):
        scheme, space, _ = value.strip().partition(" ")
        return f"{scheme} {REDACTED}" if space and scheme.lower() in AUTH_SCHEMES else REDACTED
    return redact(value, known)


def redact_json(
    value: Any, known: Known | Iterable[str] | None = None, *, on_token: OnToken | None = None
) -> Any:
    """Parsed JSON with secret-field values REDACTED and token-field values REDACTED (or
    `on_token(value)`) at any depth; every other string, keys too, goes through `redact`."""
    known = _as_known(known)
    if isinstance(value, str):
        return redact(value, known, on_token=on_token)
    if isinstance(value, list):
        return [redact_json(item, known, on_token=on_token) for item in value]
    if not isinstance(value, dict):
        return value
    clean: dict[str, Any] = {}
    for key, item in value.items():
        kind = _field_kind(str(key))
        if kind is None or item is None:
            item = redact_json(item, known, on_token=on_token)
        elif kind == "token" and on_token and isinstance(item, str):
            item = on_token(item)
        else:
            item = REDACTED
        clean[redact(str(key), known)] = item
    return clean


# -- URLs ----------------------------------------------------------------------------------

URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]{0,15}://[^\s\"'<>\\`{}|^]+")
URL_HEADERS = ("location", "content-location", "referer", "origin")
# RFC 3986, appendix B: scheme, authority, path, query, fragment; it matches any string.
_URL_PARTS = re.compile(r"([^:/?#]+:)?(//[^/?#]*)?([^?#]*)(\?[^#]*)?(#.*)?", re.DOTALL)


def is_url_header(name: str) -> bool:
    """A header whose whole value is a URL, perhaps a relative one (`Location`)."""
    return name.strip().lower() in URL_HEADERS


def _url(url: str, known: Known, on_token: OnToken | None, found: list[Finding] | None) -> str:
    """Every URL rule, once: the redacted URL; what was hidden goes to `found`."""

    def note(label: str, kind: Kind) -> None:
        if found is not None:
            found.append(Finding(label, "in a URL", kind))

    def structural(text: str) -> None:
        if found is not None:
            found.extend(find_structural(text))

    def pairs(text: str) -> str:
        out = []
        for piece in text.split("&"):
            key, eq, value = piece.partition("=")
            name, decoded = unquote_plus(key), unquote_plus(value)
            if not is_scrubbed(name) and (looks_like_token(name) or known.find(name)):
                note("a token-shaped query key", "token")
                key = REDACTED
            kind = _field_kind(name)
            if decoded and not is_scrubbed(decoded) and (kind or looks_like_token(decoded)):
                label = f"the {normalise_key(name)} field's value" if kind else ""
                note(label or "a token-shaped query value", kind or "token")
                hidden = on_token(decoded) if on_token and kind != "secret" else REDACTED
                value = quote(hidden, safe="-._~")
            elif (clean := redact(decoded, known, on_token=on_token)) != decoded:
                structural(decoded)
                value = quote_plus(clean, safe="-._~")
            out.append(f"{key}{eq}{value}")
        return "&".join(out)

    parts = _URL_PARTS.fullmatch(url)
    assert parts is not None  # the pattern matches any string
    scheme, authority, path, query, fragment = parts.groups("")
    userinfo, at, host = authority.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if colon and password and not is_scrubbed(unquote(password)):
            note("the password in a URL's userinfo", "secret")
            password = REDACTED
        authority = f"{user}{colon}{password}@{host}"
    structural(path)
    path = redact(path, known, on_token=on_token)
    query = "?" + pairs(query[1:]) if query else ""
    if "=" in fragment:
        fragment = "#" + pairs(fragment[1:])
    else:
        structural(fragment)
        fragment = redact(fragment, known, on_token=on_token)
    return known.redact(f"{scheme}{authority}{path}{query}{fragment}")


def redact_url(
    url: str, known: Known | Iterable[str] | None = None, *, on_token: OnToken | None = None
) -> str:
    """`url` with the password of its userinfo, its secret and token query (and fragment)
    values and its token-shaped query keys and values REDACTED (tokens: `on_token(value)`),
    the rest through `redact`; the layout of the URL is kept, so it still matches itself."""
    return _url(url, _as_known(known), on_token, None)


def find_url(url: str) -> list[Finding]:
    """What `redact_url` would hide without a known value: one finding per label."""
    found: list[Finding] = []
    _url(url, _as_known(None), None, found)
    return list(dict.fromkeys(found))
