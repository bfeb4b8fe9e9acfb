"""The OpenID discovery document, in the fields, order and values of a real Auth0 tenant's,
and the answer of the Auth0 endpoints it names that the emulator does not implement."""

from __future__ import annotations

from typing import Any

from ._http import Response, json_response

# Every URL is the served base URL plus the path Auth0 uses (the document's own order).
ENDPOINTS = {
    "authorization_endpoint": "authorize",
    "token_endpoint": "oauth/token",
    "device_authorization_endpoint": "oauth/device/code",
    "userinfo_endpoint": "userinfo",
    "mfa_challenge_endpoint": "mfa/challenge",
    "jwks_uri": ".well-known/jwks.json",
    "registration_endpoint": "oidc/register",
    "revocation_endpoint": "oauth/revoke",
}
IMPLEMENTED = ("token_endpoint", "jwks_uri")
# Paths Auth0 serves that the emulator answers with Auth0's 404 endpoint_disabled.
NOT_IMPLEMENTED = frozenset(
    "/" + path for name, path in ENDPOINTS.items() if name not in IMPLEMENTED
) | {"/oidc/logout", "/v2/logout", "/passwordless/start", "/dbconnections/signup"}

# Auth0 lists OpenID Connect scopes here, never an API's scopes.
OIDC_SCOPES = (
    "openid", "profile", "offline_access", "name", "given_name", "family_name", "nickname",
    "email", "email_verified", "picture", "created_at", "identities", "phone", "address",
)  # fmt: skip
OIDC_CLAIMS = (
    "aud", "auth_time", "created_at", "email", "email_verified", "exp", "family_name",
    "given_name", "iat", "identities", "iss", "name", "nickname", "phone_number", "picture",
    "sub",
)  # fmt: skip
RESPONSE_TYPES = (
    "code", "token", "id_token", "code token", "code id_token", "token id_token",
    "code token id_token",
)  # fmt: skip
# Auth0 advertises private_key_jwt too; the emulator authenticates with a secret only.
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")


def discovery(issuer: str, base_url: str) -> dict[str, Any]:
    """The document for `issuer`, its endpoints under `base_url` (the URL clients reach)."""
    root = base_url.rstrip("/") + "/"
    urls = {name: root + path for name, path in ENDPOINTS.items()}
    return {  # the order of the real document
        "issuer": issuer,
        **urls,
        "scopes_supported": list(OIDC_SCOPES),
        "response_types_supported": list(RESPONSE_TYPES),
        "code_challenge_methods_supported": ["S256", "plain"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["HS256", "RS256", "PS256"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "claims_supported": list(OIDC_CLAIMS),
        "request_uri_parameter_supported": False,
        "request_parameter_supported": False,
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS384", "PS256"],
    }


def endpoint_disabled(path: str) -> Response:
    """Auth0's documented 404 for an endpoint that is not enabled: JSON, never HTML."""
    return json_response(
        404,
        {
            "error": "endpoint_disabled",
            "error_description": f"The emulator does not implement {path}: it emulates the "
            "Client Credentials grant (POST /oauth/token) only",
        },
    )
