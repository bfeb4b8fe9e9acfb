"""The in-process door: an httpx transport (sync and async) and a respx router over the core."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from ._core import Emulator
from ._http import Request, Response

# A stalled answer with no read timeout set would block for ever; in-process it gives up here.
STALL_LIMIT = 600.0


def to_core_request(request: httpx.Request, body: bytes) -> Request:
    return Request(
        method=request.method,
        path=request.url.path,
        query_string=request.url.query.decode("ascii", "replace"),
        headers=tuple(
            (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in request.headers.raw
        ),
        body=body,
    )


def to_httpx_response(response: Response, request: httpx.Request) -> httpx.Response:
    """The answer as httpx would see it from a real server (raising for broken connections)."""
    if response.fate == "drop":
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    if response.fate == "reset":
        raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
    if response.fate == "stall":
        raise httpx.ReadTimeout("The read operation timed out", request=request)
    return httpx.Response(
        response.status, headers=response.headers, content=response.body, request=request
    )


def _wait(response: Response, request: httpx.Request) -> float:
    """How long the door waits before answering: the fault's delay, or a stall's read timeout."""
    if response.fate != "stall":
        return response.delay
    timeout = request.extensions.get("timeout", {}).get("read")
    return min(STALL_LIMIT, float(timeout)) if timeout is not None else STALL_LIMIT


def _answer(emulator: Emulator, request: httpx.Request) -> httpx.Response:
    response = emulator.handle(to_core_request(request, request.read()))
    wait = _wait(response, request)
    if wait:
        time.sleep(wait)
    return to_httpx_response(response, request)


class EmulatorTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Route every request of an httpx client to the emulator, whatever the host.

    `httpx.Client(transport=EmulatorTransport(emu))` or the same with `httpx.AsyncClient`.
    Delays are slept (asynchronously in async clients); a dropped or reset connection raises
    `httpx.RemoteProtocolError` or `httpx.ReadError` as a real one would, and a stalled answer
    `httpx.ReadTimeout` once the request's read timeout has passed.
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return _answer(self.emulator, request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = self.emulator.handle(to_core_request(request, await request.aread()))
        wait = _wait(response, request)
        if wait:
            await asyncio.sleep(wait)
        return to_httpx_response(response, request)


def respx_router(emulator: Emulator, base_url: str | None = None, **kwargs: Any) -> Any:
    """A `respx.MockRouter` sending every request under `base_url` to the emulator.

    Use it as a context manager or decorator: `with respx_router(emu): httpx.post(...)`.
    Delays are slept synchronously here; use `EmulatorTransport` for async delays.
    """
    import respx

    kwargs.setdefault("assert_all_called", False)
    router = respx.mock(base_url=base_url or emulator.base_url, **kwargs)
    router.route().mock(side_effect=lambda request: _answer(emulator, request))
    return router
