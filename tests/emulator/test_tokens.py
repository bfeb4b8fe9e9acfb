"""Issued tokens verify with PyJWT against the served JWKS and carry Auth0's exact claims."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import jwt
import pytest

from m2m_contract.emulator import (
    SANDBOX_ISSUER,
    Emulator,
    EmulatorServer,
    FakeClock,
    KeyFileError,
    KeySet,
    SigningKey,
    default_tenant,
)

from .conftest import AUDIENCE, CLIENT_ID, Door, fresh_clock, pyjwt_decode

AUTH0_CLAIMS = {"iss", "sub", "aud", "iat", "exp", "azp", "scope", "gty"}


def test_token_verifies_with_pyjwt_and_has_auth0_claims(door: Door) -> None:
    response = door.token_response(scope="read:members read:appointments")
    body = response.json()
    token = body["access_token"]

    claims = pyjwt_decode(door, token)
    header = jwt.get_unverified_header(token)

    assert header == {"alg": "RS256", "typ": "JWT", "kid": door.emulator.keys.signing_kid}
    assert set(claims) == AUTH0_CLAIMS  # no jti in Auth0's profile
    assert claims["iss"] == door.emulator.issuer
    assert claims["iss"].endswith("/")
    assert claims["sub"] == f"{CLIENT_ID}@clients"
    assert claims["aud"] == AUDIENCE
    assert claims["azp"] == CLIENT_ID
    assert claims["gty"] == "client-credentials"
    assert claims["scope"] == "read:members read:appointments"
    assert claims["iat"] == int(door.clock.time())
    assert claims["exp"] - claims["iat"] == body["expires_in"] == 86400


def test_issuer_defaults_to_the_served_url_with_a_trailing_slash(door: Door) -> None:
    discovery = door.client.get("/.well-known/openid-configuration").json()

    assert discovery["issuer"] == str(door.client.base_url).rstrip("/") + "/"
    assert discovery["token_endpoint"] == discovery["issuer"] + "oauth/token"
    assert discovery["jwks_uri"] == discovery["issuer"] + ".well-known/jwks.json"


def test_tenant_issuer_overrides_the_served_url(door: Door) -> None:
    door.use_tenant(replace(default_tenant(), issuer=SANDBOX_ISSUER))

    claims = pyjwt_decode(door, door.token())

    assert claims["iss"] == "https://loyaltyone-sandbox-pin.auth0.com/"


def test_rfc9068_profile_uses_at_jwt_client_id_and_jti(door: Door) -> None:
    door.use_tenant(replace(default_tenant(), token_profile="rfc9068"))

    first, second = door.token(), door.token()
    claims = pyjwt_decode(door, first)

    assert jwt.get_unverified_header(first)["typ"] == "at+jwt"
    assert set(claims) == {"iss", "sub", "aud", "iat", "exp", "scope", "client_id", "jti"}
    assert claims["client_id"] == CLIENT_ID
    assert claims["sub"] == f"{CLIENT_ID}@clients"
    assert claims["jti"] != pyjwt_decode(door, second)["jti"]


def test_pyjwk_client_fetches_the_served_jwks_over_http(http_door: Door) -> None:
    token = http_door.token()
    discovery = http_door.client.get("/.well-known/openid-configuration").json()

    signing_key = jwt.PyJWKClient(discovery["jwks_uri"], cache_keys=False).get_signing_key_from_jwt(
        token
    )
    claims = jwt.decode(
        token, signing_key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=discovery["issuer"]
    )

    assert claims["sub"] == f"{CLIENT_ID}@clients"


def test_jwks_publishes_rsa_signing_keys_in_auth0s_shape(door: Door) -> None:
    jwks = door.client.get("/.well-known/jwks.json").json()

    assert [k["kid"] for k in jwks["keys"]] == door.emulator.keys.kids
    for key in jwks["keys"]:
        # A real tenant's fields, in its order; no private parts.
        assert list(key) == ["kty", "use", "n", "e", "kid", "x5t", "x5c", "alg"]
        assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")


def test_rotation_publishes_every_key_and_signs_with_the_chosen_one(
    door: Door, spare_keys: list[SigningKey]
) -> None:
    old_key, new_key = spare_keys
    door.emulator.keys = KeySet([old_key, new_key])
    old_token = door.token()

    door.emulator.keys.use(new_key.kid)
    new_token = door.token()

    jwks = door.client.get("/.well-known/jwks.json").json()
    assert {k["kid"] for k in jwks["keys"]} == {old_key.kid, new_key.kid}
    assert jwt.get_unverified_header(old_token)["kid"] == old_key.kid
    assert jwt.get_unverified_header(new_token)["kid"] == new_key.kid
    for token in (old_token, new_token):
        assert pyjwt_decode(door, token)["sub"] == f"{CLIENT_ID}@clients"
        assert door.api(token).status_code == 200


def test_retired_key_leaves_the_jwks_and_its_tokens_stop_verifying(
    door: Door, spare_keys: list[SigningKey]
) -> None:
    old_key, new_key = spare_keys
    door.emulator.keys = KeySet([old_key, new_key])
    old_token = door.token()
    door.emulator.keys.use(new_key.kid)

    door.emulator.keys.retire(old_key.kid)

    jwks = door.client.get("/.well-known/jwks.json").json()
    assert [k["kid"] for k in jwks["keys"]] == [new_key.kid]
    response = door.api(old_token)
    assert response.status_code == 401
    assert "kid" in response.json()["error_description"]
    with pytest.raises(KeyError):
        jwt.PyJWKSet.from_dict(jwks)[old_key.kid]


def test_signing_key_cannot_be_retired(spare_keys: list[SigningKey]) -> None:
    keys = KeySet(spare_keys)

    with pytest.raises(ValueError, match="signing key"):
        keys.retire(keys.signing_kid)


def test_keys_from_a_pem_file_give_stable_kids_across_emulators(
    tmp_path: Path, spare_keys: list[SigningKey]
) -> None:
    path = tmp_path / "keys.pem"
    written = KeySet(spare_keys, signing_kid=spare_keys[1].kid)
    written.write_pem_file(path)

    first, second = KeySet.from_pem_file(path), KeySet.from_pem_file(path)

    assert first.kids == second.kids == [spare_keys[1].kid, spare_keys[0].kid]
    assert first.signing_kid == spare_keys[1].kid  # the signing key is written first
    # A token from one emulator verifies on another loaded from the same file.
    issuing = Emulator(keys=first, clock=fresh_clock())
    checking = Emulator(keys=second, clock=issuing.clock)
    assert checking.verify(issuing.issue_token()).claims["sub"] == f"{CLIENT_ID}@clients"


def test_tokens_from_a_key_file_verify_against_a_later_server(
    tmp_path: Path, spare_keys: list[SigningKey]
) -> None:
    path = tmp_path / "keys.pem"
    KeySet(spare_keys).write_pem_file(path)
    issuing = Emulator(keys=KeySet.from_pem_file(path), clock=fresh_clock())
    with EmulatorServer(issuing) as server:
        token = issuing.issue_token()
        issuer = server.base_url

    later = Emulator(keys=KeySet.from_pem_file(path), clock=FakeClock(issuing.clock.time()))
    later.base_url = issuer

    assert later.verify(token).claims["aud"] == AUDIENCE


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the key file"),
        (b"", "no PEM private key found"),
        (b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
         "PEM block 1 is not an unencrypted private key"),
    ],
    ids=["missing", "empty", "garbage"],
)
def test_unusable_key_file_raises_key_file_error_naming_the_file(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "keys.pem"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(KeyFileError, match=message) as info:
        KeySet.from_pem_file(path)

    assert str(path) in str(info.value)


def test_non_rsa_key_file_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "ec.pem"
    path.write_bytes(pem)

    with pytest.raises(KeyFileError, match="not an RSA key"):
        KeySet.from_pem_file(path)


def test_issue_token_mints_a_token_the_api_accepts(door: Door) -> None:
    token = door.emulator.issue_token(scopes=("read:members",), lifetime=60)

    claims = pyjwt_decode(door, token)

    assert claims["scope"] == "read:members"
    assert claims["exp"] - claims["iat"] == 60
    assert door.api(token).status_code == 200
    assert door.emulator.journal.token_requests() == []  # minted, not requested
