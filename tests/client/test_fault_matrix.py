"""Every fault the emulator can inject, sync and async: success or the right typed error,
within the deadline, and never an API request with a token the server did not issue."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from m2m_contract.client import (
    ClientCredentialsError,
    InvalidClientError,
    MalformedTokenResponseError,
    RateLimitedError,
    ScopeNotGrantedError,
    TokenEndpointUnreachableError,
    TokenRequestError,
    TokenServerError,
)
from m2m_contract.emulator import Emulator, EmulatorServer, FakeClock, Fault

from .conftest import Mode, Rig, within

DEADLINE = 20.0
UNAVAILABLE = {"error": "temporarily_unavailable", "error_description": "Service Unavailable"}
LIMITED = {"error": "too_many_requests", "error_description": "Too many requests."}
INVALID = {"error": "invalid_token", "error_description": "The access token is invalid"}
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'}

Expected = int | type[Exception]  # the API status the caller sees, or the error raised


@dataclass(frozen=True)
class Case:
    faults: tuple[Fault, ...]
    expected: Expected


CASES: dict[str, Case] = {
    # the token endpoint, transient: retried to success
    "token-500": Case((Fault.respond("token", 500, json=UNAVAILABLE),), 200),
    "token-502-html": Case((Fault.html("token", 502),), 200),
    "token-503-retry-after": Case(
        (Fault.respond("token", 503, json=UNAVAILABLE, headers={"Retry-After": "1"}),), 200),
    "token-504": Case((Fault.respond("token", 504, text="Gateway Timeout"),), 200),
    "token-408": Case((Fault.respond("token", 408, json={"error": "timeout"}),), 200),
    "token-429-retry-after": Case(
        (Fault.respond("token", 429, json=LIMITED, headers={"Retry-After": "2"}),), 200),
    "token-429-html-no-headers": Case((Fault.html("token", 429),), 200),
    "token-drop": Case((Fault.drop("token"),), 200),
    "token-delayed": Case((Fault.delayed("token", 0.02),), 200),
    "token-mixed-then-ok": Case((Fault.drop("token"), Fault.html("token", 500),
                                 Fault.respond("token", 429, json=LIMITED)), 200),
    "token-refresh-token": Case((Fault.refresh_token(),), 200),
    "token-issued-junk-then-real": Case(
        (Fault.respond("token", 200, json={"access_token": "None", "token_type": "Bearer",
                                           "expires_in": 60}),), 200),
    # the token endpoint, lasting: a typed error, no API request
    "token-500-sticky": Case((Fault.respond("token", 500, json=UNAVAILABLE, times=None),),
                             TokenServerError),
    "token-html-503-sticky": Case((Fault.html("token", 503, times=None),), TokenServerError),
    "token-429-sticky": Case(
        (Fault.respond("token", 429, json=LIMITED, headers={"Retry-After": "1"}, times=None),),
        RateLimitedError),
    "token-429-wait-too-long": Case(
        (Fault.respond("token", 429, json=LIMITED, headers={"Retry-After": "3600"}),),
        RateLimitedError),
    "token-drop-sticky": Case((Fault.drop("token", times=None),), TokenEndpointUnreachableError),
    "token-non-json": Case((Fault.malformed("non_json"),), MalformedTokenResponseError),
    "token-no-access-token": Case((Fault.malformed("no_access_token"),),
                                  MalformedTokenResponseError),
    "token-wrong-token-type": Case((Fault.malformed("wrong_token_type"),),
                                   MalformedTokenResponseError),
    "token-200-html": Case((Fault.html("token", 200),), MalformedTokenResponseError),
    "token-401": Case((Fault.respond("token", 401, json={"error": "access_denied",
                                                         "error_description": "Unauthorized"}),),
                      InvalidClientError),
    "token-403-scopes": Case(
        (Fault.respond("token", 403, json={
            "error": "access_denied",
            "error_description": "Client has not been granted scopes: admin:all"}),),
        ScopeNotGrantedError),
    "token-400": Case((Fault.respond("token", 400, json={"error": "invalid_request"}),),
                      TokenRequestError),
    # the API
    "api-401-once": Case((Fault.respond("api", 401, json=INVALID, headers=CHALLENGE),), 200),
    "api-401-sticky": Case(
        (Fault.respond("api", 401, json=INVALID, headers=CHALLENGE, times=None),), 401),
    "api-503": Case((Fault.respond("api", 503, json=UNAVAILABLE),), 503),
    "api-delayed": Case((Fault.delayed("api", 0.02),), 200),
    "api-drop": Case((Fault.drop("api"),), httpx.RemoteProtocolError),
}


OVER_HTTP = ["token-drop", "token-drop-sticky", "token-502-html", "token-non-json",
             "token-429-retry-after", "token-401", "api-401-once", "api-drop"]


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(Emulator(clock=FakeClock())) as served:
        yield served


@pytest.fixture
def served_rig(server: EmulatorServer) -> Rig:
    """The module's server, back in a pristine state: no faults, empty journal, fresh clock."""
    emu = server.emulator
    emu.reset()
    emu.clock = FakeClock()
    return Rig(emu, served=True)


@pytest.mark.parametrize("name", list(CASES))
def test_fault_ends_in_success_or_the_right_error_in_time(
    rig: Rig, mode: Mode, name: str
) -> None:
    _check(rig, mode, CASES[name])


@pytest.mark.parametrize("name", OVER_HTTP)
def test_fault_over_real_http_ends_in_success_or_the_right_error_in_time(
    served_rig: Rig, mode: Mode, name: str
) -> None:
    _check(served_rig, mode, CASES[name])


def _check(rig: Rig, mode: Mode, case: Case) -> None:
    for fault in case.faults:
        rig.emu.add_fault(fault)
    auth = rig.auth(deadline=DEADLINE)

    def attempt() -> int | type[Exception]:
        try:
            return rig.get(auth, mode).status_code
        except Exception as exc:  # the outcome under test
            assert isinstance(exc, Exception)
            return type(exc)

    outcome = within(5, attempt)  # a hang fails here instead of stalling the suite
    if isinstance(case.expected, int):
        assert outcome == case.expected
    else:
        assert isinstance(outcome, type) and issubclass(outcome, case.expected)
    assert sum(rig.sleeps) < DEADLINE
    assert len(rig.tokens()) <= 2 * 5  # one fetch (maybe one refetch), each within max_attempts
    issued = rig.issued()
    assert all(bearer in issued for bearer in rig.bearers())
    if isinstance(case.expected, type) and issubclass(case.expected, ClientCredentialsError):
        assert rig.apis() == []  # no token, no API request
