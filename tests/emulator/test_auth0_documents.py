"""Auth0's documents as a real tenant serves them: discovery, the JWKS and its certificates,
the endpoints it names, the rate-limit and request-id headers; checked with libraries that
this project did not write (authlib, joserfc, cryptography, PyJWT)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import httpx
import jwt
import pytest
from authlib.oidc.discovery import OpenIDProviderMetadata
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet as JoseKeySet

from m2m_contract.emulator import (
    DEFAULT_RATE_LIMIT,
    Emulator,
    EmulatorTransport,
    Fault,
    KeySet,
    RateLimit,
    SigningKey,
    default_tenant,
)

from .conftest import AUDIENCE, Door

# The field names and order of a real tenant's discovery document (dev-ltxchcls4igzho78).
AUTH0_DISCOVERY_FIELDS = [
    "issuer", "authorization_endpoint", "token_endpoint", "device_authorization_endpoint",
    "userinfo_endpoint", "mfa_challenge_endpoint", "jwks_uri", "registration_endpoint",
    "revocation_endpoint", "scopes_supported", "response_types_supported",
    "code_challenge_methods_supported", "response_modes_supported", "subject_types_supported",
    "id_token_signing_alg_values_supported", "token_endpoint_auth_methods_supported",
    "claims_supported", "request_uri_parameter_supported", "request_parameter_supported",
    "token_endpoint_auth_signing_alg_values_supported",
]  # fmt: skip
UNIMPLEMENTED = ["/authorize", "/userinfo", "/oauth/revoke", "/oauth/device/code",
                 "/mfa/challenge", "/oidc/register"]  # fmt: skip
REQUEST_ID = re.compile(r"[0-9a-f]{20}")


def b64url_uint(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def test_discovery_passes_authlibs_openid_provider_metadata_validation(door: Door) -> None:
    document = door.client.get("/.well-known/openid-configuration").json()

    OpenIDProviderMetadata(document).validate()  # raises on a missing or malformed field

    assert document["subject_types_supported"] == ["public"]


def test_discovery_has_the_fields_of_a_real_tenants_document_in_its_order(door: Door) -> None:
    document = door.client.get("/.well-known/openid-configuration").json()
    root = str(door.client.base_url).rstrip("/") + "/"

    assert list(document) == AUTH0_DISCOVERY_FIELDS
    assert "grant_types_supported" not in document  # Auth0 publishes none
    assert "openid" in document["scopes_supported"]  # OIDC scopes, never an API's
    assert "read:members" not in document["scopes_supported"]
    assert document["authorization_endpoint"] == root + "authorize"
    assert document["revocation_endpoint"] == root + "oauth/revoke"
    assert document["device_authorization_endpoint"] == root + "oauth/device/code"
    assert document["userinfo_endpoint"] == root + "userinfo"


@pytest.mark.parametrize("path", UNIMPLEMENTED)
def test_auth0_endpoints_the_emulator_lacks_answer_a_json_endpoint_disabled(
    door: Door, path: str
) -> None:
    response = door.client.post(path, json={})

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "endpoint_disabled"
    assert path in response.json()["error_description"]


def test_jwks_publishes_two_keys_the_signing_key_and_the_next(door: Door) -> None:
    jwks = door.client.get("/.well-known/jwks.json").json()
    keys = door.emulator.keys

    assert [k["kid"] for k in jwks["keys"]] == [keys.signing_kid, keys.next_kid]
    assert jwt.get_unverified_header(door.token())["kid"] == keys.signing_kid
    for key in jwks["keys"]:
        assert re.fullmatch(r"[A-Za-z0-9_-]{21}", key["kid"])  # opaque, Auth0's length


def test_x5c_is_a_certificate_of_the_key_n_and_e_describe_with_its_x5t_thumbprint(
    door: Door,
) -> None:
    jwks = door.client.get("/.well-known/jwks.json").json()

    for key in jwks["keys"]:
        der = base64.b64decode(key["x5c"][0], validate=True)
        certificate = x509.load_der_x509_certificate(der)
        public = certificate.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        numbers = public.public_numbers()
        assert (numbers.n, numbers.e) == (b64url_uint(key["n"]), b64url_uint(key["e"]))
        thumbprint = hashlib.sha1(der).digest()  # RFC 7517 §4.8
        assert key["x5t"] == base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode()
        assert certificate.issuer == certificate.subject  # self-signed, and it verifies so
        public.verify(
            certificate.signature,
            certificate.tbs_certificate_bytes,
            padding.PKCS1v15(),
            certificate.signature_hash_algorithm,  # type: ignore[arg-type]
        )


def test_a_token_verifies_with_a_key_built_from_x5c_as_auth0s_docs_advise(door: Door) -> None:
    token = door.token()
    jwks = door.client.get("/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(token)["kid"]
    (key,) = [k for k in jwks["keys"] if k["kid"] == kid]
    pem = "-----BEGIN CERTIFICATE-----\n" + key["x5c"][0] + "\n-----END CERTIFICATE-----\n"

    public = x509.load_pem_x509_certificate(pem.encode()).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    claims = jwt.decode(token, public, algorithms=["RS256"], audience=AUDIENCE)

    assert claims["gty"] == "client-credentials"


def test_joserfc_verifies_a_token_against_the_served_jwks(door: Door) -> None:
    token = door.token()
    jwks = JoseKeySet.import_key_set(door.client.get("/.well-known/jwks.json").json())

    decoded = joserfc_jwt.decode(token, jwks, algorithms=["RS256"])
    joserfc_jwt.JWTClaimsRegistry(aud={"essential": True, "value": AUDIENCE}).validate(
        decoded.claims
    )

    assert decoded.header["kid"] == door.emulator.keys.signing_kid


def test_key_files_give_the_same_kids_certificates_and_thumbprints_on_every_load(
    tmp_path: Path, spare_keys: list[SigningKey]
) -> None:
    path = tmp_path / "keys.pem"
    KeySet(spare_keys).write_pem_file(path)

    first, second = KeySet.from_pem_file(path).jwks(), KeySet.from_pem_file(path).jwks()

    assert json.dumps(first) == json.dumps(second)
    assert path.stat().st_mode & 0o777 == 0o600


def test_rotation_promotes_the_next_key_and_publishes_a_new_next_one(
    spare_keys: list[SigningKey],
) -> None:
    keys = KeySet(spare_keys)
    emulator = Emulator(keys=keys)
    before = emulator.issue_token()
    signing, upcoming = keys.signing_kid, keys.next_kid

    promoted = keys.rotate()

    assert promoted == upcoming == keys.signing_kid
    assert keys.kids == [signing, upcoming, keys.next_kid]  # the previous key stays published
    assert jwt.get_unverified_header(emulator.issue_token())["kid"] == upcoming
    assert emulator.verify(before).claims["aud"] == AUDIENCE
    keys.retire(signing)
    assert keys.kids == [upcoming, keys.next_kid]


def test_a_single_key_set_gains_a_next_key_when_asked_or_rotated(
    spare_keys: list[SigningKey],
) -> None:
    keys = KeySet(spare_keys[:1])
    assert keys.next_kid is None

    keys.ensure_next()

    assert keys.kids == [spare_keys[0].kid, keys.next_kid]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"client_id": "demo-client", "client_secret": "demo-secret",
          "grant_type": "client_credentials"}, 200),
        ({"client_id": "demo-client", "client_secret": "wrong",
          "grant_type": "client_credentials"}, 401),
        ({"client_id": "demo-client", "client_secret": "demo-secret",
          "grant_type": "client_credentials", "audience": "https://nowhere.example/"}, 403),
        ({"client_id": "demo-client", "grant_type": "password"}, 400),
    ],
    ids=["success", "wrong-secret", "unknown-audience", "bad-grant"],
)
def test_every_token_answer_carries_rate_limit_headers_and_a_request_id(
    door: Door, body: dict[str, str], status: int
) -> None:
    first = door.client.post("/oauth/token", json=body)
    second = door.client.post("/oauth/token", json=body)

    assert (first.status_code, second.status_code) == (status, status)
    limit = DEFAULT_RATE_LIMIT.capacity
    assert first.headers["x-ratelimit-limit"] == str(limit)
    assert int(first.headers["x-ratelimit-remaining"]) == limit - 1
    assert int(second.headers["x-ratelimit-remaining"]) == limit - 2
    assert int(first.headers["x-ratelimit-reset"]) >= int(door.clock.time())
    ids = {first.headers["x-auth0-requestid"], second.headers["x-auth0-requestid"]}
    assert len(ids) == 2 and all(REQUEST_ID.fullmatch(i) for i in ids)


def test_a_get_and_an_oversized_body_on_the_token_endpoint_carry_them_too(door: Door) -> None:
    answers = [
        door.client.get("/oauth/token"),
        door.client.post("/oauth/token", content=b"x" * (door.emulator.max_body + 1),
                         headers={"content-type": "application/json"}),
    ]  # fmt: skip

    assert [a.status_code for a in answers] == [405, 413]
    for answer in answers:
        assert "x-ratelimit-remaining" in answer.headers
        assert REQUEST_ID.fullmatch(answer.headers["x-auth0-requestid"])


def test_the_default_limit_is_generous_and_a_tenants_own_is_reported(door: Door) -> None:
    assert DEFAULT_RATE_LIMIT.capacity >= 1000 and DEFAULT_RATE_LIMIT.per_second >= 1000
    door.use_tenant(replace(default_tenant(), rate_limit=RateLimit(30, 30.0)))

    answer = door.token_response()

    assert answer.headers["x-ratelimit-limit"] == "30"
    assert answer.headers["x-ratelimit-remaining"] == "29"


def test_the_rate_limited_fault_reports_the_tenants_limit_and_a_request_id(door: Door) -> None:
    door.emulator.add_fault(Fault.rate_limited(retry_after=3))

    answer = door.token_response()

    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "3"
    assert answer.headers["x-ratelimit-limit"] == str(DEFAULT_RATE_LIMIT.capacity)
    assert answer.headers["x-ratelimit-remaining"] == "0"
    assert REQUEST_ID.fullmatch(answer.headers["x-auth0-requestid"])


def test_a_correct_client_in_the_conformance_suite_never_meets_the_default_limit() -> None:
    # The busiest scenario sends a handful of token requests; the bucket holds thousands.
    emulator = Emulator()
    with httpx.Client(transport=EmulatorTransport(emulator)) as client:
        body = {"client_id": "demo-client", "client_secret": "demo-secret",
                "grant_type": "client_credentials"}  # fmt: skip
        statuses = {client.post(emulator.token_url, json=body).status_code for _ in range(200)}

    assert statuses == {200}

