"""Checks of how the client ends each scenario: exit status, retries, re-fetches.

Clauses: "partner §1/§2" is the partner document (client-credentials-auth-flow.md);
"RFC6749-x" and "RFC6750-x" are sections of those RFCs; "Auth0" is Auth0's guidance.
"""

from __future__ import annotations

import itertools

from ._catalogue import Result, check, failed, nothing, passed
from ._model import Observation

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
