"""Fixtures for the emulator's own tests: one behaviour, checked through both doors.

`door` is parametrised over the in-process door (an httpx client on `EmulatorTransport`) and
the HTTP door (a real uvicorn server on loopback). The server is shared by the whole session
(starting one per test would dominate the run time); each test gets it back in its pristine
state: built-in tenant, shared key, a fresh fake clock, no faults, an empty journal.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from m2m_contract.emulator import (
    Emulator,
    EmulatorServer,
    EmulatorTransport,
    FakeClock,
    SigningKey,
    Tenant,
    default_tenant,
)
from m2m_contract.emulator._keys import shared_keys

CLIENT_ID = "demo-client"
CLIENT_SECRET = "demo-secret"
AUDIENCE = "https://sandbox.api.loyalty.com/"
ALL_SCOPES = "read:appointments read:members write:transactions"


def token_body(**overrides: Any) -> dict[str, Any]:
    """The partner document's JSON body for the demo client; None values are left out."""
    body: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "client_credentials",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


@dataclass
class Door:
    """One way into an emulator: its name, the emulator, and an httpx client wired to it."""

    name: str
    emulator: Emulator
    client: httpx.Client

    @property
    def clock(self) -> FakeClock:
        assert isinstance(self.emulator.clock, FakeClock)
        return self.emulator.clock

    def use_tenant(self, tenant: Tenant) -> None:
        self.emulator.tenant = tenant

    def token_response(self, **overrides: Any) -> httpx.Response:
        return self.client.post("/oauth/token", json=token_body(**overrides))

    def token(self, **overrides: Any) -> str:
        response = self.token_response(**overrides)
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        assert isinstance(token, str)
        return token

    def api(self, token: str | None, path: str = "/api/members") -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token is not None else {}
        return self.client.get(path, headers=headers)


def fresh_clock() -> FakeClock:
    # Start at the real time so that PyJWT, which checks exp and iat against the system
    # clock, accepts the tokens; tests move it forward with advance().
    return FakeClock(start=float(int(time.time())))


def pristine(emulator: Emulator) -> None:
    """Put an emulator back in its starting state (between tests sharing a server)."""
    emulator.clock = fresh_clock()
    emulator.keys = shared_keys()
    emulator.tenant = default_tenant()  # after the clock: the rate limiter reads it
    emulator.reset()


@pytest.fixture(scope="session")
def http_server() -> Iterator[EmulatorServer]:
    """One emulator served over HTTP on loopback for the whole session."""
    with EmulatorServer(Emulator(clock=fresh_clock())) as server:
        yield server


@pytest.fixture(scope="session")
def http_client(http_server: EmulatorServer) -> Iterator[httpx.Client]:
    """One client for the shared server: building an httpx.Client (its TLS context) is slow."""
    with httpx.Client(base_url=http_server.base_url) as client:
        yield client


@pytest.fixture
def inprocess_door() -> Iterator[Door]:
    emulator = Emulator(clock=fresh_clock())
    with httpx.Client(transport=EmulatorTransport(emulator), base_url=emulator.base_url) as c:
        yield Door("in-process", emulator, c)


@pytest.fixture
def http_door(http_server: EmulatorServer, http_client: httpx.Client) -> Iterator[Door]:
    pristine(http_server.emulator)
    yield Door("http", http_server.emulator, http_client)
    pristine(http_server.emulator)


@pytest.fixture(params=["in-process", "http"])
def door(request: pytest.FixtureRequest) -> Door:
    """The emulator through each door in turn."""
    name = "inprocess_door" if request.param == "in-process" else "http_door"
    value = request.getfixturevalue(name)
    assert isinstance(value, Door)
    return value


@pytest.fixture(scope="session")
def spare_keys() -> list[SigningKey]:
    """Two extra RSA keys, generated once (generation is the slowest thing in the suite)."""
    return [SigningKey.generate(), SigningKey.generate()]


def pyjwt_decode(door: Door, token: str, *, audience: str = AUDIENCE) -> dict[str, Any]:
    """Verify `token` with PyJWT against the JWKS the door serves, found through discovery."""
    discovery = door.client.get("/.well-known/openid-configuration").json()
    jwks = door.client.get(discovery["jwks_uri"]).json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    claims: dict[str, Any] = jwt.decode(
        token,
        key=key.key,
        algorithms=["RS256"],
        audience=audience,
        issuer=discovery["issuer"],
        options={"require": ["iss", "sub", "aud", "iat", "exp"]},
    )
    return claims
