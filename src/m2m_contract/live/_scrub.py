"""Scrub recorded traffic before VCR.py writes it: no secret, credential or usable token.

`Scrubber.request` and `Scrubber.response` are VCR.py's `before_record_request` and
`before_record_response` hooks. They do not trust the Content-Type (VCR.py's own JSON filter
misses `application/json; charset=utf-8`): a body is scrubbed as JSON whenever it parses as
JSON, as a form when it says so, and as text otherwise, after compressed bodies are decoded.
Access tokens keep their header and claims (replayed checks read them) but lose their
signature, so a recorded token is unusable.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import zlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .._redact import REDACTED, _spellings

SECRET_FIELDS = ("client_secret", "client_assertion", "refresh_token", "password")
TOKEN_FIELDS = ("access_token", "id_token")
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie")
MIN_SECRET = 4  # shorter "secrets" would blank out ordinary words

_FIELDS = "|".join(SECRET_FIELDS)
_TOKENS = "|".join(TOKEN_FIELDS)
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
_JSON_SECRET = re.compile(rf'("(?:{_FIELDS})"\s*:\s*)({_JSON_STRING}|[^,}}\]\s]+)')
_JSON_TOKEN = re.compile(rf'("(?:{_TOKENS})"\s*:\s*)({_JSON_STRING}|[^,}}\]\s]+)')
_FORM_SECRET = re.compile(rf"((?:{_FIELDS})=)([^&\s\"]*)")
_FORM_TOKEN = re.compile(rf"((?:{_TOKENS})=)([^&\s\"]*)")
_CREDENTIALS = re.compile(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=-]{8,})")
_JWT = re.compile(r"(eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.)([A-Za-z0-9_-]+)")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def _decompressors() -> dict[str, Any]:
    found: dict[str, Any] = {
        "gzip": lambda b: zlib.decompress(b, zlib.MAX_WBITS | 16),
        "x-gzip": lambda b: zlib.decompress(b, zlib.MAX_WBITS | 16),
        "deflate": _inflate,
        "identity": lambda b: b,
    }
    try:  # brotli is optional, as it is for httpx (which only asks for br when it is there)
        import brotli  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            import brotlicffi as brotli  # type: ignore[import-not-found,unused-ignore,no-redef]
        except ImportError:
            brotli = None
    if brotli is not None:
        found["br"] = brotli.decompress
    return found


def _inflate(body: bytes) -> bytes:
    try:
        return zlib.decompress(body)
    except zlib.error:  # raw deflate, as some servers send it
        return zlib.decompress(body, -zlib.MAX_WBITS)


DECOMPRESSORS = _decompressors()


def decode_body(body: bytes, content_encoding: str) -> bytes | None:
    """Undo Content-Encoding (applied left to right); None when it cannot be undone."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for coding in reversed(codings):
        decompress = DECOMPRESSORS.get(coding)
        if decompress is None:
            return None
        try:
            body = decompress(body)
        except Exception:  # every codec has its own error type
            return None
    return body


def unsign(token: str) -> str:
    """A JWT without its signature (header and claims kept); anything else becomes REDACTED."""
    parts = token.split(".")
    if (
        len(parts) == 3
        and parts[0].startswith("eyJ")
        and all(_B64URL.fullmatch(p) for p in parts[:2])
    ):
        return f"{parts[0]}.{parts[1]}.{REDACTED}"
    return REDACTED


