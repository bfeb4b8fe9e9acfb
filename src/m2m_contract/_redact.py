"""Redaction shared by every printed form: secrets and tokens never leave in clear."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "REDACTED"

# A compact JWS/JWT: three base64url parts, the first two starting with '{"' encoded.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_SECRET_FIELDS = ("client_secret", "access_token", "refresh_token", "id_token", "client_assertion")
_JSON_FIELD = re.compile(
    r'("(?:' + "|".join(_SECRET_FIELDS) + r')"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\]\s]+)'
)
_FORM_FIELD = re.compile(r"((?:^|[?&;\s])(?:" + "|".join(_SECRET_FIELDS) + r")=)[^&\s]*")
_AUTH_HEADER = re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s\"',;]+")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Hide secret fields, credentials, JWTs and every string in `secrets` inside `text`."""
    for secret in sorted((s for s in secrets if s and len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _JSON_FIELD.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
    text = _FORM_FIELD.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def redact_header(name: str, value: str) -> str:
    """A header value safe to print."""
    if name.lower() in ("authorization", "proxy-authorization", "cookie", "set-cookie"):
        scheme, _, rest = value.partition(" ")
        return f"{scheme} {REDACTED}" if rest else REDACTED
    return redact(value)
