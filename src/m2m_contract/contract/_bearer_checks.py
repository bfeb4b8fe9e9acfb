"""Checks of how the token is presented to the API (RFC 6750). Pure functions.

Clauses: "partner §1/§2" is the partner document (client-credentials-auth-flow.md);
"RFC6749-x" and "RFC6750-x" are sections of those RFCs; "Auth0" is Auth0's guidance.
"""

from __future__ import annotations

import re

from ._catalogue import Result, check, each
from ._model import ApiCall, Observation, TokenCall

_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")

# -- bearer usage ----------------------------------------------------------------------------


_SCHEME_WORD = re.compile(r"[A-Za-z][A-Za-z-]{0,15}")


def _header_problem(call: ApiCall, secrets: tuple[str, ...]) -> str | None:
    if call.authorization is None:
        return "has no Authorization header"
    scheme, sep, rest = call.authorization.partition(" ")
    if scheme.lower() != "bearer":  # auth schemes are case-insensitive (RFC 7235 §2.1)
        # Quote only a plain scheme word: the header might hold a credential, never echo it.
        plain = sep and _SCHEME_WORD.fullmatch(scheme) and not any(scheme in s for s in secrets)
        shown = f"the {scheme!r} scheme" if plain else "a scheme other than Bearer"
        return f"uses {shown}; expected 'Authorization: Bearer <token>'"
    if not _B64TOKEN.fullmatch(rest):
        return "the bearer credentials are not a single b64token (RFC 6750 §2.1)"
    return None


@check(
    "api-bearer-header", "MUST", "RFC6750-2.1", "API requests carry 'Authorization: Bearer <token>'"
)
def _bearer_header(obs: Observation) -> Result:
    bad = [(c, why) for c in obs.api_calls if (why := _header_problem(c, obs.secrets))]
    return each(obs.api_calls, "API request", bad, "had a Bearer header")


@check(
    "api-token-issued",
    "MUST",
    "RFC6750-2.1",
    "the bearer token is one the server issued (never 'None', 'undefined' or junk)",
)
def _issued(obs: Observation) -> Result:
    issued = obs.issued_tokens
    bad = [
        (c, "presents a token the server never issued")
        for c in obs.api_calls
        if c.bearer is not None and c.bearer not in issued
    ]
    return each(obs.api_calls, "API request", bad, "presented an issued token")


@check(
    "api-token-not-expired",
    "MUST",
    "RFC6749-5.1",
    "a token is never presented after its expires_in has run out",
)
def _not_expired(obs: Observation) -> Result:
    issued = obs.issued_tokens
    bad = []
    for c in obs.api_calls:
        source = issued.get(c.bearer or "")
        if source is None or source.expires_in is None:
            continue
        late = c.at - (source.at + source.expires_in)
        if late >= 0:
            bad.append(
                (
                    c,
                    f"presents a token {late:.2f} s after it expired "
                    f"(expires_in {source.expires_in:g} s, from token request #{source.seq})",
                )
            )
    return each(obs.api_calls, "API request", bad, "presented an unexpired token")


@check(
    "api-rejected-token-not-reused",
    "MUST",
    "RFC6750-3.1",
    "a token the API rejected as invalid_token is not presented again unless re-issued",
)
def _rejected_reuse(obs: Observation) -> Result:
    # Tokens minted in the same second with the same claims are identical (RS256 is
    # deterministic), so a token the server hands out again after a rejection is fair to use.
    rejected: dict[str, int] = {}
    bad: list[tuple[ApiCall, str]] = []
    calls: list[TokenCall | ApiCall] = [*obs.token_calls, *obs.api_calls]
    for call in sorted(calls, key=lambda c: c.seq):
        if isinstance(call, TokenCall):
            if call.issued_token:
                rejected.pop(call.issued_token, None)
            continue
        token = call.bearer
        if token is not None and token in rejected:
            bad.append(
                (
                    call,
                    f"presents again the token the API rejected in request "
                    f"#{rejected[token]} (401 invalid_token)",
                )
            )
        if call.status == 401 and call.error == "invalid_token" and token is not None:
            rejected.setdefault(token, call.seq)
    return each(obs.api_calls, "API request", bad, "respected invalid_token rejections")
