"""A long life of the reference client, simulated on the fake clock (a hypothesis state machine).

Many token lifetimes pass; faults are armed at random on the token endpoint and the API; the
client makes API calls, sync and async. Whatever happens, checked against the emulator's
journal after every step:

- the client never presents an expired token (each API request's token, against the fake
  clock at the moment the emulator received it), nor one the emulator did not issue whole;
- it fetches at most one token per refresh period, plus one per token the API rejected;
  everything else it sends the token endpoint is a retry of an answer a fault spoiled;
- within one call: never again before a 429's Retry-After, never again after a 401, a 403
  or a malformed answer, and at most one replay of a rejected API request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import math
from collections.abc import Callable

import httpx
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from m2m_contract.client import ClientCredentials, ClientCredentialsError
from m2m_contract.client._cache import REFRESH_SHARE, SKEW_MAX, SKEW_SHARE, STAMP_ROUNDING
from m2m_contract.emulator import Emulator, EmulatorTransport, Exchange, FakeClock, Fault
from m2m_contract.emulator import default_tenant as built_in_tenant

from .conftest import claims

START = 1_767_225_600.0  # the fake clock's wall time at monotonic 0
MAX_ATTEMPTS = 4
INVALID = {"error": "invalid_token", "error_description": "The access token is invalid"}
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'}

FAULTS: dict[str, Callable[[int], Fault]] = {
    "token-503": lambda n: Fault.respond("token", 503, json={"error": "unavailable"}, times=n),
    "token-429": lambda n: Fault.respond(
        "token", 429, json={"error": "too_many_requests"}, headers={"Retry-After": "3"}, times=n
    ),
    "token-drop": lambda n: Fault.drop("token", times=n),
    "token-401": lambda n: Fault.respond(
        "token", 401, json={"error": "access_denied", "error_description": "Unauthorized"}, times=n
    ),
    "token-no-access-token": lambda n: Fault.malformed("no_access_token", times=n),
    "token-non-json": lambda n: Fault.malformed("non_json", times=n),
    "token-refresh-token": lambda n: Fault.refresh_token(times=n),
    "api-401-invalid-token": lambda n: Fault.respond(
        "api", 401, json=INVALID, headers=CHALLENGE, times=n
    ),
    "api-503": lambda n: Fault.respond("api", 503, json={"error": "unavailable"}, times=n),
    "api-drop": lambda n: Fault.drop("api", times=n),
}
USABLE = (None, "refresh_token", "pass")  # token answers the client can take a token from


class ClientLife(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(START)
        self.lifetime = 60
        self.emu = Emulator(clock=self.clock)
        self.calls: list[tuple[int, int]] = []  # journal seq range of each API call
        self.checked = 0  # journal seq up to which API requests were checked
        self.http: httpx.Client | None = None

    @initialize(lifetime=st.sampled_from([2, 7, 60, 3600]))
    def start(self, lifetime: int) -> None:
        self.lifetime = lifetime
        tenant = built_in_tenant()
        api = dataclasses.replace(tenant.apis[0], token_lifetime=lifetime)
        self.emu.tenant = dataclasses.replace(tenant, apis=(api,))
        self.transport = EmulatorTransport(self.emu)
        self.auth = ClientCredentials(
            self.emu.token_url,
            "demo-client",
            "demo-secret",
            scope="read:members",
            transport=self.transport,
            clock=self.clock,
            sleep=self.clock.advance,
            async_sleep=self._async_sleep,
            max_attempts=MAX_ATTEMPTS,
        )
        self.http = httpx.Client(auth=self.auth, transport=self.transport)

    async def _async_sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def teardown(self) -> None:
        if self.http is not None:
            self.http.close()

    # -- what happens ----------------------------------------------------------------------

    @rule(share=st.floats(0, 1.2, allow_nan=False))
    def a_part_of_a_lifetime_passes(self, share: float) -> None:
        self.clock.advance(share * self.lifetime)

    @rule(lifetimes=st.floats(1, 50, allow_nan=False))
    def many_lifetimes_pass(self, lifetimes: float) -> None:
        self.clock.advance(lifetimes * self.lifetime)

    @rule(name=st.sampled_from(sorted(FAULTS)), times=st.integers(1, 3))
    def a_fault_is_armed(self, name: str, times: int) -> None:
        self.emu.add_fault(FAULTS[name](times))

    @rule()
    def a_sync_api_call(self) -> None:
        assert self.http is not None
        self._call(lambda: self.http.get(self.emu.api_url) if self.http else None)

    @rule()
    def an_async_api_call(self) -> None:
        async def call() -> None:
            async with httpx.AsyncClient(auth=self.auth, transport=self.transport) as http:
                await http.get(self.emu.api_url)

        self._call(lambda: asyncio.run(call()))

    def _call(self, call: Callable[[], object]) -> None:
        first = self._last_seq() + 1
        # A fault the client may report; anything else fails the test.
        with contextlib.suppress(ClientCredentialsError, httpx.RemoteProtocolError):
            call()
        self.calls.append((first, self._last_seq() + 1))

    def _last_seq(self) -> int:
        exchanges = self.emu.journal.snapshot()
        return exchanges[-1].seq if exchanges else 0

    # -- what must always hold -------------------------------------------------------------

    @invariant()
    def never_presents_an_expired_or_foreign_token(self) -> None:
        issued = {tok for e in self.emu.journal.token_requests() if (tok := _token_of(e))}
        for exchange in self.emu.journal.api_requests():
            if exchange.seq <= self.checked:
                continue
            bearer = (exchange.request.header("authorization") or "").removeprefix("Bearer ")
            assert bearer in issued, f"#{exchange.seq}: a token the emulator never issued"
            received_at = START + exchange.at
            assert claims(bearer)["exp"] > received_at, (
                f"#{exchange.seq}: presented a token that expired at {claims(bearer)['exp']}, "
                f"{received_at - claims(bearer)['exp']:.3f} s earlier (lifetime {self.lifetime})"
            )
            self.checked = exchange.seq

    @invariant()
    def fetches_at_most_one_token_per_refresh_period_plus_rejections(self) -> None:
        tokens = self.emu.journal.token_requests()
        usable = [e for e in tokens if e.fault in USABLE]
        assert all(e.response.status == 200 for e in usable)  # it never sends a bad request
        rejected = sum(
            e.response.status == 401
            and "invalid_token" in (e.response.header("www-authenticate") or "")
            for e in self.emu.journal.api_requests()
        )
        period = refresh_period(self.lifetime)
        bound = 1 + math.floor(self.clock.monotonic() / period) + rejected
        assert len(usable) <= bound, (len(usable), bound, self.clock.monotonic())

    @invariant()
    def within_a_call_retries_follow_the_answers(self) -> None:
        by_seq = {e.seq: e for e in self.emu.journal.snapshot()}
        for first, last in self.calls[-1:]:
            mine = [by_seq[s] for s in range(first, last) if s in by_seq]
            tokens = [e for e in mine if e.kind == "token"]
            assert len(tokens) <= 2 * MAX_ATTEMPTS  # a fetch, and one more after a 401 replay
            for before, after in itertools.pairwise(tokens):
                status = before.response.status
                if status == 429:
                    wait = float(before.response.header("retry-after") or 0)
                    assert after.at - before.at >= wait, "retried before Retry-After"
                elif status in (400, 401, 403) or before.fault in ("no_access_token", "non_json"):
                    raise AssertionError(f"retried after a final answer ({status}, {before.fault})")
            assert sum(e.kind == "api" for e in mine) <= 2  # the call, and at most one replay


def refresh_period(lifetime: float) -> float:
    """How long the client keeps a token (refresh_margin 60 s): 90% of its lifetime, or less
    when that would run into the last second and 2% it never presents a token in."""
    last = STAMP_ROUNDING + min(SKEW_MAX, SKEW_SHARE * lifetime)
    return min(lifetime * (1 - REFRESH_SHARE), lifetime - last)


def _token_of(exchange: Exchange) -> str | None:
    if exchange.response.status != 200:
        return None
    try:
        body = exchange.response.json()
    except ValueError:
        return None
    token = body.get("access_token") if isinstance(body, dict) else None
    return token if isinstance(token, str) else None


ClientLife.TestCase.settings = settings(stateful_step_count=40, deadline=None)
test_client_life_on_the_fake_clock = ClientLife.TestCase
