"""Serve the emulator over real HTTP(S): uvicorn in a background thread or in the foreground."""

from __future__ import annotations

import contextlib
import copy
import logging.config
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from types import FrameType, TracebackType

import uvicorn
import uvicorn.config

from .._net import is_loopback
from ._admin import AdminAccess
from ._asgi import EmulatorApp
from ._core import Emulator
from ._limits import Limits
from ._tls import TLSFiles, make_tls_files

_START_TIMEOUT = 10.0
_GRACE = 5  # seconds the server waits for answers in flight when it stops
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1", "::0": "::1"}


class ServerError(RuntimeError):
    """The server could not start (port busy, bad address, TLS material unusable)."""


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


def reachable_host(host: str) -> str:
    """The host a client on this machine uses to reach a server bound to `host`: loopback
    for a wildcard address (0.0.0.0, ::), which no client can connect to as such."""
    return _WILDCARDS.get(host, host)


class _Uvicorn(uvicorn.Server):
    """uvicorn, stopping cleanly on SIGINT and SIGTERM instead of re-raising the signal (which
    kills the process with 130 or 143 before its temporary files are removed)."""

    def __init__(self, config: uvicorn.Config, app: EmulatorApp) -> None:
        super().__init__(config)
        self.app = app

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.app.release_stalls()  # stalled answers would hold the shutdown for ever
        super().handle_exit(sig, frame)


_LOGGING_LOCK = threading.Lock()
_logging_configured = False


def _configure_logging_once() -> None:
    """uvicorn's logging setup, once per process. uvicorn.Config runs dictConfig each time
    it is made; made from many threads at once (verify starts emulators side by side) while
    running servers log, that deadlocks inside the logging module (dictConfig holds its
    module lock and waits for a handler's lock, held by a server thread that waits for the
    module lock), and the run hangs for ever."""
    global _logging_configured
    with _LOGGING_LOCK:
        if not _logging_configured:
            logging.config.dictConfig(copy.deepcopy(uvicorn.config.LOGGING_CONFIG))
            _logging_configured = True


def uvicorn_config(
    app: EmulatorApp, tls: TLSFiles | None, log_level: str = "warning", loop: str = "auto"
) -> uvicorn.Config:
    """uvicorn's settings for the emulator's HTTP door, loaded (TLS context included)."""
    limits = app.limits
    _configure_logging_once()
    config = uvicorn.Config(
        app,
        log_config=None,  # configured once above: never again from this thread
        http=app.protocol,
        loop=loop,
        ws="none",  # an upgrade request reaches the app as HTTP, which refuses it
        log_level=log_level,
        access_log=False,  # URLs may carry secrets
        lifespan="off",
        proxy_headers=False,  # the peer is the socket's, whatever X-Forwarded-For says
        ssl_certfile=str(tls.certfile) if tls else None,
        ssl_keyfile=str(tls.keyfile) if tls else None,
        timeout_keep_alive=limits.idle_timeout,  # type: ignore[arg-type]  # a float works
        timeout_graceful_shutdown=_GRACE,
        h11_max_incomplete_event_size=limits.max_header_bytes + 4096,  # the guard comes first
        backlog=2048,
        server_header=False,
    )
    config.load()
    if config.ssl is not None:
        emulator = app.emulator

        # Called when a ClientHello arrives, before any certificate is judged: a client that
        # refuses the certificate still leaves a trace that it tried.
        def hello(ssl_object: object, server_name: str | None, context: object) -> None:
            emulator.record_handshake(server_name)

        config.ssl.sni_callback = hello
    return config


