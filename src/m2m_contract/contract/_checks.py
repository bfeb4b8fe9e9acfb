"""The contract, one small check per clause. Pure functions over an Observation.

Clauses: "partner §1/§2" is the partner document (client-credentials-auth-flow.md);
"RFC6749-x" and "RFC6750-x" are sections of those RFCs; "Auth0" is Auth0's guidance.
"""

from __future__ import annotations

import itertools
import re

from ._catalogue import Result, check, failed, nothing, passed
from ._model import ApiCall, Observation, TokenCall
from ._scope import scope_problem, scope_tokens

SUCCESS_SCENARIOS = (
    "happy-path",
    "scope-list",
    "no-scope",
    "offline-access",
    "token-reuse",
    "expiry",
    "refresh-token-offered",
)
FAILURE_SCENARIOS = (
    "bad-credentials",
    "not-granted-scope",
    "malformed-token-response",
    "api-rejects-token",
)
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def _each_token_call(obs: Observation, bad: list[tuple[TokenCall, str]], what: str) -> Result:
    if not obs.token_calls:
        return nothing("the client made no token request")
    if bad:
        call, why = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        return failed(f"token request #{call.seq}: {why}{more}", *(c.seq for c, _ in bad))
    return passed(f"every token request {what} ({len(obs.token_calls)} seen)")


# -- request shape ---------------------------------------------------------------------------


@check("token-request-method", "MUST", "RFC6749-3.2", "token requests use POST")
def _method(obs: Observation) -> Result:
    bad = [
        (c, f"sent with {c.method}; expected POST") for c in obs.token_calls if c.method != "POST"
    ]
    return _each_token_call(obs, bad, "used POST")


@check(
    "token-request-path",
    "MUST",
    "partner §1",
    "requests go to the documented token path and API, nowhere else",
)
def _path(obs: Observation) -> Result:
    if obs.other_calls:
        call = obs.other_calls[0]
        return failed(
            f"request #{call.seq} went to {call.method} {call.path}; the token endpoint is "
            f"/oauth/token",
            *(c.seq for c in obs.other_calls),
        )
    if not obs.token_calls:
        return nothing("the client made no token request")
    return passed("every request went to /oauth/token or the API")


@check(
    "token-request-body-encoding",
    "MUST",
    "RFC6749-4.4.2",
    "the token request body is JSON or form-urlencoded and parses",
)
def _encoding(obs: Observation) -> Result:
    bad = [
        (c, f"body is not parseable JSON or form data (Content-Type {c.content_type or 'none'!r})")
        for c in obs.token_calls
        if c.encoding in ("other", "none")
    ]
    return _each_token_call(obs, bad, "had a parseable body")


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
    return _each_token_call(obs, bad, "had a JSON body")


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
    return _each_token_call(obs, bad, "carried the required parameters")


@check(
    "token-request-no-repeated-params", "MUST", "RFC6749-3.2", "no parameter appears more than once"
)
def _repeats(obs: Observation) -> Result:
    bad = []
    for c in obs.token_calls:
        names = [k for k, _ in c.pairs]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            bad.append((c, f"repeats {', '.join(repeated)}"))
    return _each_token_call(obs, bad, "named each parameter once")


@check(
    "token-request-grant-type", "MUST", "RFC6749-4.4.2", "grant_type is exactly client_credentials"
)
def _grant_type(obs: Observation) -> Result:
    bad = [
        (c, f"grant_type is {c.param('grant_type')!r}; expected 'client_credentials'")
        for c in obs.token_calls
        if c.values("grant_type") and c.param("grant_type") != "client_credentials"
    ]
    return _each_token_call(obs, bad, "used grant_type=client_credentials")


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
    return _each_token_call(obs, bad, "avoided refresh tokens")


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
    return _each_token_call(obs, bad, "sent no user credentials")


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
    return _each_token_call(obs, bad, "sent a well-formed scope (or none)")


@check(
    "token-request-scope-as-configured",
    "MUST",
    "partner §1",
    "the scopes requested are the scopes the client was configured with",
    scenarios=("happy-path", "scope-list", "offline-access", "token-reuse"),
)
def _scope_config(obs: Observation) -> Result:
    wanted = set(obs.settings.scope.split())
    bad = []
    for c in obs.token_calls:
        sent = set(scope_tokens(c.param("scope")))
        if sent != wanted:
            bad.append(
                (
                    c,
                    f"asks for {' '.join(sorted(sent)) or 'no scope'}; configured: "
                    f"{' '.join(sorted(wanted))}",
                )
            )
    return _each_token_call(obs, bad, "asked for the configured scopes")


