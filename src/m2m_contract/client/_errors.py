"""Typed errors of the reference client: one base class, one subclass per thing to act on.

Messages say what happened and what to check. They never hold the client secret or a token:
text the server sent back is redacted and trimmed before it is quoted.
"""

from __future__ import annotations

import copy


class ClientCredentialsError(Exception):
    """Base class: no usable token could be obtained."""

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts

    def clone(self) -> ClientCredentialsError:
        """A fresh copy to raise in another caller (one raise per caller keeps tracebacks short)."""
        twin = copy.copy(self)
        twin.__cause__ = self.__cause__
        return twin


class InsecureTokenURLError(ClientCredentialsError, ValueError):
    """The token URL is not HTTPS and its host is not loopback: the secret would travel in clear."""


class TokenRequestError(ClientCredentialsError):
    """The token endpoint refused the request (a 4xx answer other than 429); never retried."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        error: str | None = None,
        description: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, attempts=attempts)
        self.status = status
        self.error = error
        self.description = description


class InvalidClientError(TokenRequestError):
    """401: the client id or secret is wrong (Auth0 says access_denied "Unauthorized")."""


class AccessDeniedError(TokenRequestError):
    """403: the client may not get this token (audience not granted, grant type not allowed)."""


class ScopeNotGrantedError(AccessDeniedError):
    """The client asked for scopes its grant does not include."""

    def __init__(
        self,
        message: str,
        *,
        scopes: tuple[str, ...] = (),
        status: int = 403,
        error: str | None = None,
        description: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(
            message, status=status, error=error, description=description, attempts=attempts
        )
        self.scopes = scopes


class RateLimitedError(ClientCredentialsError):
    """429 and no retry fitted in the deadline; `retry_after` (s) and `reset` (UNIX s) say when."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        reset: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, attempts=attempts)
        self.retry_after = retry_after
        self.reset = reset


class TokenServerError(ClientCredentialsError):
    """5xx or 408 answers until the retries or the deadline ran out."""

    def __init__(self, message: str, *, status: int = 500, attempts: int = 1) -> None:
        super().__init__(message, attempts=attempts)
        self.status = status


class MalformedTokenResponseError(ClientCredentialsError):
    """A 2xx answer that is not a usable token response (not JSON, no token, not Bearer...)."""


class TokenEndpointUnreachableError(ClientCredentialsError):
    """No answer at all: connection refused or reset, TLS failure, DNS failure or timeout."""

    def __init__(self, message: str, *, timed_out: bool = False, attempts: int = 1) -> None:
        super().__init__(message, attempts=attempts)
        self.timed_out = timed_out
