"""Secret hygiene, judged in every scenario. Pure functions.

Clauses: "partner §1/§2" is the partner document (client-credentials-auth-flow.md);
"RFC6749-x" and "RFC6750-x" are sections of those RFCs; "Auth0" is Auth0's guidance.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from ._catalogue import Result, check, failed, passed
from ._model import Observation

# -- secret hygiene (every scenario) --------------------------------------------------------


@check("secret-not-in-api-request", "MUST", "partner §2", "the client secret never reaches the API")
def _secret_api(obs: Observation) -> Result:
    secret = obs.settings.client_secret
    bad = [
        c.seq
        for c in obs.api_calls
        if any(secret in value for _, value in c.headers)
        or secret in (c.authorization or "")
        or secret in unquote_plus(c.path + "?" + c.query_string)
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
