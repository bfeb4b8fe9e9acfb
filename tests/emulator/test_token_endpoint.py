"""POST /oauth/token answers like Auth0 (see reference/auth0-behaviour.md), through both doors."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from urllib.parse import quote_plus

import httpx
import pytest

from m2m_contract.emulator import Api, Client, RateLimit, Tenant, default_tenant

from .conftest import ALL_SCOPES, AUDIENCE, CLIENT_ID, CLIENT_SECRET, Door, token_body

GRANT_TYPES_URI = "https://auth0.com/docs/clients/client-grant-types"
OTHER_API = "https://other.api.example/"


def basic(client_id: str, secret: str, *, encode: bool = True) -> str:
    """An HTTP Basic header value; RFC 6749 §2.3.1 form-urlencodes both parts first."""
    if encode:
        client_id, secret = quote_plus(client_id), quote_plus(secret)
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def assert_error(
    response: httpx.Response, status: int, error: str, description: str | None = None
) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == error
    if description is not None:
        assert body["error_description"] == description
    return body  # type: ignore[no-any-return]


def tenant_with(*clients: Client, **changes: object) -> Tenant:
    base = default_tenant()
    tenant = replace(
        base,
        apis=(*base.apis, Api(OTHER_API, ("read:other",))),
        clients=(*base.clients, *clients),
    )
    return replace(tenant, **changes)  # type: ignore[arg-type]


# -- success --------------------------------------------------------------------------------


def test_json_body_gets_a_bearer_token_with_no_store_headers(door: Door) -> None:
    response = door.token_response(scope="read:appointments")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert body["scope"] == "read:appointments"
    assert body["access_token"].count(".") == 2


def test_form_body_gets_a_token(door: Door) -> None:
    response = door.client.post("/oauth/token", data=token_body(scope="read:members"))

    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read:members"


def test_json_media_type_with_charset_parameter_is_accepted(door: Door) -> None:
    response = door.client.post(
        "/oauth/token",
        content=json.dumps(token_body()).encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )

    assert response.status_code == 200, response.text


def test_omitted_scope_gets_every_granted_scope(door: Door) -> None:
    body = door.token_response().json()

    assert body["scope"] == ALL_SCOPES


def test_empty_scope_counts_as_omitted(door: Door) -> None:
    body = door.token_response(scope="").json()

    assert body["scope"] == ALL_SCOPES


def test_scope_as_space_separated_string_gets_those_scopes(door: Door) -> None:
    body = door.token_response(scope="read:members write:transactions").json()

    assert body["scope"] == "read:members write:transactions"


def test_scope_as_json_array_is_tolerated_like_auth0(door: Door) -> None:
    body = door.token_response(scope=["read:members", "read:appointments"]).json()

    assert body["scope"] == "read:members read:appointments"


def test_explicit_audience_is_used(door: Door) -> None:
    other = Client("other", "other-secret", grants={OTHER_API: ("read:other",)})
    door.use_tenant(tenant_with(other))

    response = door.token_response(
        client_id="other", client_secret="other-secret", audience=OTHER_API
    )

    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read:other"


def test_token_lifetime_follows_the_api(door: Door) -> None:
    tenant = default_tenant()
    door.use_tenant(replace(tenant, apis=(Api(AUDIENCE, tenant.apis[0].scopes, 600),)))

    assert door.token_response().json()["expires_in"] == 600


def test_unknown_parameters_are_ignored(door: Door) -> None:
    response = door.token_response(organization_hint="x", foo="bar")

    assert response.status_code == 200


def test_success_never_carries_a_refresh_token(door: Door) -> None:
    for scope in (None, "read:members", "read:members offline_access"):
        body = door.token_response(scope=scope).json()
        assert "refresh_token" not in body


# -- client authentication ------------------------------------------------------------------


def test_secret_in_http_basic_gets_a_token(door: Door) -> None:
    response = door.client.post(
        "/oauth/token",
        json={"grant_type": "client_credentials"},
        headers={"authorization": basic(CLIENT_ID, CLIENT_SECRET)},
    )

    assert response.status_code == 200, response.text


def test_basic_credentials_are_form_urlencoded_per_rfc6749_2_3_1(door: Door) -> None:
    secret = "p:ss%41 w+rd"  # ':' must not split, '%41' must not decode to 'A', ' ' is '+'
    door.use_tenant(tenant_with(Client("odd:client", secret, grants={AUDIENCE: ("read:members",)})))
    body = {"grant_type": "client_credentials"}

    encoded = door.client.post(
        "/oauth/token", json=body, headers={"authorization": basic("odd:client", secret)}
    )
    raw = door.client.post(
        "/oauth/token",
        json=body,
        headers={"authorization": basic("odd:client", secret, encode=False)},
    )

    assert encoded.status_code == 200, encoded.text
    assert raw.status_code == 401  # unencoded, the ':' in the id splits it in the wrong place


def test_basic_refused_when_the_client_allows_only_the_body(door: Door) -> None:
    door.use_tenant(
        tenant_with(
            Client("post-only", "s3cret", auth_methods=("client_secret_post",),
                   grants={AUDIENCE: ("read:members",)})
        )
    )

    by_basic = door.client.post(
        "/oauth/token",
        json={"grant_type": "client_credentials"},
        headers={"authorization": basic("post-only", "s3cret")},
    )
    by_body = door.token_response(client_id="post-only", client_secret="s3cret")

    assert_error(by_basic, 401, "access_denied", "Unauthorized")
    assert by_body.status_code == 200


def test_body_secret_refused_when_the_client_allows_only_basic(door: Door) -> None:
    door.use_tenant(
        tenant_with(
            Client("basic-only", "s3cret", auth_methods=("client_secret_basic",),
                   grants={AUDIENCE: ("read:members",)})
        )
    )

    response = door.token_response(client_id="basic-only", client_secret="s3cret")

    assert_error(response, 401, "access_denied", "Unauthorized")


def test_basic_and_body_secret_at_once_is_400_invalid_request(door: Door) -> None:
    response = door.client.post(
        "/oauth/token",
        json=token_body(),
        headers={"authorization": basic(CLIENT_ID, CLIENT_SECRET)},
    )

    body = assert_error(response, 400, "invalid_request")
    assert "one method" in body["error_description"]


def test_body_client_id_differing_from_basic_is_400(door: Door) -> None:
    response = door.client.post(
        "/oauth/token",
        json={"grant_type": "client_credentials", "client_id": "someone-else"},
        headers={"authorization": basic(CLIENT_ID, CLIENT_SECRET)},
    )

    assert_error(response, 400, "invalid_request")


def test_basic_header_that_is_not_base64_is_400(door: Door) -> None:
    response = door.client.post(
        "/oauth/token",
        json={"grant_type": "client_credentials"},
        headers={"authorization": "Basic not*base64!"},
    )

    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [(CLIENT_ID, "wrong-secret"), ("no-such-client", CLIENT_SECRET), (CLIENT_ID, None)],
    ids=["wrong-secret", "unknown-client", "no-secret"],
)
def test_wrong_or_missing_credentials_get_401_access_denied_unauthorized(
    door: Door, client_id: str, secret: str | None
) -> None:
    response = door.token_response(client_id=client_id, client_secret=secret)

    body = assert_error(response, 401, "access_denied", "Unauthorized")
    assert set(body) == {"error", "error_description"}


def test_missing_client_id_is_400_invalid_request(door: Door) -> None:
    response = door.token_response(client_id=None)

    assert_error(response, 400, "invalid_request", "Missing required parameter: client_id")


# -- authorisation: Auth0's 403s ------------------------------------------------------------


def test_grant_type_not_allowed_gets_403_unauthorized_client_with_error_uri(door: Door) -> None:
    door.use_tenant(
        tenant_with(Client("spa", "spa-secret", grant_types=("authorization_code",)))
    )

    response = door.token_response(client_id="spa", client_secret="spa-secret")

    body = assert_error(
        response,
        403,
        "unauthorized_client",
        "Grant type 'client_credentials' not allowed for the client.",
    )
    assert body["error_uri"] == GRANT_TYPES_URI


def test_no_audience_and_no_default_gets_auth0s_403(door: Door) -> None:
    door.use_tenant(replace(default_tenant(), default_audience=None))

    response = door.token_response()

    assert_error(
        response,
        403,
        "access_denied",
        "No audience parameter was provided, and no default audience has been configured",
    )


def test_audience_without_client_grant_gets_not_authorized_403(door: Door) -> None:
    door.use_tenant(tenant_with())

    response = door.token_response(audience=OTHER_API)

    assert_error(
        response,
        403,
        "access_denied",
        f'Client is not authorized to access "{OTHER_API}". You need to create a '
        '"client-grant" associated to this API. '
        "See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants",
    )


def test_unknown_audience_gets_auth0s_service_not_enabled_403(door: Door) -> None:
    response = door.token_response(audience="https://nowhere.example/")

    assert_error(
        response,
        403,
        "access_denied",
        "Service not enabled within domain: https://nowhere.example/",
    )


def test_scopes_not_granted_get_403_listing_them(door: Door) -> None:
    response = door.token_response(scope="read:members listen:events delete:everything")

    assert_error(
        response,
        403,
        "access_denied",
        "Client has not been granted scopes: listen:events delete:everything",
    )


def test_scope_neither_string_nor_array_is_400_invalid_scope(door: Door) -> None:
    response = door.token_response(scope={"read": "members"})

    assert_error(response, 400, "invalid_scope", "Scope must be an array or a string")


def test_offline_access_ignored_by_default_succeeds_without_refresh_token(door: Door) -> None:
    response = door.token_response(scope="read:members offline_access")

    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == "read:members"
    assert "refresh_token" not in body


def test_offline_access_alone_under_ignore_policy_gets_a_token_without_scope(door: Door) -> None:
    body = door.token_response(scope="offline_access").json()

    assert "scope" not in body  # the one scope asked for was dropped, not widened to all
    assert "refresh_token" not in body


def test_offline_access_rejected_like_stock_auth0_when_the_tenant_says_so(door: Door) -> None:
    door.use_tenant(replace(default_tenant(), offline_access="reject"))

    response = door.token_response(scope="read:members offline_access")

    assert_error(
        response, 403, "access_denied", "Client has not been granted scopes: offline_access"
    )


def test_offline_access_granted_under_reject_policy_is_an_ordinary_scope(door: Door) -> None:
    scopes = ("read:members", "offline_access")
    door.use_tenant(
        replace(
            default_tenant(),
            offline_access="reject",
            clients=(Client(CLIENT_ID, CLIENT_SECRET, grants={AUDIENCE: scopes}),),
        )
    )

    body = door.token_response(scope="read:members offline_access").json()

    assert body["scope"] == "read:members offline_access"
    assert "refresh_token" not in body


# -- malformed requests: RFC 6749 §5.2 ------------------------------------------------------


def test_missing_grant_type_is_400_invalid_request(door: Door) -> None:
    response = door.token_response(grant_type=None)

    assert_error(response, 400, "invalid_request", "Missing required parameter: grant_type")


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "client-credentials"])
def test_unsupported_grant_type_is_400_unsupported_grant_type(
    door: Door, grant_type: str
) -> None:
    response = door.token_response(grant_type=grant_type)

    assert_error(response, 400, "unsupported_grant_type")


def test_refresh_token_grant_is_refused_since_none_is_ever_issued(door: Door) -> None:
    response = door.token_response(grant_type="refresh_token", refresh_token="abc")

    assert_error(response, 403, "invalid_grant")


def test_non_string_grant_type_is_400_invalid_request(door: Door) -> None:
    response = door.token_response(grant_type=["client_credentials"])

    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [b'{"client_id": "demo-client",', b"not json", b"\xff\xfe{}", b'["client_credentials"]',
     b"[" * 5000],
    ids=["truncated", "not-json", "not-utf8", "array", "deeply-nested"],
)
def test_malformed_json_is_400_invalid_request(door: Door, body: bytes) -> None:
    response = door.client.post(
        "/oauth/token", content=body, headers={"content-type": "application/json"}
    )

    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data", None])
def test_wrong_content_type_is_400_invalid_request(door: Door, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}

    response = door.client.post(
        "/oauth/token", content=json.dumps(token_body()).encode(), headers=headers
    )

    body = assert_error(response, 400, "invalid_request")
    assert "Content-Type" in body["error_description"]


def test_repeated_json_key_is_400_invalid_request(door: Door) -> None:
    raw = (
        b'{"client_id":"demo-client","client_secret":"demo-secret",'
        b'"grant_type":"client_credentials","scope":"read:members","scope":"read:members"}'
    )

    response = door.client.post(
        "/oauth/token", content=raw, headers={"content-type": "application/json"}
    )

    assert_error(response, 400, "invalid_request", "Parameter 'scope' must not be repeated")


def test_repeated_form_parameter_is_400_invalid_request(door: Door) -> None:
    raw = (
        "client_id=demo-client&client_secret=demo-secret&grant_type=client_credentials"
        "&scope=read%3Amembers&scope=read%3Aappointments"
    )

    response = door.client.post(
        "/oauth/token",
        content=raw.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert_error(response, 400, "invalid_request", "Parameter 'scope' must not be repeated")


def test_get_on_the_token_endpoint_is_405_with_allow_post(door: Door) -> None:
    response = door.client.get("/oauth/token")

    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


def test_oversized_body_is_413(door: Door) -> None:
    response = door.client.post(
        "/oauth/token",
        content=b"x" * (door.emulator.max_body + 1),
        headers={"content-type": "application/json"},
    )

    limit = door.emulator.max_body
    assert_error(response, 413, "invalid_request", f"Request body over {limit} bytes")


# -- rate limiting --------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after_then_succeeds_once_time_passes(
    door: Door,
) -> None:
    door.use_tenant(replace(default_tenant(), rate_limit=RateLimit(capacity=2, per_second=0.5)))

    first, second, limited = (door.token_response() for _ in range(3))

    assert first.status_code == second.status_code == 200
    assert first.headers["x-ratelimit-limit"] == "2"
    assert first.headers["x-ratelimit-remaining"] == "1"
    assert_error(
        limited,
        429,
        "too_many_requests",
        "Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining and "
        "X-RateLimit-Reset headers.",
    )
    retry_after = int(limited.headers["retry-after"])
    assert retry_after == 2  # one token back at 0.5 per second
    assert limited.headers["x-ratelimit-limit"] == "2"
    assert limited.headers["x-ratelimit-remaining"] == "0"
    reset = int(limited.headers["x-ratelimit-reset"])
    assert reset == int(door.clock.time()) + 4  # UNIX seconds when the bucket is full again

    door.clock.advance(retry_after - 1)
    assert door.token_response().status_code == 429
    door.clock.advance(1)
    assert door.token_response().status_code == 200


def test_rate_limit_buckets_are_per_client(door: Door) -> None:
    door.use_tenant(
        replace(
            tenant_with(Client("other", "other-secret", grants={AUDIENCE: ("read:members",)})),
            rate_limit=RateLimit(capacity=1, per_second=1),
        )
    )

    assert door.token_response().status_code == 200
    assert door.token_response().status_code == 429
    other = door.token_response(client_id="other", client_secret="other-secret")
    assert other.status_code == 200


def test_reset_refills_the_rate_limit_buckets(door: Door) -> None:
    door.use_tenant(replace(default_tenant(), rate_limit=RateLimit(capacity=1, per_second=1)))
    door.token_response()
    assert door.token_response().status_code == 429

    door.emulator.reset()

    assert door.token_response().status_code == 200
