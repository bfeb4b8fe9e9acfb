"""The reference client: OAuth 2.0 client credentials for httpx, sync and async.

`ClientCredentials` is an `httpx.Auth`; every error it raises is a `ClientCredentialsError`.
`deadline_client(seconds)` / `DeadlineTransport` give sync httpx requests a total deadline
(httpx's own timeouts bound each network wait, not the exchange).
`run_protocol(env)` is the command-client protocol of DESIGN.md (`m2m-contract
reference-client` runs it), the default client of the conformance suite.
"""

from ._auth import ClientCredentials
from ._deadline import (
    AsyncDeadlineTransport,
    Deadline,
    DeadlineExceededError,
    DeadlineTransport,
    deadline_client,
    total_deadline,
)
from ._errors import (
    AccessDeniedError,
    ClientCredentialsError,
    InsecureTokenURLError,
    InvalidClientError,
    MalformedTokenResponseError,
    RateLimitedError,
    ScopeNotGrantedError,
    TokenEndpointUnreachableError,
    TokenRequestError,
    TokenServerError,
)
from ._protocol import run_protocol
from ._request import normalise_scope
from ._token import MAX_RETRY_AFTER, Token

__all__ = [
    "MAX_RETRY_AFTER",
    "AccessDeniedError",
    "AsyncDeadlineTransport",
    "ClientCredentials",
    "ClientCredentialsError",
    "Deadline",
    "DeadlineExceededError",
    "DeadlineTransport",
    "InsecureTokenURLError",
    "InvalidClientError",
    "MalformedTokenResponseError",
    "RateLimitedError",
    "ScopeNotGrantedError",
    "Token",
    "TokenEndpointUnreachableError",
    "TokenRequestError",
    "TokenServerError",
    "deadline_client",
    "normalise_scope",
    "run_protocol",
    "total_deadline",
]