class EmulatorServer:
    """Serve the emulator over HTTP(S): `start()` in a background thread (or `with`), or
    `serve_forever()` in the calling thread until SIGINT, SIGTERM or `stop()`.

    >>> with EmulatorServer(Emulator()) as server:   # doctest: +SKIP
    ...     httpx.post(server.emulator.token_url, json={...})

    The emulator's base URL (and so its derived issuer) becomes the served URL, a loopback
    one when `host` is a wildcard address (0.0.0.0, ::). With `tls=True`, HTTPS is served
    with a throwaway CA whose bundle is `ca_bundle`. Listening beyond loopback, the admin API
    needs `admin_token` (without one it is off). `limits` bounds what clients may do;
    `http` ("auto", "h11", "httptools") and `loop` ("auto", "asyncio", "uvloop") choose
    uvicorn's parser and event loop.
    """

    def __init__(
        self,
        emulator: Emulator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        admin_token: str | None = None,
        allowed_hosts: tuple[str, ...] = (),
        limits: Limits | None = None,
        log_level: str = "warning",
        http: str = "auto",
        loop: str = "auto",
    ) -> None:
        self.emulator = emulator or Emulator()
        self.host, self._port, self.tls = host, port, tls
        self.limits = limits or Limits()
        self._admin_token, self._allowed_hosts = admin_token, allowed_hosts
        self._log_level, self._http, self._loop = log_level, http, loop
        self._thread: threading.Thread | None = None
        self._server: _Uvicorn | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._sock: socket.socket | None = None
        self.ca_bundle: Path | None = None
        self.base_url = ""

    @property
    def beyond_loopback(self) -> bool:
        """Whether the server listens on more than this machine's loopback interface."""
        return not is_loopback(self.host)

    @property
    def bound(self) -> str:
        """The address the server listens on, as `host:port` (`[::]:8080`)."""
        return url_for("tcp", self.host, self.port).removeprefix("tcp://")

    def _prepare(self) -> _Uvicorn:
        """Bind, write the TLS material, point the emulator at the served URL; raises
        ServerError (the socket and files are released again)."""
        sock = bind_socket(self.host, self._port)
        self._sock = sock
        try:
            port = sock.getsockname()[1]
            tls_files = None
            reach = reachable_host(self.host)
            if self.tls:
                self._tmp = tempfile.TemporaryDirectory(prefix="m2m-contract-tls-")
                hosts = tuple(dict.fromkeys(("127.0.0.1", "localhost", "::1", reach)))
                tls_files = make_tls_files(Path(self._tmp.name), hosts)
                self.ca_bundle = tls_files.ca_bundle
            self.base_url = url_for("https" if self.tls else "http", reach, port)
            self.emulator.base_url = self.base_url
            self.emulator.admin = AdminAccess(
                token=self._admin_token,
                beyond_loopback=self.beyond_loopback,
                hosts=tuple(h.lower() for h in (self.host, *self._allowed_hosts)),
            )
            app = EmulatorApp(self.emulator, self.limits, self._http)
            config = uvicorn_config(app, tls_files, self._log_level, self._loop)
        except (OSError, ValueError, ImportError) as exc:
            self._release()
            raise ServerError(f"cannot serve on {self.bound}: {exc}") from None
        self._server = _Uvicorn(config, app)
        return self._server

    def start(self) -> EmulatorServer:
        server = self._prepare()
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self._sock]}, name="m2m-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"the emulator did not start on {self.base_url}")
            time.sleep(0.01)
        # Keep the socket open until stop(): uvloop serves a duplicate of it, but asyncio's
        # own loop serves this very socket, so closing it here would stop the server listening.
        return self

    def serve_forever(self, ready: Callable[[EmulatorServer], None] | None = None) -> None:
        """Serve in the calling thread until SIGINT or SIGTERM (from the main thread) or
        `stop()`, then stop cleanly: answers in flight get a few seconds, stalled ones are
        reset, temporary TLS files are removed. `ready(server)` is called once the socket is
        bound and `base_url` known, before the first request is served."""
        server = self._prepare()
        assert self._sock is not None
        # A signal before uvicorn installs its own handlers (while `ready` runs, say) stops
        # the server as soon as it has started, instead of killing the process.
        handled = (signal.SIGINT, signal.SIGTERM)
        main = threading.current_thread() is threading.main_thread()
        early = {sig: signal.signal(sig, server.handle_exit) for sig in handled} if main else {}
        try:
            if ready is not None:
                ready(self)
            server.run(sockets=[self._sock])
        finally:
            for sig, handler in early.items():
                signal.signal(sig, handler)
            self._release()

    def stop(self) -> None:
        server = self._server
        if server is not None:
            server.app.release_stalls()
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=_START_TIMEOUT + _GRACE)
            self._thread = None
            self._release()

    def _release(self) -> None:
        if self._server is not None:
            self._server.app.close()
            self._server = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.cleanup()
            self._tmp = None

    @property
    def port(self) -> int:
        if self._sock is not None:
            return int(self._sock.getsockname()[1])
        return int(self.base_url.rsplit(":", 1)[1]) if self.base_url else self._port

    @property
    def connections(self) -> int:
        """How many connections are open now."""
        return len(self._server.app.connections.opened) if self._server else 0

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
