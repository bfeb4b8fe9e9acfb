"""Checks of how the client copes with each fault Auth0 (or the network) really produces:
rate limiting, 5xx, resets, stalls, untrusted certificates, redirects, rejected tokens.
Pure functions.

Clauses: "partner §1/§2" is the partner document (client-credentials-auth-flow.md);
"RFC6749-x" and "RFC6750-x" are sections of those RFCs; "Auth0" is Auth0's guidance.
"""

from __future__ import annotations

import itertools

from ._catalogue import Result, check, failed, nothing, passed
from ._model import Observation, TokenCall
from ._rules import MAX_TOKEN_ATTEMPTS, MIN_BACKOFF, RETRY_AFTER_TOLERANCE, STALL_BUDGET


def _method(call: TokenCall) -> str:
    return {"Basic": "HTTP Basic", "body": "client_secret in the body"}.get(
        call.auth_method, "no client authentication"
    )


@check(
    "rate-limit-retry-after",
    "MUST",
    "RFC6585-4",
    f"after a 429, no token request is sent before Retry-After has passed "
    f"(tolerance {RETRY_AFTER_TOLERANCE:g} s)",
    scenarios=("rate-limited",),
)
def _retry_after(obs: Observation) -> Result:
    calls = obs.token_calls
    limited = [c for c in calls if c.status == 429 and c.answered is not None]
    if not limited:
        return nothing("no 429 was answered")
    for c, retry in itertools.pairwise(calls):
        if c.status != 429 or c.answered is None:
            continue
        wait, needed = retry.at - c.answered, c.retry_after or 0.0
        if wait < needed - RETRY_AFTER_TOLERANCE:
            switched = (
                f", switching from {_method(c)} to {_method(retry)}"
                if retry.auth_method != c.auth_method
                else ""
            )
            return failed(
                f"token request {retry.n} came {wait:.2f} s after token request {c.n} was "
                f"answered 429 with Retry-After: {needed:g}{switched}; wait at least that long "
                f"(tolerance {RETRY_AFTER_TOLERANCE:g} s) before asking again",
                c.seq,
                retry.seq,
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
        return failed(f"the client retried after the 429 but {obs.outcome.ended}")
    return passed("the client retried and succeeded")


@check(
    "token-retries-bounded",
    "MUST",
    "Auth0",
    f"a failing token endpoint is retried a bounded number of times "
    f"(at most {MAX_TOKEN_ATTEMPTS} token requests)",
    scenarios=("server-error", "connection-reset"),
)
def _bounded(obs: Observation) -> Result:
    n = len(obs.token_calls)
    if n > MAX_TOKEN_ATTEMPTS:
        return failed(
            f"{n} token requests; retries must be bounded (at most {MAX_TOKEN_ATTEMPTS} in all)",
            *(c.seq for c in obs.token_calls[MAX_TOKEN_ATTEMPTS:]),
        )
    return passed(f"{n} token request(s)")


@check(
    "server-error-backoff",
    "SHOULD",
    "Auth0",
    f"retries after a 5xx wait (backoff, at least {MIN_BACKOFF * 1000:.0f} ms) instead of "
    "firing at once",
    scenarios=("server-error",),
)
def _backoff(obs: Observation) -> Result:
    calls = obs.token_calls
    if len(calls) < 2:
        return nothing("the client did not retry")
    for before, retry in itertools.pairwise(calls):
        if before.status >= 500 and before.answered is not None:
            waited = retry.at - before.answered
            if waited < MIN_BACKOFF:
                return failed(
                    f"token request {retry.n} retried {waited * 1000:.0f} ms after token request "
                    f"{before.n} was answered {before.status} (tolerance: a retry sooner than "
                    f"{MIN_BACKOFF * 1000:.0f} ms counts as none); back off (e.g. 0.25 s, "
                    "doubling, with jitter) so a struggling server can recover",
                    before.seq,
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
    "connection-reset-outcome",
    "MUST",
    "partner §2",
    "after a reset connection the client retries and succeeds, or fails cleanly",
    scenarios=("connection-reset",),
)
def _reset_outcome(obs: Observation) -> Result:
    if obs.outcome.timed_out or obs.outcome.exit_code is None:
        return nothing("the client did not run to the end (see client-finishes)")
    recovered = any(c.issued_token for c in obs.token_calls)
    if obs.outcome.exit_code == 0 and not recovered:
        return failed(
            "the client exited 0 without ever getting a token: its token request's connection "
            "was reset, and it went on as if it had one"
        )
    if obs.outcome.exit_code == 0:
        return passed("retried after the reset and succeeded")
    return passed(f"failed cleanly (the client {obs.outcome.ended})")


@check(
    "token-endpoint-stall-gives-up",
    "SHOULD",
    "partner §2",
    f"a token endpoint that never answers is given up on within {STALL_BUDGET:g} s of the "
    "token request (a timeout, then a non-zero exit)",
    scenarios=("token-endpoint-stall",),
)
def _stall(obs: Observation) -> Result:
    if obs.outcome.error is not None:
        return nothing("the client could not run (see client-requests-token)")
    if obs.outcome.timed_out:
        if not obs.token_calls:
            return nothing("the client sent no token request (see client-requests-token)")
        n, budget = len(obs.token_calls), obs.outcome.limit
        if n > 1:  # it had a timeout, but its retries outlasted the budget
            return failed(
                f"the client was still trying to get a token {budget:g} s after its first "
                f"token request (the budget), and was killed: it sent {n} token requests, so "
                "each may have had a timeout, but its retries took it past the budget; bound "
                "the whole token fetch, retries included, by one deadline (say 10 s in all) so "
                "a hung endpoint fails your job instead of hanging it",
                *(c.seq for c in obs.token_calls),
            )
        return failed(
            f"the client was still waiting for the token endpoint {budget:g} s "
            "after its token request (the budget), and was killed: give the token request a "
            "timeout (connect and read, say 10 s in all) so a hung endpoint fails your job "
            "instead of hanging it",
            *(c.seq for c in obs.token_calls),
        )
    return passed(f"the client gave up by itself (it {obs.outcome.ended})")


@check(
    "certificate-verified",
    "MUST",
    "RFC6749-2.3.1",
    "the client refuses a token endpoint whose TLS certificate it cannot verify",
    scenarios=("untrusted-certificate",),
)
def _certificate(obs: Observation) -> Result:
    if obs.token_calls:
        return failed(
            "the client sent its token request, client secret included, over a TLS connection "
            "whose certificate no CA it was given has signed: it does not verify certificates "
            "(verification is off, or any certificate is accepted); anyone on the path could "
            "read the secret. Turn verification on and trust only M2M_CA_BUNDLE (or the system "
            "CAs)",
            *(c.seq for c in obs.token_calls),
        )
    if not obs.handshakes:
        return nothing("the client never connected to the token endpoint")
    return passed("the client refused the untrusted certificate; no token request arrived")


@check(
    "secret-not-sent-to-other-origin",
    "MUST",
    "RFC6749-2.3.1",
    "a redirect of the token endpoint never carries the secret to another origin",
    scenarios=("token-redirect",),
)
def _redirect(obs: Observation) -> Result:
    known, leaked = obs.known, []
    for call in obs.foreign_calls:
        texts = [*(v for _, v in call.headers), call.body.decode("utf-8", "replace"),
                 f"{call.path}?{call.query_string}"]
        found = [f for text in texts for f in known.find(text, "secret")]
        if found:
            leaked.append((call, found))
    if leaked:
        spelled = ", ".join(dict.fromkeys(f.spelling for _, found in leaked for f in found))
        return failed(
            f"the client followed the token endpoint's 307 to another origin and sent its "
            f"client secret there ({spelled}): never follow redirects of the token request "
            "(or strip the body and credentials when the origin changes)",
            *(c.seq for c, _ in leaked),
        )
    if obs.foreign_calls:
        return passed("the client followed the redirect, but without the secret")
    return passed("the client did not follow the redirect to the other origin")


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
            f"after API call {rejected.n} was answered 401 invalid_token, the client did not "
            "fetch a new token and retry the call: a revoked or rotated token is not the end",
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
            f"{calls} API calls while every one was rejected; at most {limit_calls} are allowed",
            *(c.seq for c in obs.api_calls[limit_calls:]),
        )
    if tokens > 2 * max(1, calls):
        return failed(
            f"{tokens} token requests for {calls} API call(s); at most two per API call",
            *(c.seq for c in obs.token_calls[2 * max(1, calls) :]),
        )
    return passed(f"{tokens} token request(s), {calls} API call(s)")
