"""The exchange model: what a client did, read from the emulator's journal. Pure code.

Every call has `seq`, its place in the journal (for ordering and evidence), and `n`, its number
among calls of its kind (token request 1, 2...; API call 1, 2...), which is what messages name.
Times are monotonic seconds: `at` when the request arrived, `answered` when its answer was
sent (None: it never was, the connection was reset or stalled).
"""

from __future__ import annotations

import base64
import binascii
import json
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote_plus

from .._protocol import ProtocolSettings
from .._secrets import Finding, Known, redact
from .._text import ellipsize, visible

if TYPE_CHECKING:
    from ..emulator import Exchange

Encoding = Literal["json", "form", "other", "none"]
Stream = Literal["stdout", "stderr"]
STREAMS: tuple[Stream, ...] = ("stdout", "stderr")
SHOWN_LIMIT = 80  # display cells of a client value quoted in a message


@dataclass(frozen=True)
class TokenCall:
    """One request to the token endpoint, parsed leniently (repeats and odd types kept)."""

    seq: int
    n: int
    at: float
    answered: float | None
    method: str
    query: tuple[tuple[str, str], ...]
    encoding: Encoding
    content_type: str
    pairs: tuple[tuple[str, Any], ...]
    basic: tuple[str, str] | None = field(repr=False)
    status: int
    response: Mapping[str, Any] | None
    retry_after: float | None
    fault: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def values(self, name: str) -> list[Any]:
        return [v for k, v in self.pairs if k == name]

    def param(self, name: str) -> Any:
        values = self.values(name)
        return values[0] if values else None

    @property
    def issued_token(self) -> str | None:
        """The access token of a well-formed (Bearer) success answer."""
        if self.status != 200 or self.response is None:
            return None
        if str(self.response.get("token_type", "")).lower() != "bearer":
            return None
        token = self.response.get("access_token")
        return token if isinstance(token, str) and token else None

    @property
    def answer_token(self) -> str | None:
        """The access_token of any 2xx JSON answer, well-formed or not (e.g. token_type mac)."""
        if not 200 <= self.status < 300 or self.response is None:
            return None
        token = self.response.get("access_token")
        return token if isinstance(token, str) and token else None

    @property
    def auth_method(self) -> str:
        """How the client authenticated: 'Basic', 'body' (client_secret) or 'none'."""
        if self.basic is not None:
            return "Basic"
        return "body" if self.values("client_secret") else "none"

    @property
    def expires_in(self) -> float | None:
        value = self.response.get("expires_in") if self.response else None
        return (
            float(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else None
        )


@dataclass(frozen=True)
class ApiCall:
    """One request to the protected API."""

    seq: int
    n: int
    at: float
    answered: float | None
    method: str
    path: str
    query_string: str
    authorization: str | None = field(repr=False)
    body: bytes = field(repr=False)
    status: int
    error: str | None  # the WWW-Authenticate error code, when any
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def bearer(self) -> str | None:
        """The credentials after 'Bearer' and its spaces (RFC 6750 §2.1: "Bearer" 1*SP
        b64token) when the header has that form."""
        if self.authorization is None:
            return None
        scheme, _, rest = self.authorization.partition(" ")
        rest = rest.lstrip(" ")
        return rest if scheme.lower() == "bearer" and rest else None


@dataclass(frozen=True)
class OtherCall:
    """A request to any other path of the emulator (discovery and JWKS included)."""

    seq: int
    n: int
    at: float
    method: str
    path: str
    query_string: str
    status: int
    kind: str = "other"
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    body: bytes = field(default=b"", repr=False)


FOREIGN_SEQ = 1_000_000


@dataclass(frozen=True)
class ForeignCall:
    """A request that reached the other origin a token-redirect scenario points to; its `seq`
    is the other journal's, plus FOREIGN_SEQ, so it never clashes with the emulator's."""

    seq: int
    n: int
    at: float
    method: str
    path: str
    query_string: str
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    body: bytes = field(repr=False)
    status: int


@dataclass(frozen=True)
class Outcome:
    """How the client run ended; `limit` is the scenario's time limit in seconds.

    `stdout` and `stderr` keep the head and tail of what the client printed (`dropped` bytes
    were cut from the middle of the two).
    """

    exit_code: int | None
    timed_out: bool = False
    stdout: str = field(default="", repr=False)
    stderr: str = field(default="", repr=False)
    error: str | None = None  # why it could not run, when it could not
    limit: float = 0.0
    dropped: int = 0
    elapsed: float = 0.0  # seconds the client ran
    # (stream, finding) for each known value printed, found by scanning everything the client
    # wrote as it wrote it; None: not scanned yet (observe() then scans what was kept).
    leaks: tuple[tuple[str, Finding], ...] | None = field(default=None, repr=False)

    @property
    def output(self) -> str:
        """Everything kept of what the client printed, stdout first (the streams apart:
        `stdout`, `stderr`, `Observation.printed`)."""
        if self.stdout and self.stderr and not self.stdout.endswith("\n"):
            return f"{self.stdout}\n{self.stderr}"
        return self.stdout + self.stderr

    @property
    def killed_by(self) -> int | None:
        """The signal that killed the client, when one did: a negative status, or 128 + N
        (how the harness and shells report a death by signal N)."""
        code = self.exit_code
        number = -code if code is not None and code < 0 else (
            code - 128 if code is not None and 128 < code < 128 + signal.NSIG else None
        )
        return number if number is not None and signal_name(number) else None

    @property
    def ended(self) -> str:
        """How the client ended, as a verb phrase: "exited with status 1", "was killed by
        signal 11 (SIGSEGV)", "was killed at the time limit", "could not start: ..."."""
        if self.error is not None:
            return f"could not start: {visible(self.error)}"
        if self.timed_out or self.exit_code is None:
            return "was killed at the time limit"
        number = self.killed_by
        if number is None:
            return f"exited with status {self.exit_code}"
        status = f"; exit status {self.exit_code}" if self.exit_code > 0 else ""
        return f"was killed by signal {number} ({signal_name(number)}{status})"


@dataclass(frozen=True)
class Observation:
    """Everything the checks judge: the settings, the traffic and the outcome of one run."""

    scenario: str
    settings: ProtocolSettings
    token_calls: tuple[TokenCall, ...]
    api_calls: tuple[ApiCall, ...]
    other_calls: tuple[OtherCall, ...]
    outcome: Outcome
    handshakes: tuple[float, ...] = ()  # when a TLS ClientHello arrived
    foreign_calls: tuple[ForeignCall, ...] = ()  # requests the other origin received
    # What the journals could not keep whole: exchanges evicted (`dropped`), requests read
    # but never recorded (`unjournaled`), and (seq, request parts cut) of those recorded.
    dropped: int = 0
    unjournaled: int = 0
    cut: tuple[tuple[int, tuple[str, ...]], ...] = ()

    @property
    def issued_tokens(self) -> dict[str, TokenCall]:
        """Every token a Bearer answer issued (to say which request a call's token came
        from, ask `token_source`: the same token can be issued twice)."""
        return {c.issued_token: c for c in self.token_calls if c.issued_token}

    def token_source(self, call: ApiCall, *, usable: bool = True) -> TokenCall | None:
        """The token request whose answer gave the token `call` presents: the latest one
        before the call whose answer carried it (tokens minted in the same second are the
        same, so two requests can issue one token, and a client holds the latest). Only
        well-formed Bearer answers count, unless `usable` is False (any 2xx access_token)."""
        bearer = call.bearer
        if bearer is None:
            return None
        return next(
            (
                c
                for c in reversed(self.token_calls)
                if c.seq < call.seq
                and (c.issued_token if usable else c.answer_token) == bearer
            ),
            None,
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.settings.client_secret, *self.issued_tokens)

    @cached_property
    def known(self) -> Known:
        """The run's secret and every token any answer carried, in all their spellings."""
        tokens = {c.answer_token: c for c in self.token_calls if c.answer_token}
        return known_values(self.settings, tokens)

    def redacted(self, text: str) -> str:
        """`text` with this run's secret and tokens (any spelling) and every credential
        shape hidden: what any message or report may show of what the client sent or said."""
        return redact(text, self.known)

    def shown(self, value: object, limit: int = SHOWN_LIMIT) -> str:
        """A value the client sent (or printed), as a message quotes it: redacted whole
        first (a value split by line breaks is hidden too), then its control characters
        escaped, then cut to `limit` display cells, then quoted. Non-strings are shown as
        JSON. Every message that quotes a client value goes through here."""
        if isinstance(value, str):
            text = value
        else:
            try:
                text = json.dumps(value, ensure_ascii=False)
            except (TypeError, ValueError, RecursionError):
                text = f"a JSON {type(value).__name__}"
        return f"'{ellipsize(visible(self.redacted(text)), limit)}'"

    def printed(self, stream: Stream) -> tuple[str, ...]:
        """The non-empty lines the client left on `stream` (of what was kept), redacted as
        one text before it is split, so a value wrapped over lines is hidden; neither cut
        nor escaped."""
        return self._printed[stream]

    @cached_property
    def _printed(self) -> dict[Stream, tuple[str, ...]]:
        texts = {"stdout": self.outcome.stdout, "stderr": self.outcome.stderr}
        return {
            stream: tuple(
                line for line in self.redacted(texts[stream]).splitlines() if line.strip()
            )
            for stream in STREAMS
        }


_SIGNALS = {s.value: s.name for s in signal.Signals if s.name.startswith("SIG")}


def signal_name(number: int) -> str:
    """SIGSEGV for 11 (this platform's names); "" for a number that is no signal."""
    return _SIGNALS.get(number, "")


def known_values(settings: ProtocolSettings, tokens: Iterable[str] = ()) -> Known:
    """The values a run must keep to itself: the client secret, and the tokens it was given."""
    return Known(
        secrets=[("the client secret", settings.client_secret)],
        tokens=[("an access token", t) for t in tokens],
        client_id=settings.client_id,
    )


def _parse_pairs(content_type: str, body: bytes) -> tuple[Encoding, tuple[tuple[str, Any], ...]]:
    media = content_type.split(";", 1)[0].strip().lower()
    if not body and not media:
        return "none", ()
    if media == "application/json" or media.endswith("+json"):
        try:
            pairs: list[tuple[str, Any]] = []
            decoded = json.loads(body.decode("utf-8"), object_pairs_hook=lambda p: p)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return "other", ()
        if isinstance(decoded, list) and all(isinstance(p, tuple) for p in decoded):
            pairs = [(str(k), _plain(v)) for k, v in decoded]
            return "json", tuple(pairs)
        return "other", ()
    if media == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return "other", ()
        return "form", tuple(parse_qsl(text, keep_blank_values=True))
    return "other", ()


def _plain(value: Any) -> Any:
    """Undo object_pairs_hook's lists of pairs inside nested values."""
    if isinstance(value, list) and value and all(isinstance(p, tuple) for p in value):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _basic(header: str | None) -> tuple[str, str] | None:
    if header is None:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ("", "")
    user, _, password = decoded.partition(":")
    return unquote_plus(user), unquote_plus(password)


def _json_object(body: bytes) -> Mapping[str, Any] | None:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _www_error(value: str | None) -> str | None:
    if not value or 'error="' not in value:
        return None
    return value.split('error="', 1)[1].split('"', 1)[0]


def observe(
    scenario: str,
    settings: ProtocolSettings,
    exchanges: Iterable[Exchange],
    outcome: Outcome,
    *,
    elsewhere: Iterable[Exchange] = (),
    dropped: int = 0,
    unjournaled: int = 0,
) -> Observation:
    """Build the observation of one run from its journal (and the other origin's, if any);
    `dropped` and `unjournaled` count what the journals lost (Journal.dropped and
    Journal.unjournaled of both)."""
    tokens: list[TokenCall] = []
    apis: list[ApiCall] = []
    others: list[OtherCall] = []
    handshakes: list[float] = []
    elsewhere = tuple(elsewhere)
    exchanges = tuple(exchanges)
    cut = tuple(
        (base + ex.seq, parts)
        for base, journal in ((0, exchanges), (FOREIGN_SEQ, elsewhere))
        for ex in journal
        if (parts := tuple(p for p in ex.truncated if p.startswith("request.")))
    )
    for ex in exchanges:
        req, resp = ex.request, ex.response
        sent = resp.fate == "send"
        answered = ex.answered if ex.answered is not None or not sent else ex.at
        if ex.kind == "token":
            content_type = req.header("content-type") or ""
            encoding, pairs = _parse_pairs(content_type, req.body)
            tokens.append(
                TokenCall(
                    ex.seq,
                    len(tokens) + 1,
                    ex.at,
                    answered,
                    req.method,
                    tuple(req.query),
                    encoding,
                    content_type,
                    pairs,
                    _basic(req.header("authorization")),
                    resp.status,
                    _json_object(resp.body) if sent else None,
                    _retry_after(resp.header("retry-after")),
                    ex.fault,
                    req.headers,
                )
            )
        elif ex.kind == "api":
            apis.append(
                ApiCall(
                    ex.seq,
                    len(apis) + 1,
                    ex.at,
                    answered,
                    req.method,
                    req.path,
                    req.query_string,
                    req.header("authorization"),
                    req.body,
                    resp.status,
                    _www_error(resp.header("www-authenticate")),
                    req.headers,
                )
            )
        elif ex.kind == "handshake":
            handshakes.append(ex.at)
        else:  # verify's emulators are driven in process: an admin request is the client's
            others.append(
                OtherCall(
                    ex.seq,
                    len(others) + 1,
                    ex.at,
                    req.method,
                    req.path,
                    req.query_string,
                    resp.status,
                    ex.kind,
                    req.headers,
                    req.body,
                )
            )
    foreign = tuple(
        ForeignCall(
            FOREIGN_SEQ + ex.seq,
            n,
            ex.at,
            ex.request.method,
            ex.request.path,
            ex.request.query_string,
            ex.request.headers,
            ex.request.body,
            ex.response.status,
        )
        for n, ex in enumerate((e for e in elsewhere if e.kind != "handshake"), 1)
    )
    observation = Observation(
        scenario,
        settings,
        tuple(tokens),
        tuple(apis),
        tuple(others),
        outcome,
        tuple(handshakes),
        foreign,
        dropped,
        unjournaled,
        cut,
    )
    if outcome.leaks is None:  # not scanned as it was printed: scan what was kept
        leaks = tuple(
            (stream, f)
            for stream, text in (("stdout", outcome.stdout), ("stderr", outcome.stderr))
            for f in observation.known.find(text)
        )
        observation = replace(observation, outcome=replace(outcome, leaks=leaks))
    return observation
