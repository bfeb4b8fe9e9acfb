"""`m2m-contract serve`: run the emulator in the foreground until interrupted."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

import uvicorn

from ..emulator import Emulator, EmulatorApp, KeyFileError, KeySet, TenantConfigError, load_tenant
from ..emulator._server import ServerError, bind_socket, make_tls_files, url_for, uvicorn_config


def _fail(message: str) -> int:
    print(f"m2m-contract serve: {message}", file=sys.stderr)
    return 2


def _keys(path: str | None) -> KeySet | None:
    if path is None:
        return None
    file = Path(path)
    if file.exists():
        return KeySet.from_pem_file(file)
    keys = KeySet.generate()
    try:
        keys.write_pem_file(file)
    except OSError as exc:
        raise KeyFileError(f"{file}: cannot write the key file ({exc.strerror})") from None
    return keys


def serve(args: argparse.Namespace) -> int:
    try:
        tenant = load_tenant(args.config) if args.config else None
        keys = _keys(args.keys)
    except (TenantConfigError, KeyFileError) as exc:
        return _fail(str(exc))
    if args.journal_size < 1:
        return _fail("--journal-size must be at least 1")
    if not 0 <= args.port <= 65535:
        return _fail("--port must be from 0 to 65535")
    try:
        sock = bind_socket(args.host, args.port)
    except ServerError as exc:
        return _fail(str(exc))
    emulator = Emulator(tenant, keys=keys, journal_size=args.journal_size)
    if args.issuer:
        emulator.tenant = dataclasses.replace(emulator.tenant, issuer=args.issuer)
    with tempfile.TemporaryDirectory(prefix="m2m-contract-tls-") as tmp:
        tls = make_tls_files(Path(tmp)) if args.tls else None
        url = url_for("https" if tls else "http", args.host, sock.getsockname()[1])
        emulator.base_url = url
        print(f"m2m-contract emulator listening on {url}", flush=True)
        print(f"  token endpoint: {emulator.token_url}", flush=True)
        print(f"  issuer:         {emulator.issuer}", flush=True)
        if tls:
            print(f"  CA bundle:      {tls.ca_bundle}", flush=True)
        if tenant is None:
            print("  tenant:         built-in (client demo-client / demo-secret)", flush=True)
        # Token requests are signed on worker threads (the GIL is released while signing);
        # a short switch interval keeps the event loop from waiting 5 ms for the GIL.
        sys.setswitchinterval(0.0005)
        config = uvicorn_config(emulator, tls, args.log_level)
        try:
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            if isinstance(config.app, EmulatorApp):
                config.app.close()
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve the Auth0 emulator over HTTP(S)",
        description="Serve the Auth0 emulator (token endpoint, JWKS, discovery, protected API, "
        "admin API on loopback) until interrupted.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="port (0 picks a free one; default %(default)s)"
    )
    parser.add_argument(
        "--config", metavar="FILE", help="tenant TOML file (default: the built-in demo tenant)"
    )
    parser.add_argument(
        "--keys",
        metavar="FILE",
        help="PEM file of RSA private keys (written if absent) for stable tokens",
    )
    parser.add_argument(
        "--issuer", help="the iss claim (default: the served URL with a trailing slash)"
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a throwaway CA; its bundle path is printed",
    )
    parser.add_argument(
        "--journal-size",
        type=int,
        default=10_000,
        help="exchanges kept in the journal (default %(default)s)",
    )
    parser.add_argument(
        "--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.set_defaults(run=serve)
