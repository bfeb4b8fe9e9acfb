"""The protected API under /api/: RFC 6750 bearer validation and a JSON echo of the caller."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from ._http import Request, Response, json_response
from ._tokens import InvalidToken, Verified

REALM = "m2m-contract"
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token (the scheme is case-insensitive).
_CREDENTIALS = re.compile(r"([^ ]*) +(.*)", re.DOTALL)


def _challenge(status: int, error: str | None, description: str, scope: str = "") -> Response:
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
        parts.append(f'error_description="{description}"')
    if scope:
        parts.append(f'scope="{scope}"')
    payload = {"error": error or "unauthorized", "error_description": description}
    return json_response(status, payload, [("www-authenticate", "Bearer " + ", ".join(parts))])


def required_scopes(routes: Mapping[str, tuple[str, ...]], path: str) -> tuple[str, ...]:
    """The scopes the longest matching route prefix asks for."""
    best, needed = -1, tuple[str, ...]()
    for prefix, scopes in routes.items():
        matches = path == prefix or path.startswith(prefix.rstrip("/") + "/")
        if matches and len(prefix) > best:
            best, needed = len(prefix), scopes
    return needed


def bearer_token(request: Request) -> str | Response:
    """The token of an RFC 6750 §2.1 header, or the challenge to answer with."""
    values = request.header_values("authorization")
    if not values:
        return _challenge(401, None, "Authorization header is missing")
    if len(values) > 1:
        return _challenge(400, "invalid_request", "Send exactly one Authorization header")
    parts = _CREDENTIALS.fullmatch(values[0])
    scheme, credentials = parts.groups() if parts else (values[0], "")
    if scheme.lower() != "bearer":
        return _challenge(401, None, "Use the Bearer authentication scheme")
    if not _B64TOKEN.fullmatch(credentials):
        return _challenge(400, "invalid_request", "The bearer token is not a valid b64token")
    return credentials


def handle_api(
    request: Request,
    routes: Mapping[str, tuple[str, ...]],
    verify: Callable[[str], Verified],
    is_revoked: Callable[[str], bool],
) -> Response:
    token = bearer_token(request)
    if isinstance(token, Response):
        return token
    if is_revoked(token):
        return _challenge(401, "invalid_token", "The access token has been revoked")
    try:
        verified = verify(token)
    except InvalidToken as exc:
        reason = str(exc)  # not capitalize(): it would lower-case "JWT", "JWKS", "RS256"
        return _challenge(401, "invalid_token", reason[:1].upper() + reason[1:])
    needed = required_scopes(routes, request.path)
    missing = [s for s in needed if s not in verified.scopes]
    if missing:
        return _challenge(
            403, "insufficient_scope", "The token lacks a scope this route needs", " ".join(needed)
        )
    return json_response(
        200,
        {
            "ok": True,
            "method": request.method,
            "path": request.path,
            "sub": verified.claims.get("sub"),
            "scopes": list(verified.scopes),
        },
    )
