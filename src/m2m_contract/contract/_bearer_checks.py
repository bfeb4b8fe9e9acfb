"""Checks of how the token is presented to the API (RFC 6750). Pure functions.

Clauses: "partner §1/§2" is the partner document (client-credentials-auth-flow.md);
"RFC6749-x" and "RFC6750-x" are sections of those RFCs; "Auth0" is Auth0's guidance.
"""

from __future__ import annotations

import re

from ._catalogue import Result, check, each
from ._model import ApiCall, Observation, TokenCall
from ._rules import EXPIRY_TOLERANCE

_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")

# -- bearer usage ----------------------------------------------------------------------------


_SCHEME_WORD = re.compile(r"[A-Za-z][A-Za-z-]{0,15}")


def _header_problem(call: ApiCall, obs: Observation) -> str | None:
    if call.authorization is None:
        return "has no Authorization header; send 'Authorization: Bearer <access_token>'"
    scheme, sep, rest = call.authorization.partition(" ")
    if scheme.lower() != "bearer":  # auth schemes are case-insensitive (RFC 7235 §2.1)
        # Quote only a plain scheme word: the header might hold a credential, never echo it.
        plain = sep and _SCHEME_WORD.fullmatch(scheme) and not any(
            scheme in s for s in obs.secrets
        )
        shown = f"the {obs.shown(scheme, 20)} scheme" if plain else "a scheme other than Bearer"
        return f"uses {shown}; expected 'Authorization: Bearer <token>'"
    # "Bearer" 1*SP b64token (RFC 6750 §2.1): several spaces before the token are allowed.
    if not _B64TOKEN.fullmatch(rest.lstrip(" ")):
        return "the bearer credentials are not a single b64token (RFC 6750 §2.1)"
    return None


@check(
    "api-bearer-header", "MUST", "RFC6750-2.1", "API requests carry 'Authorization: Bearer <token>'"
)
def _bearer_header(obs: Observation) -> Result:
    bad = [(c, why) for c in obs.api_calls if (why := _header_problem(c, obs))]
    return each(obs.api_calls, "API call", bad, "had a Bearer header")


@check(
    "api-token-issued",
    "MUST",
    "RFC6750-2.1",
    "the bearer token is one the server issued (never 'None', 'undefined' or junk)",
)
def _issued(obs: Observation) -> Result:
    bad = [
        (c, _what_was_presented(c, obs))
        for c in obs.api_calls
        if c.bearer is not None and obs.token_source(c) is None
    ]
    return each(obs.api_calls, "API call", bad, "presented an issued token")


_PLACEHOLDERS = ("None", "undefined", "null", "nil", "NaN", "[object Object]", "false", "0")


def _what_was_presented(call: ApiCall, obs: Observation) -> str:
    """Say what a bad bearer was, without quoting anything that could be a credential."""
    if call.bearer in _PLACEHOLDERS:
        return (
            f"sends 'Authorization: Bearer {call.bearer}': the client used a value it never "
            "got from a token response; check the token response before calling the API"
        )
    source = obs.token_source(call, usable=False)
    if source is not None:
        said = source.response.get("token_type") if source.response else None
        return (
            f"presents the access_token of token request {source.n}'s answer, which said "
            f"token_type {obs.shown(str(said), 20)}: only a Bearer token response may be used"
        )
    later = any(c.issued_token == call.bearer for c in obs.token_calls)
    if later:
        return "presents a bearer token before any token response had issued it"
    return "presents a bearer token the emulator never issued"


@check(
    "api-token-not-expired",
    "MUST",
    "RFC6749-5.1",
    f"a token is never presented after its expires_in has run out "
    f"(tolerance {EXPIRY_TOLERANCE:g} s)",
)
def _not_expired(obs: Observation) -> Result:
    bad = []
    for c in obs.api_calls:
        source = obs.token_source(c)
        if source is None or source.expires_in is None:
            continue
        late = c.at - (source.at + source.expires_in)
        if late >= EXPIRY_TOLERANCE:
            answer = f"{c.status}{' ' + c.error if c.error else ''}"
            bad.append(
                (
                    c,
                    f"presented the token of token request {source.n} {late:.2f} s after its "
                    f"expires_in ({source.expires_in:g} s) ran out (tolerance "
                    f"{EXPIRY_TOLERANCE:g} s; the API answered {answer}): fetch a new token "
                    "before expires_in runs out, timed from when you asked for it",
                )
            )
    return each(obs.api_calls, "API call", bad, "presented an unexpired token")


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
                    f"presents again the token the API rejected in API call {rejected[token]} "
                    "(401 invalid_token): drop a rejected token and fetch a new one",
                )
            )
        if call.status == 401 and call.error == "invalid_token" and token is not None:
            rejected.setdefault(token, call.n)
    return each(obs.api_calls, "API call", bad, "respected invalid_token rejections")
