"""Checks of how the client ends each scenario: it ran, finished, succeeded or failed cleanly,
reused its token, re-fetched after expiry. Pure functions.

Clauses: "partner §1/§2" is the partner document (client-credentials-auth-flow.md);
"RFC6749-x" and "RFC6750-x" are sections of those RFCs; "Auth0" is Auth0's guidance.
"""

from __future__ import annotations

from .._text import visible
from ._catalogue import Result, check, failed, nothing, passed
from ._model import STREAMS, Observation
from ._rules import (
    EXPIRY_SCENARIOS,
    EXPIRY_TOLERANCE,
    FAILURE_SCENARIOS,
    NO_TOKEN_SCENARIOS,
    SUCCESS_SCENARIOS,
)


def _last_line(obs: Observation) -> str:
    """The last line the client printed on each stream (each stream redacted whole first)."""
    said = [
        f"its last {stream} line: {obs.shown(lines[-1].strip(), 160)}"
        for stream in STREAMS
        if (lines := obs.printed(stream))
    ]
    return "; " + "; ".join(said) if said else "; it printed nothing"


def _exited(obs: Observation) -> str:
    return obs.outcome.ended


@check(
    "client-requests-token",
    "MUST",
    "partner §1",
    "the client sends at least one token request (a client that never ran is never ok)",
)
def _requests_token(obs: Observation) -> Result:
    if obs.token_calls:
        return passed(f"{len(obs.token_calls)} token request(s)")
    if obs.scenario == "untrusted-certificate" and obs.handshakes:
        return passed("the client opened a TLS connection to the token endpoint")
    if obs.outcome.error is not None:
        return failed(f"the client could not be started: {visible(obs.outcome.error)}")
    return failed(
        f"the client {_exited(obs)} without sending any token request to M2M_TOKEN_URL"
        f"{_last_line(obs)}"
    )


@check(
    "client-finishes",
    "MUST",
    "partner §2",
    "the client finishes within the scenario's time limit",
)
def _finishes(obs: Observation) -> Result:
    if obs.scenario == "token-endpoint-stall":
        return nothing("judged by token-endpoint-stall-gives-up in this scenario")
    if obs.outcome.error is not None:
        return failed(f"the client could not run: {visible(obs.outcome.error)}")
    if obs.outcome.timed_out:
        return failed(
            f"the client was still running when the scenario's {obs.outcome.limit:g} s limit "
            "(--scenario-timeout) ran out, and was killed" + _last_line(obs)
        )
    return passed(f"the client {obs.outcome.ended}")


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
    wanted = obs.settings.api_calls
    ok = [c for c in obs.api_calls if 200 <= c.status < 300]
    if obs.outcome.exit_code != 0:
        refused = [c for c in obs.api_calls if not 200 <= c.status < 300]
        why = (
            f"; API call {refused[0].n} was answered {refused[0].status}"
            f"{' ' + refused[0].error if refused[0].error else ''}"
            if refused
            else f"; it made {len(obs.api_calls)} of the {wanted} API calls (M2M_API_CALLS)"
        )
        return failed(f"the client {obs.outcome.ended}; expected exit 0{why}{_last_line(obs)}")
    if len(ok) < wanted:
        return failed(
            f"the client exited 0, but only {len(ok)} of the {wanted} API calls "
            "(M2M_API_CALLS) got a 2xx: exit non-zero unless every call succeeds"
        )
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
    if obs.outcome.exit_code != 0:
        return passed(f"the client {obs.outcome.ended}")
    issued = [c for c in obs.token_calls if c.issued_token]
    if obs.scenario == "not-granted-scope" and issued and not issued[0].values("scope"):
        return failed(
            "the client exited 0: it never sent the scopes it was configured with "
            f"(M2M_SCOPE {obs.settings.scope!r}), so the tenant issued a token with its default "
            "scopes; send M2M_SCOPE, and exit non-zero when the token is refused"
        )
    ok = [c for c in obs.api_calls if 200 <= c.status < 300]
    if obs.scenario == "untrusted-certificate" and issued:
        used = f" and used it (API call {ok[0].n} was accepted)" if ok else ""
        return failed(
            f"the client exited 0: it accepted the untrusted certificate, got a token over it "
            f"(token request {issued[0].n}){used}; refuse a certificate you cannot verify, "
            "and exit non-zero when you cannot get a token",
            *(c.seq for c in issued),
        )
    if ok:
        source = obs.token_source(ok[0])
        why = (
            f"the token of token request {source.n}"
            if source is not None
            else "no usable token was issued in this scenario"
        )
        return failed(
            f"the client exited 0 after API call {ok[0].n} was accepted with a token it "
            f"should not have used ({why})"
        )
    return failed(
        "the client exited 0 although no usable token was issued (or the API refused it): "
        "exit non-zero when the token request fails, so your job does not report success"
    )


@check(
    "no-api-call-without-token",
    "MUST",
    "partner §2",
    "no API request is made without a token from a successful token response",
    scenarios=NO_TOKEN_SCENARIOS,
)
def _no_api(obs: Observation) -> Result:
    bad = [c for c in obs.api_calls if obs.token_source(c) is None]
    if bad:
        return failed(
            f"API call {bad[0].n} was made although no token response in this scenario was "
            "usable: stop when the token request fails",
            *(c.seq for c in bad),
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
            f"{n} token requests after a 401/403; at most 2 are allowed: a refused secret or "
            "scope stays refused, and Auth0 counts every attempt",
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
    "token-single-flight",
    "SHOULD",
    "Auth0",
    "API calls made at the same time share one token request",
    scenarios=("concurrent-calls",),
)
def _single_flight(obs: Observation) -> Result:
    n = len(obs.token_calls)
    if n == 0:
        return nothing("the client made no token request")
    if n > 1:
        return failed(
            f"{n} token requests for {len(obs.api_calls)} API calls made up to "
            f"{obs.settings.api_concurrency} at a time with a token valid throughout: share "
            "one token fetch between threads or tasks (e.g. one shared client, a lock around "
            "the fetch), or each worker costs Auth0 a token",
            *(c.seq for c in obs.token_calls[1:]),
        )
    return passed(f"one token request for {len(obs.api_calls)} concurrent API calls")


@check(
    "token-refetched-after-expiry",
    "MUST",
    "RFC6749-4.4",
    "after expiry, a new token is fetched with client_credentials",
    scenarios=EXPIRY_SCENARIOS,
)
def _refetched(obs: Observation) -> Result:
    first = next((c for c in obs.token_calls if c.issued_token), None)
    if first is None or first.expires_in is None:
        return nothing("no token was issued")
    # Only calls past the tolerance are judged: before it, reusing the token is allowed.
    expiry = first.at + first.expires_in + EXPIRY_TOLERANCE
    late_calls = [c for c in obs.api_calls if c.at >= expiry]
    if not late_calls:
        return nothing(
            f"no API call was made more than {EXPIRY_TOLERANCE:g} s after the first token expired"
        )
    fresh = [
        c
        for c in obs.token_calls
        if c.at > first.at and c.issued_token and c.param("grant_type") == "client_credentials"
    ]
    if not fresh:
        return failed(
            f"API call {late_calls[0].n} came {late_calls[0].at - first.at:.2f} s after token "
            f"request {first.n} (expires_in {first.expires_in:g} s), but no new token was "
            "fetched with client_credentials",
            *(c.seq for c in late_calls),
        )
    return passed(f"{len(fresh)} new token(s) fetched with client_credentials")
