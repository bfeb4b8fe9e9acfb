"""The reference client: OAuth 2.0 client credentials for httpx, sync and async.

`ClientCredentials` is an `httpx.Auth`; every error it raises is a `ClientCredentialsError`.
`run_protocol(env)` is the command-client protocol of DESIGN.md (`m2m-contract
reference-client` runs it), the default client of the conformance suite.
"""

from ._auth import ClientCredentials
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
from ._token import Token

__all__ = [
    "AccessDeniedError",
    "ClientCredentials",
    "ClientCredentialsError",
    "InsecureTokenURLError",
    "InvalidClientError",
    "MalformedTokenResponseError",
    "RateLimitedError",
    "ScopeNotGrantedError",
    "Token",
    "TokenEndpointUnreachableError",
    "TokenRequestError",
    "TokenServerError",
    "normalise_scope",
    "run_protocol",
]
