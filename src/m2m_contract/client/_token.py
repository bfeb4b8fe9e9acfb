"""The token object, and reading a token endpoint's answer into a token or a typed error.

Pure code: no I/O. `read_answer` is given the status, headers and body of one answer.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

from .._redact import redact
from ._errors import (
    AccessDeniedError,
    ClientCredentialsError,
    InvalidClientError,
    MalformedTokenResponseError,
    RateLimitedError,
    ScopeNotGrantedError,
    TokenRequestError,
    TokenServerError,
)

# Header-safe: printable ASCII without spaces (RFC 6749 A.12 VSCHAR minus SP), so the token
# can never break or inject into the Authorization header it is sent in.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
_NUMBER = re.compile(r"\s*\d+(?:\.\d+)?\s*")
_NOT_GRANTED = re.compile(r"not been granted (?:any )?scopes?:?\s*(.*)", re.IGNORECASE)
_DESCRIPTION_LIMIT = 200


@dataclass(frozen=True)
class Token:
    """An access token and when it was obtained; `repr` never shows the token itself."""

    access_token: str = field(repr=False)
    token_type: str
    expires_in: float
    scope: str | None
    obtained_at: float  # the client's monotonic clock when the token request was sent

    @property
    def expires_at(self) -> float:
        """Monotonic time from which the token must no longer be presented."""
        return self.obtained_at + self.expires_in

    @property
    def authorization(self) -> str:
        """The Authorization header value (RFC 6750 §2.1)."""
        return f"Bearer {self.access_token}"


@dataclass(frozen=True)
class Failure:
    """One answer that gave no token: the error to raise, and whether a retry may help."""

    error: ClientCredentialsError
    retryable: bool
    wait: float | None = None  # the server asked for at least this long (Retry-After, reset)


def read_answer(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    obtained_at: float,
    wall_now: float,
    hide: Iterable[str] = (),
) -> Token | Failure:
    """Turn one token endpoint answer into a Token or a Failure (never raises)."""
    if 200 <= status < 300:
        try:
            return parse_token(body, headers.get("content-type", ""), obtained_at)
        except MalformedTokenResponseError as exc:
            return Failure(exc, retryable=False)
    return failure_for(status, headers, body, wall_now=wall_now, hide=hide)


def parse_token(body: bytes, content_type: str, obtained_at: float) -> Token:
    """Validate a 2xx token response (RFC 6749 §5.1); raise MalformedTokenResponseError."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        media = content_type.split(";", 1)[0].strip() or "none"
        raise MalformedTokenResponseError(
            f"the token endpoint answered with a body that is not JSON (Content-Type {media}); "
            "expected a JSON token response"
        ) from None
    if not isinstance(payload, dict):
        raise MalformedTokenResponseError(
            f"the token response is a JSON {type(payload).__name__}; expected a JSON object"
        )
    token = payload.get("access_token")
    if not isinstance(token, str) or not token:
        what = "missing" if token is None else "empty" if token == "" else "not a string"
        raise MalformedTokenResponseError(f"the token response's access_token is {what}")
    if not _TOKEN_CHARS.fullmatch(token):
        raise MalformedTokenResponseError(
            "the token response's access_token has spaces or characters outside printable ASCII"
        )
    token_type = payload.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        shown = _quote(token_type) if isinstance(token_type, str) else "missing"
        raise MalformedTokenResponseError(
            f"the token response's token_type is {shown}; expected 'Bearer'"
        )
    expires_in = _seconds(payload.get("expires_in"))
    if expires_in is None:
        raise MalformedTokenResponseError(
            "the token response's expires_in is missing or not a positive number of seconds"
        )
    scope = payload.get("scope")
    # A refresh_token, if any, is deliberately dropped here: this flow never uses one.
    return Token(token, token_type, expires_in, scope if isinstance(scope, str) else None,
                 obtained_at)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        value = float(value)
    if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def failure_for(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    wall_now: float,
    hide: Iterable[str] = (),
) -> Failure:
    """Map a non-2xx token endpoint answer to the error a caller can act on."""
    error, description = _oauth_error(body, hide)
    said = f"{status}" + (f" {error}" if error else "")
    said += f": {description}" if description else ""
    if status == 429:
        retry_after = retry_after_seconds(headers.get("retry-after"), wall_now)
        reset = _number(headers.get("x-ratelimit-reset"))
        wait = retry_after
        if wait is None and reset is not None:
            wait = max(0.0, reset - wall_now) if reset > 1e9 else reset  # a delta, if small
        message = f"the token endpoint is rate limiting this client ({said})"
        if wait is not None:
            message += f"; it asks to wait {wait:.0f} s"
        return Failure(RateLimitedError(message, retry_after=retry_after, reset=reset), True, wait)
    if status >= 500 or status == 408:
        message = f"the token endpoint failed ({said}); try again later"
        wait = retry_after_seconds(headers.get("retry-after"), wall_now)
        return Failure(TokenServerError(message, status=status), True, wait)
    return Failure(_refusal(status, error, description, said), retryable=False)


def _refusal(
    status: int, error: str | None, description: str | None, said: str
) -> TokenRequestError:
    if status == 401 or error == "invalid_client":
        return InvalidClientError(
            f"the token endpoint rejected the client credentials ({said}); check the client id "
            "and secret, and that this client may authenticate this way",
            status=status, error=error, description=description,
        )
    granted = _NOT_GRANTED.search(description or "")
    if error == "invalid_scope" or granted:
        return ScopeNotGrantedError(
            f"the client is not granted the scopes it asked for ({said}); ask only for granted "
            "scopes or have the client's grant extended",
            scopes=tuple(granted.group(1).split()) if granted else (),
            status=status, error=error, description=description,
        )
    if status == 403:
        return AccessDeniedError(
            f"the token endpoint denied this client a token ({said}); check the audience and "
            "the client's grants",
            status=status, error=error, description=description,
        )
    return TokenRequestError(
        f"the token endpoint refused the request ({said})",
        status=status, error=error, description=description,
    )


def _oauth_error(body: bytes, hide: Iterable[str]) -> tuple[str | None, str | None]:
    """RFC 6749 §5.2 `error` and `error_description`, redacted and trimmed, if the body has them."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(payload, dict):
        return None, None
    error, description = payload.get("error"), payload.get("error_description")
    return (
        _clean(error, hide, 64) if isinstance(error, str) else None,
        _clean(description, hide, _DESCRIPTION_LIMIT) if isinstance(description, str) else None,
    )


def _clean(text: str, hide: Iterable[str], limit: int) -> str:
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    cleaned = redact(printable, hide)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def _quote(text: str) -> str:
    return repr(text[:20] + ("..." if len(text) > 20 else ""))


def _number(value: str | None) -> float | None:
    if value is None or not _NUMBER.fullmatch(value):
        return None
    return float(value)


def retry_after_seconds(value: str | None, wall_now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date (RFC 9110)."""
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - wall_now)
