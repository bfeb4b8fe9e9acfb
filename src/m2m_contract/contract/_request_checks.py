"""Checks of the token request's shape, one per clause. Pure functions.

Clauses: "partner §1/§2" is the partner document (client-credentials-auth-flow.md);
"RFC6749-x" and "RFC6750-x" are sections of those RFCs; "Auth0" is Auth0's guidance.
"""

from __future__ import annotations

from .._text import counted
from ._catalogue import Result, check, each, failed, nothing, passed
from ._model import Observation, TokenCall
from ._scope import scope_problem, scope_tokens

# -- request shape ---------------------------------------------------------------------------


@check("token-request-method", "MUST", "RFC6749-3.2", "token requests use POST")
def _method(obs: Observation) -> Result:
    bad = [
        (c, f"sent with {obs.shown(c.method, 20)}; the token endpoint takes POST")
        for c in obs.token_calls
        if c.method != "POST"
    ]
    return each(obs.token_calls, "token request", bad, "used POST")


@check(
    "token-request-path",
    "MUST",
    "partner §1",
    "requests go to the documented token path and API, nowhere else",
)
def _path(obs: Observation) -> Result:
    # Discovery and the JWKS are the tenant's own documents: reading them is fine.
    stray = [c for c in obs.other_calls if c.kind in ("other", "admin")]
    if stray:
        call = stray[0]
        more = f" (and {len(stray) - 1} more)" if len(stray) > 1 else ""
        return failed(
            f"a request went to {obs.shown(f'{call.method} {call.path}')}{more}, which is no "
            "route of the "
            "tenant; the token endpoint is POST /oauth/token (M2M_TOKEN_URL)",
            *(c.seq for c in stray),
        )
    if not obs.token_calls:
        return nothing("the client made no token request")
    return passed("every request went to /oauth/token or the API")


@check(
    "journal-complete",
    "MUST",
    "m2m-contract",
    "every request the client sent was recorded whole, so the other checks saw all of it",
)
def _journal(obs: Observation) -> Result:
    lost = []
    if obs.dropped:
        lost.append(
            f"{counted(obs.dropped, 'earlier exchange')} dropped out of the journal (it keeps "
            "10,000 exchanges or 64 MiB)"
        )
    if obs.unjournaled:
        lost.append(
            f"{counted(obs.unjournaled, 'request')} read but never recorded (abandoned half "
            "sent, or refused at the connection limit)"
        )
    if obs.cut:
        _, parts = obs.cut[0]
        what = ", ".join(p.removeprefix("request.") for p in parts)
        more = f" (and {len(obs.cut) - 1} more)" if len(obs.cut) > 1 else ""
        lost.append(
            f"a request's {what} cut at the emulator's limit (32 KiB for the request line and "
            f"headers, the body limit for a body){more}"
        )
    if lost:
        return failed(
            "the emulator could not keep everything the client sent: "
            + "; ".join(lost)
            + ". The other checks judged only what was kept, so this run proves nothing about "
            "the rest; a client under test sends a few small requests",
            *(seq for seq, _ in obs.cut),
        )
    return passed("every request was recorded whole")


@check(
    "token-request-body-encoding",
    "MUST",
    "RFC6749-4.4.2",
    "the token request body is JSON or form-urlencoded and parses",
)
def _encoding(obs: Observation) -> Result:
    bad = [
        (
            c,
            "body is not parseable JSON or form data (Content-Type "
            f"{obs.shown(c.content_type) if c.content_type else 'none'})",
        )
        for c in obs.token_calls
        if c.encoding in ("other", "none")
    ]
    return each(obs.token_calls, "token request", bad, "had a parseable body")


@check(
    "token-request-json-body",
    "SHOULD",
    "partner §1",
    "the token request body is JSON, as the partner document shows",
    profiles=("loyaltyone",),
)
def _json_body(obs: Observation) -> Result:
    bad = [
        (c, "body is form-urlencoded; the partner document sends application/json")
        for c in obs.token_calls
        if c.encoding == "form"
    ]
    return each(obs.token_calls, "token request", bad, "had a JSON body")


def _required(call: TokenCall) -> str | None:
    # With HTTP Basic, client_id and client_secret travel in the header (RFC 6749 §2.3.1).
    names = ["grant_type"] if call.basic else ["client_id", "client_secret", "grant_type"]
    for name in names:
        values = call.values(name)
        if not values:
            return f"'{name}' is missing"
        if not isinstance(values[0], str):
            return f"'{name}' is a JSON {type(values[0]).__name__}; expected a string"
        if values[0] == "":
            return f"'{name}' is empty"
    return None


@check(
    "token-request-required-params",
    "MUST",
    "RFC6749-4.4.2",
    "client_id, client_secret and grant_type are present, non-empty strings",
)
def _required_params(obs: Observation) -> Result:
    bad = [
        (c, why) for c in obs.token_calls if c.encoding in ("json", "form") if (why := _required(c))
    ]
    return each(obs.token_calls, "token request", bad, "carried the required parameters")