@check(
    "token-request-omits-empty-scope",
    "SHOULD",
    "partner §1",
    "with no scope configured, scope is omitted",
    scenarios=("no-scope",),
)
def _omit_scope(obs: Observation) -> Result:
    bad = [
        (c, f"sends scope {c.param('scope')!r} with no scope configured")
        for c in obs.token_calls
        if c.values("scope") and c.param("scope") != ""
    ]
    return _each_token_call(obs, bad, "omitted scope")


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
        if wanted and sent != wanted:
            bad.append((c, f"audience is {sent!r}; configured: {wanted!r}"))
        elif not wanted and sent not in (None, ""):
            bad.append((c, f"sends audience {sent!r} though none was configured"))
    return _each_token_call(obs, bad, "sent the configured audience")


@check("secret-not-in-url", "MUST", "RFC6749-2.3.1", "the client secret never appears in a URL")
def _secret_url(obs: Observation) -> Result:
    secret = obs.settings.client_secret
    bad = [c.seq for c in obs.token_calls if any(secret in v for _, v in c.query)]
    bad += [c.seq for c in obs.api_calls if secret in c.query_string]
    bad += [c.seq for c in obs.other_calls if secret in c.query_string]
    if bad:
        return failed(f"request #{bad[0]} carries the client secret in its query string", *bad)
    return passed("no URL carried the secret")


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
    return _each_token_call(obs, bad, "used one authentication method")


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
    return _each_token_call(obs, bad, "sent the secret in the body")


# -- bearer usage ----------------------------------------------------------------------------


def _each_api_call(obs: Observation, bad: list[tuple[ApiCall, str]], what: str) -> Result:
    if not obs.api_calls:
        return nothing("the client made no API request")
    if bad:
        call, why = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        return failed(f"API request #{call.seq}: {why}{more}", *(c.seq for c, _ in bad))
    return passed(f"every API request {what} ({len(obs.api_calls)} seen)")


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
    return _each_api_call(obs, bad, "had a Bearer header")


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
    return _each_api_call(obs, bad, "presented an issued token")


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
    return _each_api_call(obs, bad, "presented an unexpired token")


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
    return _each_api_call(obs, bad, "respected invalid_token rejections")


# -- outcomes per scenario ------------------------------------------------------------------


@check(
    "client-finishes", "MUST", "partner §2", "the client finishes within the scenario's time limit"
)
def _finishes(obs: Observation) -> Result:
    if obs.outcome.error is not None:
        return failed(f"the client could not run: {obs.outcome.error}")
    if obs.outcome.timed_out:
        return failed("the client did not finish within the scenario's time limit and was killed")
    return passed(f"the client exited with status {obs.outcome.exit_code}")


@check(
    "client-succeeds",
    "MUST",
    "partner §2",
    "the client gets a token and every API call succeeds (exit 0)",
    scenarios=SUCCESS_SCENARIOS,
)
def _succeeds(obs: Observation) -> Result:
    if obs.outcome.timed_out or obs.outcome.exit_code is None:
        return nothing("the client did not run to the end (see client-finishes)")
    if obs.outcome.exit_code != 0:
        return failed(f"the client exited with status {obs.outcome.exit_code}; expected 0")
    wanted = obs.settings.api_calls
    ok = [c for c in obs.api_calls if 200 <= c.status < 300]
    if len(ok) < wanted:
        return failed(f"the client exited 0 but only {len(ok)} of {wanted} API calls succeeded")
    return passed(f"exit 0 with {len(ok)} successful API call(s)")


@check(
    "client-fails-cleanly",
    "MUST",
    "partner §2",
    "the client exits non-zero when it cannot get a usable token or the API refuses it",
    scenarios=FAILURE_SCENARIOS,
)
def _fails(obs: Observation) -> Result:
    if obs.outcome.timed_out or obs.outcome.exit_code is None:
        return nothing("the client did not run to the end (see client-finishes)")
    if obs.outcome.exit_code == 0:
        return failed("the client exited 0 although it could not have succeeded")
    return passed(f"the client exited with status {obs.outcome.exit_code}")


