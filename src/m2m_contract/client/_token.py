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

from .._secrets import redact
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
# ASCII digits only: `\d` would also take fullwidth or Arabic-Indic digits, which float() reads.
_NUMBER = re.compile(r"\s*[0-9]+(?:\.[0-9]+)?\s*", re.ASCII)
_NOT_GRANTED = re.compile(r"not been granted (?:any )?scopes?:?\s*(.*)", re.IGNORECASE)
_DESCRIPTION_LIMIT = 200

MAX_RETRY_AFTER = 300.0
"""The longest wait a server can impose, in seconds. A Retry-After or X-RateLimit-Reset asking
for more (10**9 s, a date years ahead) counts as this much: retries never wait longer, and after
a 429 the client asks again at the latest this long after it."""
# An X-RateLimit-Reset above this is a UNIX time (Auth0 sends one); below, a number of seconds.
_UNIX_TIME_FLOOR = 1e9


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
    if not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)  # a JSON integer of hundreds of digits does not fit a float
    except OverflowError:
        return None
    return number if math.isfinite(number) and number > 0 else None


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
        asked_retry = _asked_wait(headers.get("retry-after"), wall_now)
        asked = asked_retry
        if asked is None:
            asked = _reset_wait(headers.get("x-ratelimit-reset"), wall_now)
        reset = _number(headers.get("x-ratelimit-reset"))
        reset = reset if reset is not None and math.isfinite(reset) else None
        wait = _capped(asked)
        message = f"the token endpoint is rate limiting this client ({said})"
        if asked is not None and asked > MAX_RETRY_AFTER:
            message += (f"; it asks to wait longer than {MAX_RETRY_AFTER:.0f} s, the most this "
                        "client waits")
        elif wait is not None:
            message += f"; it asks to wait {wait:.0f} s"
        limited = RateLimitedError(message, retry_after=_capped(asked_retry), reset=reset)
        return Failure(limited, True, wait)
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
    """A plain decimal number (may be inf for a few hundred digits); None for anything else."""
    if value is None or not _NUMBER.fullmatch(value):
        return None
    return float(value)  # never raises: too many digits give inf, never OverflowError


def retry_after_seconds(value: str | None, wall_now: float) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110 §10.2.3), 0 to MAX_RETRY_AFTER.

    Delta-seconds (decimals accepted) or an HTTP-date: IMF-fixdate, or the obsolete RFC 850 and
    asctime forms; a date in the past means 0. None for anything else (negative, NaN, inf,
    exponents, non-ASCII, empty). Never raises.
    """
    return _capped(_asked_wait(value, wall_now))


def rate_limit_reset_seconds(value: str | None, wall_now: float) -> float | None:
    """Seconds to wait from an X-RateLimit-Reset header, 0 to MAX_RETRY_AFTER: a UNIX time
    (what Auth0 sends), or a number of seconds when below 10**9. None if not a number."""
    return _capped(_reset_wait(value, wall_now))


def _capped(seconds: float | None) -> float | None:
    return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


def _asked_wait(value: str | None, wall_now: float) -> float | None:
    """The Retry-After wait as asked, uncapped (inf for absurd numbers), never negative."""
    if value is None or not value.isascii():
        return None
    text = value.strip()
    seconds = _number(text) if text else None
    if seconds is not None:
        return seconds
    when = _http_date(text) if text else None
    return None if when is None else max(0.0, when - wall_now)


def _reset_wait(value: str | None, wall_now: float) -> float | None:
    reset = _number(value) if value is not None and value.isascii() else None
    if reset is None:
        return None
    return max(0.0, reset - wall_now) if reset > _UNIX_TIME_FLOOR else reset


def _http_date(text: str) -> float | None:
    """UNIX time of an HTTP-date (the forms email.utils reads), or None."""
    try:
        when = parsedate_to_datetime(text)
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            when = when.replace(tzinfo=UTC)
        stamp = when.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None
    return stamp if math.isfinite(stamp) else None
