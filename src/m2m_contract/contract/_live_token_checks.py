"""The server contract (live suite): the access token itself, its signature and its claims."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ._catalogue import Result, check, failed, nothing, passed
from ._live_checks import answer_of, integer, said, token_body
from ._live_model import Keys, LiveFacts, token_digest


def _b64json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _jwt(facts: LiveFacts) -> tuple[dict[str, Any], dict[str, Any]] | Result:
    token = facts.access_token()
    if token is None:
        return failed("no access token to judge (see server-access-token)")
    parts = token.split(".")
    if len(parts) != 3:
        return failed(f"the access token is not a JWS compact JWT ({len(parts)} parts, not 3)")
    try:
        header, claims = _b64json(parts[0]), _b64json(parts[1])
    except (ValueError, binascii.Error):
        return failed("the access token's header or claims are not base64url JSON")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return failed("the access token's header or claims are not JSON objects")
    return header, claims


def _claims_and_body(facts: LiveFacts) -> tuple[dict[str, Any], dict[str, Any]] | Result:
    """The token's claims and the token response, or why there are none."""
    parsed, body = _jwt(facts), token_body(facts)
    if isinstance(parsed, Result):
        return parsed
    if isinstance(body, Result):
        return body
    return parsed[1], body


@check(
    "server-token-jwt",
    "MUST",
    "Auth0",
    "the access token is a JWT signed RS256, with a kid",
    suite="live",
)
def token_jwt(facts: LiveFacts) -> Result:
    parsed = _jwt(facts)
    if isinstance(parsed, Result):
        return parsed
    header = parsed[0]
    if header.get("alg") != "RS256":
        return failed(f"the token's alg is {json.dumps(header.get('alg'))[:30]}, expected RS256")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        return failed("the token's header has no kid to select the JWKS key with")
    return passed(f"RS256 JWT, kid {header['kid'][:12]}")


@check(
    "server-token-signature",
    "MUST",
    "RFC7515-5.2",
    "the token's signature verifies against the JWKS found through discovery",
    suite="live",
)
def token_signature(facts: LiveFacts) -> Result:
    token = facts.access_token()
    if token is None:
        return failed("no access token to verify (see server-access-token)")
    keys = facts.keys()
    problem = _keys_problem(keys)
    if problem is not None:
        return failed(problem)
    verdict = keys.verdict
    if verdict is None:
        return failed("no signature verdict was recorded with the JWKS; re-record the cassettes")
    if facts.mode != "replay":
        return Result(verdict.ok, verdict.message)
    if verdict.digest != token_digest(token):
        return failed(
            "the recorded verdict is about another token: the cassettes come from "
            "different recordings; re-record them together"
        )
    when = f"at recording time ({verdict.checked_at})"
    if not verdict.ok:
        return failed(f"failed {when}: {verdict.message}")
    return passed(
        f"checked {when}: {verdict.message}; the replayed token's signature was scrubbed, "
        "so it is not verified again"
    )


def _keys_problem(keys: Keys) -> str | None:
    answer = keys.discovery.answer
    if answer is None:
        return f"discovery failed: {keys.discovery.error}"
    if keys.jwks is None:
        return f"the discovery document (answer {said(answer)}) names no jwks_uri"
    if keys.jwks.answer is None:
        return f"the JWKS could not be fetched: {keys.jwks.error}"
    jwks = keys.jwks.answer.json()
    if keys.jwks.answer.status != 200 or not isinstance(jwks, dict):
        return f"the JWKS answer is {said(keys.jwks.answer)}, not a JSON key set"
    return None


@check(
    "server-token-issuer", "MUST", "Auth0", "iss is the issuer that discovery names", suite="live"
)
def token_issuer(facts: LiveFacts) -> Result:
    parsed = _jwt(facts)
    if isinstance(parsed, Result):
        return parsed
    iss = parsed[1].get("iss")
    answer = facts.keys().discovery.answer
    doc = answer.json() if answer is not None else None
    issuer = doc.get("issuer") if isinstance(doc, dict) else None
    if not isinstance(issuer, str):
        return failed("the discovery document names no issuer to compare iss with")
    if iss != issuer:
        return failed(f"iss is {json.dumps(iss)[:80]}, but discovery names {issuer[:80]!r}")
    return passed(f"iss is {issuer!r}, as discovery says")