@check(
    "no-api-call-without-token",
    "MUST",
    "partner §2",
    "no API request is made without a token from a successful token response",
    scenarios=("bad-credentials", "not-granted-scope", "malformed-token-response"),
)
def _no_api(obs: Observation) -> Result:
    issued = obs.issued_tokens
    bad = [c for c in obs.api_calls if c.bearer not in issued]
    if bad:
        return failed(
            f"API request #{bad[0].seq} was made without a valid token", *(c.seq for c in bad)
        )
    return passed("no API request without a valid token")


@check(
    "no-retry-storm-on-rejection",
    "MUST",
    "Auth0",
    "a rejected token request (401/403) is not retried more than once",
    scenarios=("bad-credentials", "not-granted-scope"),
)
def _no_storm(obs: Observation) -> Result:
    n = len(obs.token_calls)
    if n > 2:
        return failed(
            f"{n} token requests after a 401/403; at most 2 are allowed",
            *(c.seq for c in obs.token_calls[2:]),
        )
    return passed(f"{n} token request(s)")


@check(
    "token-reused",
    "SHOULD",
    "Auth0",
    "one token request serves every API call while the token is valid",
    scenarios=("token-reuse", "happy-path", "scope-list"),
)
def _reused(obs: Observation) -> Result:
    n = len(obs.token_calls)
    if n == 0:
        return nothing("the client made no token request")
    if n > 1:
        return failed(
            f"{n} token requests for {len(obs.api_calls)} API call(s) with a token "
            f"valid throughout; cache it (Auth0 counts and rate-limits tokens)",
            *(c.seq for c in obs.token_calls[1:]),
        )
    return passed("one token request for every API call")


@check(
    "token-refetched-after-expiry",
    "MUST",
    "RFC6749-4.4",
    "after expiry, a new token is fetched with client_credentials",
    scenarios=("expiry", "refresh-token-offered"),
)
def _refetched(obs: Observation) -> Result:
    first = next((c for c in obs.token_calls if c.issued_token), None)
    if first is None or first.expires_in is None:
        return nothing("no token was issued")
    expiry = first.at + first.expires_in
    late_calls = [c for c in obs.api_calls if c.at >= expiry]
    if not late_calls:
        return nothing("no API call was made after the first token expired")
    fresh = [
        c
        for c in obs.token_calls
        if c.at > first.at and c.issued_token and c.param("grant_type") == "client_credentials"
    ]
    if not fresh:
        return failed(
            "API calls went on after the first token expired, but no new token was "
            "fetched with client_credentials",
            *(c.seq for c in late_calls),
        )
    return passed(f"{len(fresh)} new token(s) fetched with client_credentials")


@check(
    "rate-limit-retry-after",
    "MUST",
    "RFC6585-4",
    "after a 429, no token request is sent before Retry-After has passed",
    scenarios=("rate-limited",),
)
def _retry_after(obs: Observation) -> Result:
    calls = obs.token_calls
    limited = [(i, c) for i, c in enumerate(calls) if c.status == 429]
    if not limited:
        return nothing("no 429 was answered")
    for i, c in limited:
        if i + 1 < len(calls):
            wait = calls[i + 1].at - c.at
            needed = c.retry_after or 0.0
            if wait + 0.05 < needed:
                return failed(
                    f"token request #{calls[i + 1].seq} came {wait:.2f} s after a 429 "
                    f"that asked for Retry-After: {needed:g} s",
                    calls[i + 1].seq,
                )
    return passed("every retry waited for Retry-After")


@check(
    "rate-limit-recovers",
    "MUST",
    "Auth0",
    "a client that retries after a 429 goes on to succeed",
    scenarios=("rate-limited",),
)
def _recovers(obs: Observation) -> Result:
    if len(obs.token_calls) < 2:
        return nothing("the client did not retry after the 429 (allowed)")
    if obs.outcome.exit_code != 0:
        return failed(f"the client retried but exited with status {obs.outcome.exit_code}")
    return passed("the client retried and succeeded")


@check(
    "server-error-bounded-retries",
    "MUST",
    "Auth0",
    "5xx answers are retried a bounded number of times (at most 5 token requests)",
    scenarios=("server-error",),
)
def _bounded(obs: Observation) -> Result:
    n = len(obs.token_calls)
    if n > 5:
        return failed(
            f"{n} token requests; retries must be bounded (at most 5 in all)",
            *(c.seq for c in obs.token_calls[5:]),
        )
    return passed(f"{n} token request(s)")


