"""Servers started side by side configure logging once: uvicorn's own dictConfig per Config,
run from many threads while other servers log, deadlocked a conformance run for ever."""

from __future__ import annotations

import logging
import logging.config
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from m2m_contract.emulator import Emulator, EmulatorServer, _server

from .conftest import token_body


def test_twelve_servers_started_at_once_configure_logging_once_and_all_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    real = logging.config.dictConfig

    def counting(config: Any) -> None:
        calls.append(threading.current_thread().name)
        real(config)

    monkeypatch.setattr(logging.config, "dictConfig", counting)
    monkeypatch.setattr(_server, "_logging_configured", False, raising=False)
    servers = [EmulatorServer(Emulator()) for _ in range(12)]
    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(lambda server: server.start(), servers))
    try:
        answers = [httpx.post(s.emulator.token_url, json=token_body()) for s in servers]
    finally:
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(lambda server: server.stop(), servers))
    assert [a.status_code for a in answers] == [200] * 12
    assert len(calls) == 1, calls
    # uvicorn's handlers and the level asked for are still in place
    assert logging.getLogger("uvicorn.error").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("uvicorn").handlers
