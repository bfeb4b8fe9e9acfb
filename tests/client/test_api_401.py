"""An API 401 invalid_token drops the token, fetches once and replays once; never a loop."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from m2m_contract.client import InvalidClientError
from m2m_contract.client._auth import _INVALID_TOKEN
from m2m_contract.emulator import EmulatorServer, Fault

from .conftest import Mode, Rig, run

INVALID = {"error": "invalid_token", "error_description": "The access token is invalid"}


def _rejects(times: int | None, challenge: str = 'Bearer realm="api", error="invalid_token"'
             ) -> Fault:
    return Fault.respond("api", 401, json=INVALID, headers={"WWW-Authenticate": challenge},
                         times=times)


def test_revoked_token_is_replaced_and_the_request_replayed(rig: Rig, mode: Mode) -> None:
    auth = rig.auth()
    old = rig.token(auth, mode)
    rig.emu.revoke(old.access_token)
    rig.clock.advance(1)  # tokens minted in the same second are identical (RS256 is deterministic)
    response = rig.get(auth, mode)
    assert response.status_code == 200
    assert [e.response.status for e in rig.apis()] == [401, 200]
    assert len(rig.tokens()) == 2
    first, second = rig.bearers()
    assert first == old.access_token and second != old.access_token
    assert rig.token(auth, mode).access_token == second  # the new token is cached


def test_api_that_keeps_rejecting_gets_two_tries_and_no_more(rig: Rig, mode: Mode) -> None:
    rig.emu.add_fault(_rejects(times=None))
    auth = rig.auth()
    response = rig.get(auth, mode)
    assert response.status_code == 401
    assert len(rig.apis()) == 2 and len(rig.tokens()) == 2
    assert set(rig.bearers()) <= rig.issued()


def test_a_rejected_token_is_never_presented_again(rig: Rig, mode: Mode) -> None:
    class Ticking(httpx.BaseTransport, httpx.AsyncBaseTransport):
        """One fake second per token request, so every token minted is a different JWT."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            rig.clock.advance(1)
            return rig.transport.handle_request(request)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return self.handle_request(request)

    rig.emu.add_fault(_rejects(times=None))
    auth = rig.auth(transport=Ticking())
    for _ in range(3):
        assert rig.get(auth, mode).status_code == 401  # each call: one replay, no more
    assert len(rig.apis()) == 6 and len(rig.tokens()) == 6
    assert len(set(rig.bearers())) == 6


@pytest.mark.parametrize(
    ("status", "challenge"),
    [
        (401, 'Bearer realm="api"'),  # no error code: not a token problem we can fix
        (401, 'Bearer error="invalid_request"'),
        (401, 'Basic realm="api", error="invalid_token"'),
        (403, 'Bearer error="insufficient_scope", scope="admin"'),
    ],
)
def test_other_rejections_are_returned_as_they_are(
    rig: Rig, mode: Mode, status: int, challenge: str
) -> None:
    rig.emu.add_fault(Fault.respond("api", status, json=INVALID,
                                    headers={"WWW-Authenticate": challenge}))
    auth = rig.auth()
    assert rig.get(auth, mode).status_code == status
    assert len(rig.apis()) == 1 and len(rig.tokens()) == 1
    rig.get(auth, mode)
    assert len(rig.tokens()) == 1  # the token was kept


def test_post_with_an_in_memory_body_is_replayed_with_the_same_body(rig: Rig, mode: Mode) -> None:
    rig.emu.add_fault(_rejects(times=1))
    auth = rig.auth(scope="write:transactions")
    response = rig.request(auth, mode, "POST", "/api/transactions", json={"points": 100})
    assert response.status_code == 200
    first, second = rig.apis()
    assert json.loads(first.request.body) == json.loads(second.request.body) == {"points": 100}


def test_streaming_body_is_not_replayed_but_the_next_request_gets_a_new_token(
    rig: Rig, mode: Mode, m2m_server: EmulatorServer
) -> None:
    # Over real HTTP: the in-process door reads a streamed body into memory, which makes it
    # replayable; a real transport consumes the stream.
    rig.emu.add_fault(_rejects(times=1))
    auth = rig.auth(scope="write:transactions")
    url = rig.emu.base_url + "/api/transactions"

    def chunks() -> Iterator[bytes]:
        yield b'{"points":'
        yield b"100}"

    async def achunks() -> AsyncIterator[bytes]:
        for chunk in chunks():
            yield chunk

    if mode == "sync":
        with httpx.Client(auth=auth) as http:
            status = http.post(url, content=chunks()).status_code
    else:
        async def post() -> int:
            async with httpx.AsyncClient(auth=auth) as http:
                return (await http.post(url, content=achunks())).status_code

        status = run(post())
    assert status == 401
    assert len(rig.apis()) == 1 and len(rig.tokens()) == 1
    rig.clock.advance(1)
    assert rig.get(auth, mode, "/api/transactions").status_code == 200
    assert len(rig.tokens()) == 2


def test_failed_refetch_after_a_rejection_raises_and_replays_nothing(
    rig: Rig, mode: Mode
) -> None:
    auth = rig.auth()
    rig.token(auth, mode)
    rig.emu.add_fault(_rejects(times=1))
    rig.emu.add_fault(Fault.respond("token", 401, json={"error": "access_denied"}))
    with pytest.raises(InvalidClientError):
        rig.get(auth, mode)
    assert len(rig.apis()) == 1 and len(rig.tokens()) == 2


@pytest.mark.parametrize(
    ("challenge", "matches"),
    [
        ('Bearer error="invalid_token"', True),
        ('Bearer realm="x", error="invalid_token", error_description="expired"', True),
        ("Bearer error=invalid_token", True),
        ('bearer ERROR="INVALID_TOKEN"', True),
        ('Bearer error_description="invalid_token"', False),
        ('Bearer error="invalid_token_type"', False),
    ],
)
def test_invalid_token_challenge_is_read_as_rfc_6750_says(challenge: str, matches: bool) -> None:
    assert bool(_INVALID_TOKEN.search(challenge)) is matches