def spellings(secret: str) -> set[str]:
    """The ways a secret can be written in a URL, a form, or a JSON string."""
    escaped = {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    return _spellings(secret) | {quote(secret)} | escaped


class Scrubber:
    """Removes the given secrets, every credential and every token signature it sees.

    Tokens found in responses are remembered, so a later request or answer quoting one
    loses it too. Thread-safe.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._ordered: list[str] = []
        for secret in secrets:
            self.learn(secret)

    def __repr__(self) -> str:
        return f"Scrubber({len(self._known)} known values)"

    def __deepcopy__(self, memo: dict[int, Any]) -> Scrubber:
        # pytest-recording deep-copies `vcr_config`; its hooks must keep sharing what they
        # learned (and a lock cannot be copied anyway).
        return self

    def learn(self, secret: str) -> None:
        """Hide `secret` (in any spelling) from now on."""
        if not isinstance(secret, str) or len(secret) < MIN_SECRET:
            return
        with self._lock:
            self._known |= {s for s in spellings(secret) if len(s) >= MIN_SECRET}
            self._ordered = sorted(self._known, key=len, reverse=True)

    def _holds_known(self, text: str) -> bool:
        return any(secret in text for secret in self._ordered)

    # -- text, values and bodies -----------------------------------------------------------

    def text(self, text: str) -> str:
        """Scrub free text: known secrets, secret fields, credentials, token signatures."""
        for secret in self._ordered:
            text = text.replace(secret, REDACTED)
        text = _JSON_TOKEN.sub(lambda m: m.group(1) + _json_token(m.group(2), self), text)
        text = _JSON_SECRET.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
        text = _FORM_TOKEN.sub(lambda m: m.group(1) + self.token(m.group(2)), text)
        text = _FORM_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
        text = _CREDENTIALS.sub(_hide_credentials, text)
        return _JWT.sub(lambda m: m.group(1) + REDACTED, text)

    def token(self, token: str) -> str:
        """An access token made unusable: a JWT keeps header and claims, the rest goes."""
        unsigned = unsign(token)
        if unsigned != REDACTED and self._holds_known(_decoded_parts(unsigned)):
            return REDACTED
        return unsigned

    def value(self, value: Any, key: str | None = None) -> Any:
        """Scrub a parsed JSON value, field names included."""
        if key in SECRET_FIELDS and value is not None:
            return REDACTED
        if key in TOKEN_FIELDS and value is not None:
            return self.token(value) if isinstance(value, str) else REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v, str(k)) for k, v in value.items()}
        return value

    def body(self, body: bytes, content_type: str) -> bytes:
        """Scrub a (decoded) body: as JSON if it parses, as a form if it says so, else text."""
        if not body:
            return body
        text = body.decode("utf-8", "surrogateescape")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = _NOT_JSON
        if parsed is not _NOT_JSON:
            scrubbed = json.dumps(self.value(parsed), separators=(",", ":"), ensure_ascii=False)
        elif _media_type(content_type) == "application/x-www-form-urlencoded":
            scrubbed = self._form(text)
        else:
            scrubbed = self.text(text)
        return scrubbed.encode("utf-8", "surrogateescape")

    def _form(self, text: str) -> str:
        pairs = parse_qsl(text, keep_blank_values=True)
        clean = [(self.text(k), self.value(v, k)) for k, v in pairs]
        return urlencode(clean)

    def headers(self, headers: Mapping[str, list[str]]) -> dict[str, list[str]]:
        """Scrub header values; credential headers keep only their scheme."""
        clean: dict[str, list[str]] = {}
        for name, values in headers.items():
            lower = name.lower()
            if lower in CREDENTIAL_HEADERS:
                clean[name] = [_credential_header(lower, v) for v in values]
            else:
                clean[name] = [self.text(v) for v in values]
        return clean

    def message(
        self, headers: Mapping[str, list[str]], body: bytes | None
    ) -> tuple[dict[str, list[str]], bytes | None]:
        """Decode and scrub one message (request or response); fix its length headers."""
        clean = self.headers(headers)
        if body is None:
            return clean, body
        encoding = _first(clean, "content-encoding")
        if encoding is not None:
            decoded = decode_body(body, encoding)
            _drop(clean, "content-encoding")
            # A body we cannot decode cannot be scrubbed, so it is not written at all.
            body = decoded if decoded is not None else _undecodable(encoding)
        body = self.body(body, _first(clean, "content-type") or "")
        if _first(clean, "content-length") is not None:
            _drop(clean, "content-length")
            clean["content-length"] = [str(len(body))]
        return clean, body

    # -- the VCR.py hooks ------------------------------------------------------------------

    def request(self, request: Any) -> Any:
        """VCR.py `before_record_request`: returns a scrubbed copy of the request."""
        from vcr.request import Request

        body = _body_bytes(getattr(request, "body_bytes", request.body))
        headers = {k: [v] for k, v in request.headers.items()}
        clean_headers, clean_body = self.message(headers, body)
        flat = {k: v[0] for k, v in clean_headers.items()}
        return Request(request.method, self.url(request.uri), clean_body, flat)

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """VCR.py `before_record_response`: decode, learn its tokens, scrub (a copy)."""
        body = response.get("body", {}).get("string")
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = {k: list(v) for k, v in response.get("headers", {}).items()}
        encoding = _first(headers, "content-encoding")
        decoded = decode_body(body, encoding) if body and encoding else body
        if decoded:
            self._learn_tokens(decoded)
        clean_headers, clean_body = self.message(headers, body)
        return {**response, "headers": clean_headers, "body": {"string": clean_body}}

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        query = self._form(parts.query) if parts.query else ""
        return urlunsplit(parts._replace(query=query, path=self.text(parts.path)))

    def _learn_tokens(self, body: bytes) -> None:
        try:
            parsed = json.loads(body)
        except ValueError:
            return
        if isinstance(parsed, dict):
            for field in (*TOKEN_FIELDS, *SECRET_FIELDS):
                value = parsed.get(field)
                if isinstance(value, str) and len(value) >= 16:
                    self.learn(value)
                    self.learn(value.rsplit(".", 1)[-1])


class _NotJson:
    pass


_NOT_JSON = _NotJson()


def _json_token(raw: str, scrubber: Scrubber) -> str:
    if raw.startswith('"'):
        try:
            value = json.loads(raw)
        except ValueError:
            return f'"{REDACTED}"'
        return json.dumps(scrubber.token(value) if isinstance(value, str) else REDACTED)
    return f'"{REDACTED}"'


def _hide_credentials(match: re.Match[str]) -> str:
    value = match.group(3)
    if value == REDACTED or value.endswith(f".{REDACTED}"):
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}{REDACTED}"


def _body_bytes(raw: Any) -> bytes | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw.encode("utf-8")
    if hasattr(raw, "getvalue"):
        return bytes(raw.getvalue())
    if isinstance(raw, list):
        return b"".join(raw)
    return bytes(raw)


def _credential_header(name: str, value: str) -> str:
    if name in ("cookie", "set-cookie"):
        return REDACTED
    scheme, sep, _ = value.strip().partition(" ")
    return f"{scheme} {REDACTED}" if sep else REDACTED


def _decoded_parts(unsigned: str) -> str:
    out = []
    for part in unsigned.split(".")[:2]:
        try:
            out.append(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode("utf-8"))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            out.append(part)
    return "\n".join(out)


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _first(headers: Mapping[str, list[str]], name: str) -> str | None:
    for key, values in headers.items():
        if key.lower() == name and values:
            return values[0]
    return None


def _drop(headers: dict[str, list[str]], name: str) -> None:
    for key in [k for k in headers if k.lower() == name]:
        del headers[key]


def _undecodable(encoding: str) -> bytes:
    shown = re.sub(r"[^a-z0-9, -]", "", encoding.lower())[:40]
    return f"{REDACTED}: a body compressed with {shown!r} could not be decoded to scrub it".encode()