@check(
    "server-error-backoff",
    "SHOULD",
    "Auth0",
    "retries after a 5xx wait (backoff) instead of firing at once",
    scenarios=("server-error",),
)
def _backoff(obs: Observation) -> Result:
    calls = obs.token_calls
    if len(calls) < 2:
        return nothing("the client did not retry")
    quick = [(a, b) for a, b in itertools.pairwise(calls) if a.status >= 500 and b.at - a.at < 0.05]
    if quick:
        before, retry = quick[0]
        return failed(
            f"token request #{retry.seq} retried {(retry.at - before.at) * 1000:.0f} ms "
            f"after a {before.status}; back off between retries",
            retry.seq,
        )
    return passed("retries backed off")


@check(
    "server-error-outcome",
    "MUST",
    "Auth0",
    "after 5xx answers the client either recovers or fails cleanly, never with a bad token",
    scenarios=("server-error",),
)
def _server_outcome(obs: Observation) -> Result:
    recovered = any(c.issued_token for c in obs.token_calls)
    if obs.outcome.exit_code == 0 and not recovered:
        return failed("the client exited 0 without ever getting a token")
    return passed("recovered" if recovered else "failed cleanly")


@check(
    "invalid-token-refetched",
    "SHOULD",
    "RFC6750-3.1",
    "after a 401 invalid_token the client fetches a new token and retries once",
    scenarios=("revoked-token",),
)
def _refetch_on_401(obs: Observation) -> Result:
    rejected = next(
        (c for c in obs.api_calls if c.status == 401 and c.error == "invalid_token"), None
    )
    if rejected is None:
        return nothing("the API never answered 401")
    later_tokens = [c for c in obs.token_calls if c.seq > rejected.seq and c.issued_token]
    retried = [c for c in obs.api_calls if later_tokens and c.seq > later_tokens[0].seq]
    if not retried:
        return failed(
            "after the 401 invalid_token the client did not fetch a new token and retry the call",
            rejected.seq,
        )
    return passed("fetched a new token and retried")


@check(
    "api-rejection-bounded",
    "MUST",
    "RFC6750-3.1",
    "when the API keeps rejecting tokens, the client gives up (≤ 2 token requests per API call)",
    scenarios=("api-rejects-token",),
)
def _rejection_bounded(obs: Observation) -> Result:
    calls, tokens = len(obs.api_calls), len(obs.token_calls)
    limit_calls = 2 * max(1, obs.settings.api_calls)
    if calls > limit_calls:
        return failed(
            f"{calls} API requests while every one was rejected; at most {limit_calls} are allowed",
            *(c.seq for c in obs.api_calls[limit_calls:]),
        )
    if tokens > 2 * max(1, calls):
        return failed(
            f"{tokens} token requests for {calls} API request(s); at most two per API call",
            *(c.seq for c in obs.token_calls[2 * max(1, calls) :]),
        )
    return passed(f"{tokens} token request(s), {calls} API request(s)")


# -- secret hygiene (every scenario) --------------------------------------------------------


@check("secret-not-in-api-request", "MUST", "partner §2", "the client secret never reaches the API")
def _secret_api(obs: Observation) -> Result:
    secret = obs.settings.client_secret
    bad = [
        c.seq
        for c in obs.api_calls
        if secret in (c.authorization or "")
        or secret in c.query_string
        or secret.encode() in c.body
    ]
    if bad:
        return failed(f"API request #{bad[0]} carries the client secret", *bad)
    return passed("no API request carried the secret")


@check(
    "secret-not-in-output", "MUST", "partner prerequisites", "the client never prints its secret"
)
def _secret_output(obs: Observation) -> Result:
    if obs.settings.client_secret in obs.outcome.output:
        return failed("the client's output contains the client secret")
    return passed("the output holds no secret")


@check("token-not-in-output", "SHOULD", "RFC6750-5.3", "the client never prints an access token")
def _token_output(obs: Observation) -> Result:
    if any(token in obs.outcome.output for token in obs.issued_tokens):
        return failed("the client's output contains an access token")
    return passed("the output holds no token")
