"""The in-process door: an httpx transport (sync and async) and a respx router over the core."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from ._core import Emulator
from ._http import Request, Response


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
    if response.drop:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    return httpx.Response(
        response.status, headers=response.headers, content=response.body, request=request
    )


class EmulatorTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Route every request of an httpx client to the emulator, whatever the host.

    `httpx.Client(transport=EmulatorTransport(emu))` or the same with `httpx.AsyncClient`.
    Delays are slept (asynchronously in async clients); a dropped connection raises
    `httpx.RemoteProtocolError` as a real one would.
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.emulator.handle(to_core_request(request, request.read()))
        if response.delay:
            time.sleep(response.delay)
        return to_httpx_response(response, request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = self.emulator.handle(to_core_request(request, await request.aread()))
        if response.delay:
            await asyncio.sleep(response.delay)
        return to_httpx_response(response, request)


def respx_router(emulator: Emulator, base_url: str | None = None, **kwargs: Any) -> Any:
    """A `respx.MockRouter` sending every request under `base_url` to the emulator.

    Use it as a context manager or decorator: `with respx_router(emu): httpx.post(...)`.
    Delays are slept synchronously here; use `EmulatorTransport` for async delays.
    """
    import respx

    kwargs.setdefault("assert_all_called", False)
    router = respx.mock(base_url=base_url or emulator.base_url, **kwargs)

    def side_effect(request: httpx.Request) -> httpx.Response:
        response = emulator.handle(to_core_request(request, request.read()))
        if response.delay:
            time.sleep(response.delay)
        return to_httpx_response(response, request)

    router.route().mock(side_effect=side_effect)
    return router
