"""Regression: tokens stamped in whole seconds expire up to 1 s before expires_in runs out.

Auth0, and the emulator with it, stamp `iat` and `exp` as whole seconds, rounded down. A
token requested at 0.5 s past a second with `expires_in` 2 expires 1.5 s later, not 2 s. The
state machine in test_client_simulation.py found the reference client presenting such tokens
in that last half second (the API's 401 and the client's replay hid it from the caller).
"""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from m2m_contract.client import ClientCredentials
from m2m_contract.emulator import Emulator, EmulatorTransport, FakeClock, default_tenant

from .conftest import claims


def short_lived(lifetime: int) -> Emulator:
    tenant = default_tenant()
    api = dataclasses.replace(tenant.apis[0], token_lifetime=lifetime)
    return Emulator(dataclasses.replace(tenant, apis=(api,)), clock=FakeClock())


@pytest.mark.parametrize(
    ("lifetime", "margin", "offset", "later"),
    [(2, 60.0, 0.5, 1.5), (7, 60.0, 0.9, 6.2), (100, 0.0, 0.6, 99.5)],
)
def test_a_token_is_never_presented_in_the_second_its_rounded_exp_may_have_passed(
    lifetime: int, margin: float, offset: float, later: float
) -> None:
    emu = short_lived(lifetime)
    assert isinstance(emu.clock, FakeClock)
    clock = emu.clock
    transport = EmulatorTransport(emu)
    auth = ClientCredentials(
        emu.token_url,
        "demo-client",
        "demo-secret",
        refresh_margin=margin,
        transport=transport,
        clock=clock,
        sleep=clock.advance,
    )
    clock.advance(offset)  # the token is requested mid-second: exp is rounded down
    with httpx.Client(auth=auth, transport=transport) as http:
        assert http.get(emu.api_url).status_code == 200
        clock.advance(later)  # past the rounded exp, before obtained_at + expires_in
        assert http.get(emu.api_url).status_code == 200

    for exchange in emu.journal.api_requests():
        bearer = (exchange.request.header("authorization") or "").removeprefix("Bearer ")
        assert claims(bearer)["exp"] > clock.time() - clock.monotonic() + exchange.at
        assert exchange.response.status == 200  # so never a 401 that a replay papered over