@check(
    "token-request-no-repeated-params", "MUST", "RFC6749-3.2", "no parameter appears more than once"
)
def _repeats(obs: Observation) -> Result:
    bad = []
    for c in obs.token_calls:
        names = [k for k, _ in c.pairs]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            bad.append((c, f"repeats {', '.join(obs.shown(n, 40) for n in repeated)}"))
    return each(obs.token_calls, "token request", bad, "named each parameter once")


@check(
    "token-request-grant-type", "MUST", "RFC6749-4.4.2", "grant_type is exactly client_credentials"
)
def _grant_type(obs: Observation) -> Result:
    bad = [
        (c, f"grant_type is {obs.shown(c.param('grant_type'))}; expected 'client_credentials'")
        for c in obs.token_calls
        if c.values("grant_type") and c.param("grant_type") != "client_credentials"
    ]
    return each(obs.token_calls, "token request", bad, "used grant_type=client_credentials")


@check(
    "token-request-no-refresh-grant",
    "MUST",
    "partner §1",
    "never uses or sends a refresh token (they are not permitted in this flow)",
)
def _no_refresh(obs: Observation) -> Result:
    bad = [
        (c, "uses the refresh_token grant; refresh tokens are not permitted in this flow")
        for c in obs.token_calls
        if c.param("grant_type") == "refresh_token" or c.values("refresh_token")
    ]
    return each(obs.token_calls, "token request", bad, "avoided refresh tokens")


@check(
    "token-request-no-user-credentials", "MUST", "RFC6749-4.4", "no username or password parameters"
)
def _no_user(obs: Observation) -> Result:
    bad = [
        (c, f"sends {name}")
        for c in obs.token_calls
        for name in ("username", "password")
        if c.values(name)
    ]
    return each(obs.token_calls, "token request", bad, "sent no user credentials")


@check(
    "token-request-scope-format",
    "MUST",
    "RFC6749-3.3",
    "scope, when sent, is one string of scopes separated by single spaces",
)
def _scope_format(obs: Observation) -> Result:
    bad = [
        (c, why)
        for c in obs.token_calls
        if c.values("scope")
        if (why := scope_problem(c.param("scope")))
    ]
    return each(obs.token_calls, "token request", bad, "sent a well-formed scope (or none)")


@check(
    "token-request-scope-as-configured",
    "MUST",
    "partner §1",
    "the scopes requested are the scopes the client was configured with",
    scenarios=("happy-path", "scope-list", "offline-access", "token-reuse", "not-granted-scope"),
)
def _scope_config(obs: Observation) -> Result:
    wanted = set(obs.settings.scope.split())
    bad = []
    for c in obs.token_calls:
        sent = set(scope_tokens(c.param("scope")))
        if sent != wanted:
            asked = f"asks for {obs.shown(c.param('scope'))}" if sent else "sends no scope"
            bad.append((c, f"{asked}; M2M_SCOPE is {obs.settings.scope!r}: send exactly those"))
    return each(obs.token_calls, "token request", bad, "asked for the configured scopes")


@check(
    "token-request-omits-empty-scope",
    "SHOULD",
    "partner §1",
    "with no scope configured, scope is omitted",
    scenarios=("no-scope",),
)
def _omit_scope(obs: Observation) -> Result:
    bad = [
        (c, f"sends scope {obs.shown(c.param('scope'))} with no scope configured")
        for c in obs.token_calls
        if c.values("scope") and c.param("scope") != ""
    ]
    return each(obs.token_calls, "token request", bad, "omitted scope")


@check(
    "token-request-audience",
    "MUST",
    "Auth0",
    "audience is sent when configured, and only the configured one",
)
def _audience(obs: Observation) -> Result:
    wanted = obs.settings.audience
    bad = []
    for c in obs.token_calls:
        sent = c.param("audience")
        if wanted and sent is None:
            bad.append((c, f"sends no audience; M2M_AUDIENCE is {wanted!r}: send it in every "
                        "token request, re-fetches included"))
        elif wanted and sent != wanted:
            bad.append((c, f"sends audience {obs.shown(sent)}; M2M_AUDIENCE is {wanted!r}"))
        elif not wanted and sent not in (None, ""):
            bad.append((c, f"sends audience {obs.shown(sent)} though M2M_AUDIENCE is empty"))
    return each(obs.token_calls, "token request", bad, "sent the configured audience")


@check(
    "token-request-single-auth-method",
    "MUST",
    "RFC6749-2.3.1",
    "the client authenticates with one method per request",
)
def _single_auth(obs: Observation) -> Result:
    bad = [
        (c, "sends the secret both in an Authorization header and in the body")
        for c in obs.token_calls
        if c.basic and c.values("client_secret")
    ]
    return each(obs.token_calls, "token request", bad, "used one authentication method")


@check(
    "token-request-secret-in-body",
    "SHOULD",
    "partner §1",
    "the secret is sent in the body, as the partner document shows",
    profiles=("loyaltyone",),
)
def _secret_body(obs: Observation) -> Result:
    bad = [
        (
            c,
            "authenticates with HTTP Basic; the partner document sends client_secret in "
            "the JSON body",
        )
        for c in obs.token_calls
        if c.basic
    ]
    return each(obs.token_calls, "token request", bad, "sent the secret in the body")
