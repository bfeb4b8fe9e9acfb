"""The exchange model: what a client did, read from the emulator's journal. Pure code."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote_plus

if TYPE_CHECKING:
    from ..emulator import Exchange

Encoding = Literal["json", "form", "other", "none"]


@dataclass(frozen=True)
class Settings:
    """What the client under test was told (the command-client protocol's variables)."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str = ""
    audience: str = ""
    api_url: str = ""
    api_calls: int = 1
    api_interval_ms: int = 0
    ca_bundle: str | None = None

    def env(self) -> dict[str, str]:
        """The M2M_* environment of DESIGN.md's command-client protocol."""
        env = {
            "M2M_TOKEN_URL": self.token_url,
            "M2M_CLIENT_ID": self.client_id,
            "M2M_CLIENT_SECRET": self.client_secret,
            "M2M_SCOPE": self.scope,
            "M2M_AUDIENCE": self.audience,
            "M2M_API_URL": self.api_url,
            "M2M_API_CALLS": str(self.api_calls),
            "M2M_API_INTERVAL_MS": str(self.api_interval_ms),
        }
        if self.ca_bundle:
            for name in (
                "M2M_CA_BUNDLE",
                "SSL_CERT_FILE",
                "REQUESTS_CA_BUNDLE",
                "NODE_EXTRA_CA_CERTS",
            ):
                env[name] = self.ca_bundle
        return env


@dataclass(frozen=True)
class TokenCall:
    """One request to the token endpoint, parsed leniently (repeats and odd types kept)."""

    seq: int
    at: float
    method: str
    query: tuple[tuple[str, str], ...]
    encoding: Encoding
    content_type: str
    pairs: tuple[tuple[str, Any], ...]
    basic: tuple[str, str] | None = field(repr=False)
    status: int
    response: Mapping[str, Any] | None
    retry_after: float | None

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
    at: float
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
        """The credentials after 'Bearer ' when the header has that form."""
        if self.authorization is None:
            return None
        scheme, _, rest = self.authorization.partition(" ")
        return rest if scheme.lower() == "bearer" and rest else None


@dataclass(frozen=True)
class OtherCall:
    seq: int
    at: float
    method: str
    path: str
    query_string: str
    status: int


@dataclass(frozen=True)
class Outcome:
    """How the client run ended."""

    exit_code: int | None
    timed_out: bool = False
    output: str = field(default="", repr=False)
    error: str | None = None  # why it could not run, when it could not


@dataclass(frozen=True)
class Observation:
    """Everything the checks judge: the settings, the traffic and the outcome of one run."""

    scenario: str
    settings: Settings
    token_calls: tuple[TokenCall, ...]
    api_calls: tuple[ApiCall, ...]
    other_calls: tuple[OtherCall, ...]
    outcome: Outcome

    @property
    def issued_tokens(self) -> dict[str, TokenCall]:
        return {c.issued_token: c for c in self.token_calls if c.issued_token}

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.settings.client_secret, *self.issued_tokens)


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
    scenario: str, settings: Settings, exchanges: Iterable[Exchange], outcome: Outcome
) -> Observation:
    """Build the observation of one run from its journal."""
    tokens: list[TokenCall] = []
    apis: list[ApiCall] = []
    others: list[OtherCall] = []
    for ex in exchanges:
        req, resp = ex.request, ex.response
        if ex.kind == "token":
            encoding, pairs = _parse_pairs(req.header("content-type") or "", req.body)
            tokens.append(
                TokenCall(
                    ex.seq,
                    ex.at,
                    req.method,
                    tuple(req.query),
                    encoding,
                    (req.header("content-type") or ""),
                    pairs,
                    _basic(req.header("authorization")),
                    resp.status,
                    _json_object(resp.body),
                    _retry_after(resp.header("retry-after")),
                )
            )
        elif ex.kind == "api":
            apis.append(
                ApiCall(
                    ex.seq,
                    ex.at,
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
        elif ex.kind == "other":
            others.append(
                OtherCall(ex.seq, ex.at, req.method, req.path, req.query_string, resp.status)
            )
    return Observation(scenario, settings, tuple(tokens), tuple(apis), tuple(others), outcome)
