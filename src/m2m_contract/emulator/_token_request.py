"""Parse a token request into parameters and client credentials, or an RFC 6749 error."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from ._http import Request, Response, oauth_error

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class BadRequest(Exception):
    """The request cannot be answered with a token; `response` says why."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def invalid_request(description: str) -> BadRequest:
    return BadRequest(oauth_error(400, "invalid_request", description))


@dataclass(frozen=True)
class TokenRequest:
    """The parameters of a token request; `params` keeps JSON types (scope may be a list)."""

    params: dict[str, Any] = field(repr=False)  # holds client_secret when sent in the body
    client_id: str | None
    client_secret: str | None = field(repr=False)
    auth_method: str  # client_secret_post | client_secret_basic | none


def parse_body(request: Request) -> dict[str, Any]:
    """Decode a JSON or form body into parameters; reject repeats and other media types."""
    media = request.content_type
    if media == JSON or media.endswith("+json"):
        return _parse_json(request.body)
    if media == FORM:
        return _parse_form(request.body)
    seen = media or "none"
    raise invalid_request(
        f"Unsupported Content-Type '{seen}': send application/json "
        f"(or application/x-www-form-urlencoded)"
    )


def _parse_json(body: bytes) -> dict[str, Any]:
    def no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise invalid_request(f"Parameter '{_printable(key)}' must not be repeated")
            result[key] = value
        return result

    try:
        payload = json.loads(body.decode("utf-8"), object_pairs_hook=no_repeats)
    except UnicodeDecodeError:
        raise invalid_request("The request body is not valid UTF-8") from None
    except (ValueError, RecursionError):
        raise invalid_request("The request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise invalid_request("The request body must be a JSON object")
    return payload


def _parse_form(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise invalid_request("A form body must be ASCII (percent-encode other bytes)") from None
    result: dict[str, Any] = {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise invalid_request("The form body is not valid percent-encoded UTF-8") from None
    for key, value in pairs:
        if key in result:
            raise invalid_request(f"Parameter '{_printable(key)}' must not be repeated")
        result[key] = value
    return result


def _printable(text: str, limit: int = 40) -> str:
    cleaned = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\' else "?" for ch in text)
    return cleaned[:limit]


def string_param(params: dict[str, Any], name: str) -> str | None:
    """A parameter that must be a string; an empty one counts as omitted (RFC 6749 §3.2)."""
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_request(f"Parameter '{name}' must be a string")
    return value or None


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise BadRequest(
            oauth_error(401, "access_denied", "Unauthorized")
        )  # another scheme on the token endpoint is no client authentication Auth0 knows
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid_request("The Basic credentials are not valid base64") from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise invalid_request("The Basic credentials must be client_id:client_secret")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    return unquote_plus(user), unquote_plus(password)


def parse_token_request(request: Request) -> TokenRequest:
    """Parse method, body and client authentication; raise BadRequest on anything malformed."""
    params = parse_body(request)
    client_id = string_param(params, "client_id")
    client_secret = string_param(params, "client_secret")
    auth_method = "client_secret_post" if client_secret else "none"
    authorizations = request.header_values("authorization")
    if len(authorizations) > 1:
        raise invalid_request("Only one Authorization header may be sent")
    if authorizations:
        basic_id, basic_secret = _basic_credentials(authorizations[0])
        if client_secret is not None:
            raise invalid_request(
                "The client authenticated twice (Authorization header and client_secret); "
                "use one method only"
            )
        if client_id is not None and client_id != basic_id:
            raise invalid_request("client_id in the body differs from the Basic credentials")
        client_id, client_secret, auth_method = basic_id, basic_secret, "client_secret_basic"
    return TokenRequest(params, client_id, client_secret, auth_method)
