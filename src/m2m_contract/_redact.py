"""Redaction shared by every printed form: secrets and tokens never leave in clear."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, unquote_plus

REDACTED = "REDACTED"

# A compact JWS/JWT: three base64url parts, the first two starting with '{"' encoded.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_SECRET_FIELDS = ("client_secret", "access_token", "refresh_token", "id_token", "client_assertion")
_JSON_FIELD = re.compile(
    r'("(?:' + "|".join(_SECRET_FIELDS) + r')"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\]\s]+)'
)
_FORM_FIELD = re.compile(r"((?:^|[?&;\s])(?:" + "|".join(_SECRET_FIELDS) + r")=)[^&\s]*")
# Credentials are long; a short word after "Bearer" is prose ("Bearer <token>", "realm=").
_AUTH_HEADER = re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s\"',;]{8,}")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Hide secret fields, credentials, JWTs and every string in `secrets` inside `text`."""
    # A secret may also appear percent-encoded (a form body, a URL) or decoded (a door
    # decodes the URL path), so hide those spellings of it too.
    spellings = {v for s in secrets if s for v in _spellings(s)}
    for secret in sorted((s for s in spellings if len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _JSON_FIELD.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
    text = _FORM_FIELD.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def _spellings(secret: str) -> set[str]:
    encoded = {quote(secret, safe=""), quote_plus(secret)}
    return {secret, *encoded, unquote(secret), unquote_plus(secret)}


def redact_header(name: str, value: str, secrets: Iterable[str] = ()) -> str:
    """A header value safe to print (`secrets` are hidden in any header)."""
    if name.lower() in ("authorization", "proxy-authorization", "cookie", "set-cookie"):
        scheme, _, rest = value.partition(" ")
        return f"{scheme} {REDACTED}" if rest else REDACTED
    return redact(value, secrets)
