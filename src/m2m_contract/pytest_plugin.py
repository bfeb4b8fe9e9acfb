"""The m2m-contract pytest plugin: emulator fixtures (registered via the pytest11 entry point)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .emulator import Emulator, EmulatorServer, FakeClock


@pytest.fixture
def m2m_clock() -> FakeClock:
    """A fake clock the emulator fixtures run on; `m2m_clock.advance(s)` moves time."""
    return FakeClock()


@pytest.fixture
def m2m_emulator(m2m_clock: FakeClock) -> Emulator:
    """A fresh emulator (built-in tenant, fake clock, base URL the partner sandbox's)."""
    return Emulator(clock=m2m_clock)


@pytest.fixture
def m2m_respx(m2m_emulator: Emulator) -> Iterator[Emulator]:
    """Route httpx traffic for the sandbox URL to `m2m_emulator` (respx), for the test."""
    from .emulator import respx_router

    with respx_router(m2m_emulator):
        yield m2m_emulator


@pytest.fixture
def m2m_server(m2m_emulator: Emulator) -> Iterator[EmulatorServer]:
    """`m2m_emulator` served over HTTP on a free loopback port for the test."""
    with EmulatorServer(m2m_emulator) as server:
        yield server


@pytest.fixture
def m2m_tls_server(m2m_emulator: Emulator) -> Iterator[EmulatorServer]:
    """`m2m_emulator` served over HTTPS (throwaway CA at `.ca_bundle`) on loopback."""
    with EmulatorServer(m2m_emulator, tls=True) as server:
        yield server
