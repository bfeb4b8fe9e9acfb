"""Access tokens: claims in Auth0's or RFC 9068's profile, signed RS256; and their validation."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from . import _jwt
from ._config import TokenProfile
from ._keys import KeySet


def issue(
    keys: KeySet,
    *,
    profile: TokenProfile,
    issuer: str,
    client_id: str,
    audience: str,
    scopes: tuple[str, ...],
    now: int,
    lifetime: int,
) -> str:
    """Return a signed access token with the claims Auth0 (or RFC 9068) puts in it."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": f"{client_id}@clients",
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
    }
    if profile == "rfc9068":
        header = {"alg": "RS256", "typ": "at+jwt", "kid": keys.signing_kid}
        if scopes:
            claims["scope"] = " ".join(scopes)
        claims["client_id"] = client_id
        claims["jti"] = secrets.token_urlsafe(16)
    else:
        header = {"alg": "RS256", "typ": "JWT", "kid": keys.signing_kid}
        if scopes:
            claims["scope"] = " ".join(scopes)
        claims["gty"] = "client-credentials"
        claims["azp"] = client_id
    data = _jwt.signing_input(header, claims)
    return f"{data.decode('ascii')}.{_jwt.b64url(keys.sign(data))}"


@dataclass(frozen=True)
class Verified:
    claims: dict[str, Any]

    @property
    def scopes(self) -> tuple[str, ...]:
        scope = self.claims.get("scope", "")
        return tuple(scope.split()) if isinstance(scope, str) else ()


class InvalidToken(Exception):
    """The token cannot be accepted; the message is safe to send (it holds no token)."""


def verify(
    token: str, keys: KeySet, *, issuer: str, audience: str | None, now: float | None = None
) -> Verified:
    """Check signature (by kid), algorithm, issuer, audience and that exp is a number; and
    expiry against `now` (UNIX time) when given (the emulator judges its own tokens' age)."""
    try:
        parsed = _jwt.parse(token)
    except ValueError as exc:
        raise InvalidToken(str(exc)) from None
    if parsed.header.get("alg") != "RS256":
        raise InvalidToken("the token must be signed with RS256")
    kid = parsed.header.get("kid")
    key = keys.public_key(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidToken("the token's kid is not in the JWKS")
    if not _jwt.rs256_verify(key, parsed.signing_input, parsed.signature):
        raise InvalidToken("the token's signature does not verify")
    claims = parsed.claims
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise InvalidToken("the token has no exp claim")
    if now is not None and exp <= now:
        raise InvalidToken("the token has expired")
    if claims.get("iss") != issuer:
        raise InvalidToken("the token was issued by another issuer")
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if audience is not None and audience not in auds:
        raise InvalidToken("the token is not meant for this API (aud)")
    return Verified(claims)
