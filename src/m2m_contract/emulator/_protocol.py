"""The HTTP door's connection layer: uvicorn's HTTP protocol with the emulator's hooks.

Every accepted connection gets TCP_NODELAY (whatever the event loop: asyncio only sets it
itself on sockets created with IPPROTO_TCP), and is registered by its peer address so that the
app can reset it, which an ASGI app cannot otherwise do.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

Peer = tuple[str, int]


def protocol_class(connections: dict[Peer, asyncio.BaseTransport]) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, else h11), registering connections."""

    class EmulatorProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
        _m2m_peer: Peer | None = None

        def connection_made(self, transport: Any) -> None:
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = transport.get_extra_info("peername")
            if isinstance(peer, tuple) and len(peer) >= 2:
                self._m2m_peer = (str(peer[0]), int(peer[1]))
                connections[self._m2m_peer] = transport
            super().connection_made(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._m2m_peer is not None:
                connections.pop(self._m2m_peer, None)
            super().connection_lost(exc)

    return EmulatorProtocol


def reset(transport: asyncio.BaseTransport) -> None:
    """Close the connection with a TCP RST: the peer sees 'connection reset', no answer."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if isinstance(transport, asyncio.Transport):
        transport.abort()
    else:
        transport.close()