@check(
    "server-token-subject",
    "MUST",
    "Auth0",
    "sub is <client_id>@clients, azp the client id",
    suite="live",
)
def token_subject(facts: LiveFacts) -> Result:
    parsed = _jwt(facts)
    if isinstance(parsed, Result):
        return parsed
    claims, client_id = parsed[1], facts.token().target.client_id
    want = f"{client_id}@clients"
    if claims.get("sub") != want:
        return failed(f"sub is {json.dumps(claims.get('sub'))[:80]}, expected {want!r}")
    azp = claims.get("azp", claims.get("client_id"))
    if azp != client_id:
        return failed(f"azp is {json.dumps(azp)[:80]}, expected the client id {client_id!r}")
    return passed(f"sub {want!r}, azp the client id")


@check(
    "server-token-audience",
    "MUST",
    "Auth0",
    "aud is the audience asked for (or the default)",
    suite="live",
)
def token_audience(facts: LiveFacts) -> Result:
    parsed = _jwt(facts)
    if isinstance(parsed, Result):
        return parsed
    aud = parsed[1].get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    wanted = facts.token().target.audience
    if wanted is None:
        if not all(isinstance(a, str) and a for a in auds) or not auds:
            return failed(f"aud is {json.dumps(aud)[:80]}, expected the tenant's default audience")
        return passed(f"aud is {json.dumps(aud)[:80]} (no audience asked for: the tenant default)")
    if wanted not in auds:
        return failed(f"aud is {json.dumps(aud)[:80]}, expected {wanted!r}")
    return passed(f"aud is {wanted!r}")


@check("server-token-lifetime", "MUST", "Auth0", "exp - iat equals expires_in", suite="live")
def token_lifetime(facts: LiveFacts) -> Result:
    both = _claims_and_body(facts)
    if isinstance(both, Result):
        return both
    claims, body = both
    exp, iat = integer(claims.get("exp")), integer(claims.get("iat"))
    expires = integer(body.get("expires_in"))
    if exp is None or iat is None:
        return failed("the token lacks an integer exp or iat claim")
    if expires is None or exp - iat != expires:
        return failed(
            f"exp - iat is {exp - iat} s, but expires_in says "
            f"{json.dumps(body.get('expires_in'))[:20]}"
        )
    now = facts.now
    if now is None:
        return passed(
            f"exp - iat = expires_in = {expires} s (replayed: exp is not compared with "
            "the current time)"
        )
    if exp <= now or iat > now + 300:
        return failed(f"the token is not valid now: iat {iat}, exp {exp}, clock {int(now)}")
    return passed(f"exp - iat = expires_in = {expires} s, valid now")


@check(
    "server-token-scope",
    "MUST",
    "RFC6749-3.3",
    "the token's scope is within what was asked",
    suite="live",
)
def token_scope(facts: LiveFacts) -> Result:
    both = _claims_and_body(facts)
    if isinstance(both, Result):
        return both
    claims, body = both
    asked = set(facts.token().target.scopes)
    granted: list[str] = []
    for source in (claims.get("scope"), body.get("scope")):
        if source is not None and not isinstance(source, str):
            return failed(f"scope is {json.dumps(source)[:60]}, expected a space-separated string")
        granted += (source or "").split()
    shown = " ".join(dict.fromkeys(granted)) or "(none)"
    if not asked:
        return passed(f"no scope asked for; the token carries {shown[:120]}")
    extra = sorted(set(granted) - asked)
    if extra:
        return failed(f"the token carries scope(s) never asked for: {' '.join(extra)[:120]}")
    return passed(f"scope {shown[:120]} is within what was asked")


@check(
    "server-api-accepts-token",
    "MUST",
    "partner §2",
    "the API (M2M_LIVE_API_URL) does not reject the token",
    suite="live",
)
def api_accepts_token(facts: LiveFacts) -> Result:
    outcome = facts.api_call()
    if outcome is None:
        return nothing("M2M_LIVE_API_URL is not set: no API call made")
    answer = answer_of(outcome)
    if isinstance(answer, Result):
        return answer
    if answer.status in (401, 403):
        challenge = (answer.header("www-authenticate") or "")[:120]
        return failed(
            f"the API rejected the token: {said(answer)}{f' ({challenge})' if challenge else ''}"
        )
    return passed(f"the API answered {answer.status}, not a rejection of the token")
