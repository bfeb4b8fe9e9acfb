"""The client_credentials grant as Auth0 answers it: authenticate, authorise, issue."""

from __future__ import annotations

import hmac
from typing import Any

from ._config import Client, Tenant
from ._http import Response, json_response, oauth_error
from ._token_request import BadRequest, TokenRequest, invalid_request, string_param

GRANT_TYPES_URI = "https://auth0.com/docs/clients/client-grant-types"
CLIENT_GRANTS_URI = "https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants"


def check_grant_type(params: dict[str, Any]) -> None:
    grant_type = string_param(params, "grant_type")
    if grant_type is None:
        raise invalid_request("Missing required parameter: grant_type")
    if grant_type == "refresh_token":
        # The emulator never issues refresh tokens, so none can be valid.
        raise BadRequest(oauth_error(403, "invalid_grant", "Unknown or invalid refresh token."))
    if grant_type != "client_credentials":
        raise BadRequest(
            oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type[:64]}")
        )


def authenticate(tenant: Tenant, request: TokenRequest) -> Client:
    """Return the client whose secret matches; Auth0 answers 401 access_denied otherwise."""
    unauthorized = BadRequest(oauth_error(401, "access_denied", "Unauthorized"))
    if request.client_id is None:
        raise invalid_request("Missing required parameter: client_id")
    client = tenant.client(request.client_id)
    if client is None or request.client_secret is None:
        raise unauthorized
    if not hmac.compare_digest(request.client_secret.encode(), client.client_secret.encode()):
        raise unauthorized
    if request.auth_method not in client.auth_methods:
        raise unauthorized
    return client


def requested_scopes(params: dict[str, Any]) -> tuple[str, ...] | None:
    """Scopes asked for (None when omitted); Auth0 accepts a string or an array."""
    scope = params.get("scope")
    if scope is None or scope == "":
        return None
    if isinstance(scope, str):
        return tuple(scope.split())
    if isinstance(scope, list) and all(isinstance(s, str) for s in scope):
        return tuple(s for item in scope for s in item.split())
    raise BadRequest(oauth_error(400, "invalid_scope", "Scope must be an array or a string"))


def authorise(
    tenant: Tenant, client: Client, params: dict[str, Any]
) -> tuple[str, tuple[str, ...], int]:
    """Return (audience, granted scopes, lifetime) or raise Auth0's 403."""
    if "client_credentials" not in client.grant_types:
        raise BadRequest(
            oauth_error(
                403,
                "unauthorized_client",
                "Grant type 'client_credentials' not allowed for the client.",
                error_uri=GRANT_TYPES_URI,
            )
        )
    audience = string_param(params, "audience") or tenant.default_audience
    if audience is None:
        raise BadRequest(
            oauth_error(
                403,
                "access_denied",
                "No audience parameter was provided, and no default audience has been configured",
            )
        )
    api = tenant.api(audience)
    if api is None:
        description = f"Service not enabled within domain: {audience[:200]}"
        raise BadRequest(oauth_error(403, "access_denied", description))
    granted = client.grants.get(audience)
    if granted is None:
        raise BadRequest(
            oauth_error(
                403,
                "access_denied",
                f'Client is not authorized to access "{audience}". You need to create a '
                f'"client-grant" associated to this API. See: {CLIENT_GRANTS_URI}',
            )
        )
    asked = requested_scopes(params)
    if asked is None:
        return audience, granted, api.token_lifetime
    wanted = tuple(dict.fromkeys(asked))
    if tenant.offline_access == "ignore":
        # The partner tenant accepts offline_access and simply issues no refresh token.
        wanted = tuple(s for s in wanted if s != "offline_access")
    missing = [s for s in wanted if s not in granted]
    if missing:
        raise BadRequest(
            oauth_error(
                403,
                "access_denied",
                "Client has not been granted scopes: " + " ".join(s[:64] for s in missing[:20]),
            )
        )
    return audience, wanted, api.token_lifetime


def success(token: str, lifetime: int, scopes: tuple[str, ...], extra: dict[str, Any]) -> Response:
    body: dict[str, Any] = {"access_token": token}
    if scopes:
        body["scope"] = " ".join(scopes)
    body.update(expires_in=lifetime, token_type="Bearer", **extra)
    return json_response(200, body)
