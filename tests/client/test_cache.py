"""One token per client, reused until shortly before expiry, timed from when it was asked for."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from m2m_contract.client import TokenServerError
from m2m_contract.emulator import DEFAULT_AUDIENCE, Api, Fault, default_tenant

from .conftest import Mode, Rig


def _lifetime(rig: Rig, seconds: int) -> None:
    api = default_tenant().apis[0]
    rig.emu.tenant = dataclasses.replace(
        default_tenant(), apis=(Api(api.identifier, api.scopes, token_lifetime=seconds),)
    )


def test_one_token_serves_many_api_calls(rig: Rig, mode: Mode) -> None:
    auth = rig.auth()
    statuses = [rig.get(auth, mode).status_code for _ in range(10)]
    assert statuses == [200] * 10
    assert len(rig.tokens()) == 1
    assert len(set(rig.bearers())) == 1


def test_get_token_returns_the_same_cached_token(rig: Rig, mode: Mode) -> None:
    auth = rig.auth()
    first, second = rig.token(auth, mode), rig.token(auth, mode)
    assert first is second
    assert rig.emu.verify(first.access_token).scopes == ("read:members",)


def test_each_client_instance_has_its_own_cache(rig: Rig) -> None:
    rig.auth().get_token()
    rig.auth().get_token()
    assert len(rig.tokens()) == 2


def test_token_is_refreshed_the_margin_before_it_expires(rig: Rig, mode: Mode) -> None:
    auth = rig.auth()  # 86400 s tokens, default margin 60 s
    first = rig.token(auth, mode)
    rig.clock.advance(86400 - 60 - 0.01)
    assert rig.token(auth, mode) is first
    rig.clock.advance(0.01)
    assert rig.token(auth, mode) is not first
    assert len(rig.tokens()) == 2


def test_expired_token_is_never_presented(rig: Rig, mode: Mode) -> None:
    _lifetime(rig, 10)
    auth = rig.auth()
    for _ in range(6):
        assert rig.get(auth, mode).status_code == 200  # the emulator rejects expired tokens
        rig.clock.advance(4)
    assert all(e.response.status == 200 for e in rig.apis())
    assert len(rig.tokens()) == 2  # at 0 and at 12 (past 9 = 10 - 10%); at 20 still fresh


# A 2 s token: 1 s less for exp's whole-second rounding and 2% for transit leave 0.96 s.
@pytest.mark.parametrize(
    ("lifetime", "reused_for"), [(2, 0.96), (30, 27), (300, 270), (3600, 3540)]
)
def test_margin_is_capped_at_a_tenth_of_a_short_lifetime(
    rig: Rig, lifetime: int, reused_for: float
) -> None:
    _lifetime(rig, lifetime)
    auth = rig.auth()
    first = auth.get_token()
    rig.clock.advance(reused_for - 0.001)
    assert auth.get_token() is first
    rig.clock.advance(0.001)
    assert auth.get_token() is not first


def test_short_lived_token_with_a_huge_margin_is_not_fetched_per_call(rig: Rig) -> None:
    _lifetime(rig, 5)
    auth = rig.auth(refresh_margin=3600)
    for _ in range(8):  # up to 3.5 s: usable until 5 - 1 (exp rounding) - 2% (transit) = 3.9
        rig.get(auth, "sync")
        rig.clock.advance(0.5)
    assert len(rig.tokens()) == 1


def test_expiry_is_timed_from_when_the_request_was_sent(rig: Rig) -> None:
    _lifetime(rig, 100)

    class Slow(httpx.BaseTransport):
        """A token endpoint that takes 8 s (of fake time) to answer."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            rig.clock.advance(8)
            return rig.transport.handle_request(request)

    auth = rig.auth(transport=Slow())
    token = auth.get_token()
    assert token.obtained_at == 0.0 and token.expires_at == 100.0
    rig.clock.advance(90 - 8 - 0.01)  # 90 = 100 - 10% margin, counted from the send
    assert auth.get_token() is token
    rig.clock.advance(0.01)
    assert auth.get_token() is not token


def test_zero_margin_uses_the_token_until_just_before_expiry(rig: Rig) -> None:
    _lifetime(rig, 100)
    auth = rig.auth(refresh_margin=0)
    token = auth.get_token()
    rig.clock.advance(97.9)  # usable until 100 - 1 (exp rounding) - 1 (transit) = 98
    assert auth.get_token() is token
    rig.clock.advance(0.1)
    assert auth.get_token() is not token


def test_failed_early_refresh_keeps_serving_the_valid_token(rig: Rig, mode: Mode) -> None:
    _lifetime(rig, 100)  # margin 10 s, refresh from 90 s
    auth = rig.auth()
    token = rig.token(auth, mode)
    rig.clock.advance(91)
    rig.emu.add_fault(Fault.respond("token", 503, json={"error": "temporarily_unavailable"},
                                    times=None))
    assert rig.token(auth, mode) is token  # one attempt failed; the old token still works
    assert rig.get(auth, mode).status_code == 200
    assert len(rig.tokens()) == 2  # no second attempt straight away (quarter-margin pause)
    rig.clock.advance(2.5)
    assert rig.token(auth, mode) is token
    assert len(rig.tokens()) == 3
    assert rig.sleeps == []  # early refreshes never wait: they are tried again later
    rig.clock.advance(100 - 93.5 - 1.0)  # past 98 (1 s exp rounding + 1 s transit): unusable
    with pytest.raises(TokenServerError, match="gave up after 5 attempts"):
        rig.token(auth, mode)


def test_early_refresh_that_succeeds_replaces_the_token(rig: Rig, mode: Mode) -> None:
    _lifetime(rig, 100)
    auth = rig.auth()
    token = rig.token(auth, mode)
    rig.clock.advance(95)
    fresh = rig.token(auth, mode)
    assert fresh is not token and fresh.obtained_at == 95
    assert rig.token(auth, mode) is fresh


def test_early_refresh_after_a_429_waits_for_retry_after(rig: Rig) -> None:
    _lifetime(rig, 1000)  # margin 60 s
    auth = rig.auth()
    token = auth.get_token()
    rig.clock.advance(945)
    rig.emu.add_fault(Fault.respond("token", 429, json={"error": "too_many_requests"},
                                    headers={"Retry-After": "30"}))
    assert auth.get_token() is token
    rig.clock.advance(29)
    assert auth.get_token() is token
    assert len(rig.tokens()) == 2
    rig.clock.advance(1.5)
    assert auth.get_token() is not token


def test_invalidate_makes_the_next_call_fetch(rig: Rig, mode: Mode) -> None:
    auth = rig.auth()
    rig.token(auth, mode)
    auth.invalidate()
    rig.token(auth, mode)
    assert len(rig.tokens()) == 2


def test_every_refetch_sends_the_same_request_audience_included(rig: Rig, mode: Mode) -> None:
    auth = rig.auth(audience=DEFAULT_AUDIENCE, scope=["read:members", "read:appointments"])
    rig.token(auth, mode)
    rig.clock.advance(86400)  # expired: fetched again
    rig.token(auth, mode)
    auth.invalidate()
    rig.token(auth, mode)
    sent = [e.request.body for e in rig.tokens()]
    assert len(sent) == 3 and len(set(sent)) == 1
    assert (rig.tokens()[0].params or {})["audience"] == DEFAULT_AUDIENCE
