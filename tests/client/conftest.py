"""A rig for the reference client's tests: the emulator in-process, on its fake clock.

The client under test reads the emulator's FakeClock (monotonic for expiry, time for
Retry-After dates) and "sleeps" by advancing it, so expiry, backoff and Retry-After are
tested without waiting, and emulator-side expiry moves in step with the client's.
`mode` runs a test once through httpx.Client and once through httpx.AsyncClient.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpx
import pytest

from m2m_contract.client import ClientCredentials, Token
from m2m_contract.emulator import Emulator, EmulatorTransport, Exchange, FakeClock

Mode = Literal["sync", "async"]
T = TypeVar("T")
SECRET = "demo-secret"
SSL = httpx.create_ssl_context()  # one for the suite: each costs tens of milliseconds


def within(seconds: float, work: Callable[[], T]) -> T:
    """Run `work` in a thread; fail (instead of hanging the suite) if it does not finish."""
    box: dict[str, T | BaseException] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: a hang or a deadlock"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@dataclass
class Rig:
    """`served`: talk to the emulator over real HTTP (it must be served) instead of in-process."""

    emu: Emulator
    sleeps: list[float] = field(default_factory=list)
    served: bool = False

    def __post_init__(self) -> None:
        self.transport = EmulatorTransport(self.emu)

    @property
    def clock(self) -> FakeClock:
        assert isinstance(self.emu.clock, FakeClock)
        return self.emu.clock

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def auth(self, **options: Any) -> ClientCredentials:
        """A client for the built-in tenant on the emulator's transport and fake clock."""
        settings: dict[str, Any] = {
            "scope": "read:members",
            "transport": None if self.served else self.transport,
            "clock": self.clock,
            "sleep": self.sleep,
            "async_sleep": self.async_sleep,
        }
        settings.update(options)
        token_url = settings.pop("token_url", self.emu.token_url)
        client_id = settings.pop("client_id", "demo-client")
        secret = settings.pop("client_secret", SECRET)
        return ClientCredentials(token_url, client_id, secret, **settings)

    def token(self, auth: ClientCredentials, mode: Mode) -> Token:
        if mode == "sync":
            return auth.get_token()
        return run(auth.aget_token())

    def get(self, auth: ClientCredentials, mode: Mode, path: str = "/api/members",
            **kwargs: Any) -> httpx.Response:
        """One API request through an httpx client using `auth`."""
        return self.request(auth, mode, "GET", path, **kwargs)

    def request(self, auth: ClientCredentials, mode: Mode, method: str, path: str,
                **kwargs: Any) -> httpx.Response:
        url = self.emu.base_url + path
        transport = None if self.served else self.transport
        if mode == "sync":
            with httpx.Client(transport=transport, auth=auth, verify=SSL) as http:
                return http.request(method, url, **kwargs)

        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=transport, auth=auth, verify=SSL) as http:
                return await http.request(method, url, **kwargs)

        return run(go())

    def tokens(self) -> list[Exchange]:
        return self.emu.journal.token_requests()

    def apis(self) -> list[Exchange]:
        return self.emu.journal.api_requests()

    def issued(self) -> set[str]:
        """Every access token the emulator handed out in a 200 token response."""
        found = set()
        for exchange in self.tokens():
            if exchange.response.status == 200:
                try:
                    body = exchange.response.json()
                except ValueError:
                    continue
                if isinstance(body, dict) and isinstance(body.get("access_token"), str):
                    found.add(body["access_token"])
        return found

    def bearers(self) -> list[str]:
        """The bearer token of every API request, in order."""
        return [(e.request.header("authorization") or "").removeprefix("Bearer ")
                for e in self.apis()]


@pytest.fixture
def rig(m2m_emulator: Emulator) -> Rig:
    return Rig(m2m_emulator)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> Mode:
    value: Mode = request.param
    return value
