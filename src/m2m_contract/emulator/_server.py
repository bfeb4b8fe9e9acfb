"""Serve the emulator over real HTTP(S) on loopback: uvicorn in a background thread."""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import uvicorn

from ._asgi import EmulatorApp
from ._core import Emulator

_START_TIMEOUT = 10.0


class ServerError(RuntimeError):
    """The server could not start (port busy, bad address, TLS material unusable)."""


@dataclass(frozen=True)
class TLSFiles:
    """A throwaway CA and a server certificate it signed, written to a directory."""

    ca_bundle: Path
    certfile: Path
    keyfile: Path


def make_tls_files(
    directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
) -> TLSFiles:
    """Create a CA (trustme) and a certificate for `hosts`; return the file paths."""
    import trustme

    ca = trustme.CA(organization_name="m2m-contract throwaway CA")
    cert = ca.issue_cert(*hosts)
    files = TLSFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca.cert_pem.write_to_path(str(files.ca_bundle))
    cert.private_key_pem.write_to_path(str(files.keyfile))
    with files.certfile.open("wb") as out:
        for blob in cert.cert_chain_pems:
            out.write(blob.bytes())
    return files


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind (and listen on) host:port; port 0 picks a free one. Raises ServerError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = "the port is in use" if exc.errno == 98 else (exc.strerror or str(exc))
        raise ServerError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock


def url_for(scheme: str, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def uvicorn_config(
    emulator: Emulator, tls: TLSFiles | None, log_level: str = "warning"
) -> uvicorn.Config:
    """uvicorn's settings for the emulator's HTTP door, loaded (TLS context included)."""
    app = EmulatorApp(emulator)
    config = uvicorn.Config(
        app,
        http=app.protocol,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        proxy_headers=False,
        ssl_certfile=str(tls.certfile) if tls else None,
        ssl_keyfile=str(tls.keyfile) if tls else None,
        timeout_keep_alive=30,
        backlog=2048,
    )
    config.load()
    if config.ssl is not None:
        # Called when a ClientHello arrives, before any certificate is judged: a client that
        # refuses the certificate still leaves a trace that it tried.
        def hello(ssl_object: object, server_name: str | None, context: object) -> None:
            emulator.record_handshake(server_name)

        config.ssl.sni_callback = hello
    return config


class EmulatorServer:
    """Run the emulator on loopback in a background thread.

    >>> with EmulatorServer(Emulator()) as server:   # doctest: +SKIP
    ...     httpx.post(server.emulator.token_url, json={...})

    The emulator's base URL (and so its derived issuer) becomes the served URL.
    With `tls=True`, HTTPS is served with a throwaway CA whose bundle is `ca_bundle`.
    """

    def __init__(
        self,
        emulator: Emulator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
    ) -> None:
        self.emulator = emulator or Emulator()
        self.host, self._port, self.tls = host, port, tls
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._sock: socket.socket | None = None
        self.ca_bundle: Path | None = None
        self.base_url = ""

    def start(self) -> EmulatorServer:
        sock = bind_socket(self.host, self._port)
        self._sock = sock
        port = sock.getsockname()[1]
        tls_files = None
        if self.tls:
            self._tmp = tempfile.TemporaryDirectory(prefix="m2m-contract-tls-")
            tls_files = make_tls_files(Path(self._tmp.name))
            self.ca_bundle = tls_files.ca_bundle
        self.base_url = url_for("https" if self.tls else "http", self.host, port)
        self.emulator.base_url = self.base_url
        server = uvicorn.Server(uvicorn_config(self.emulator, tls_files))
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="m2m-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"the emulator did not start on {self.base_url}")
            time.sleep(0.01)
        # Keep `sock` open until stop(): uvloop serves a duplicate of it, but asyncio's own
        # loop serves this very socket, so closing it here would stop the server listening.
        return self

    def stop(self) -> None:
        if self._server is not None:
            if isinstance(self._server.config.app, EmulatorApp):
                self._server.config.app.release_stalls()
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=_START_TIMEOUT)
        if self._server is not None and isinstance(self._server.config.app, EmulatorApp):
            self._server.config.app.close()
        self._thread = self._server = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.cleanup()
            self._tmp = None

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1]) if self.base_url else self._port

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorServer({self.base_url or 'not started'})"
