"""`m2m-contract serve`: run the emulator in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import re
import sys
from pathlib import Path

from ..emulator import (
    Emulator,
    EmulatorServer,
    KeyFileError,
    KeySet,
    Limits,
    ServerError,
    TenantConfigError,
    load_tenant,
)

TOKEN_ENV = "M2M_ADMIN_TOKEN"
_TOKEN = re.compile(r"[\x21-\x7e]{16,512}")  # printable ASCII, no spaces: a bearer credential
_LOG_LEVELS = ["critical", "error", "warning", "info", "debug"]
_EPILOG = """\
The admin API (/__admin/) answers loopback clients only. Listening beyond loopback
(--host 0.0.0.0, ::, or another address), it needs an admin token, sent as
"Authorization: Bearer <token>"; without one it is off. Prefer the M2M_ADMIN_TOKEN
environment variable to --admin-token: other users of the machine can read a command line.

exit status:
  0  stopped by SIGINT (Ctrl+C) or SIGTERM, temporary files removed
  2  usage or setup error: a bad option, an unusable tenant or key file, a busy port
"""


def _fail(message: str) -> int:
    print(f"m2m-contract serve: {message}", file=sys.stderr)
    return 2


def _keys(path: str | None) -> KeySet | None:
    """The key file's keys (written, owner-only, when absent); a next key is added in
    memory to a file holding only one, as Auth0 always publishes two."""
    if path is None:
        return None
    file = Path(path)
    if file.exists():
        keys = KeySet.from_pem_file(file)
        keys.ensure_next()
        return keys
    keys = KeySet.generate()
    try:
        keys.write_pem_file(file)
    except OSError as exc:
        raise KeyFileError(f"{file}: cannot write the key file ({exc.strerror})") from None
    return keys


def _banner(server: EmulatorServer, builtin: bool) -> None:
    emulator = server.emulator
    lines = [f"m2m-contract emulator listening on {server.base_url}"]
    if server.bound != server.base_url.split("://", 1)[1]:
        lines.append(f"  bound to:       {server.bound}")
    lines += [f"  token endpoint: {emulator.token_url}", f"  issuer:         {emulator.issuer}"]
    if server.ca_bundle is not None:
        lines.append(f"  CA bundle:      {server.ca_bundle}")
    if builtin:
        lines.append("  tenant:         built-in (client demo-client / demo-secret)")
    if emulator.admin.token is not None:
        lines.append("  admin API:      needs Authorization: Bearer <admin token>")
    elif server.beyond_loopback:
        lines.append("  admin API:      off (listening beyond loopback without an admin token)")
    else:
        lines.append("  admin API:      loopback clients only")
    print("\n".join(lines), flush=True)


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
    if args.max_connections < 1:
        return _fail("--max-connections must be at least 1")
    token = args.admin_token or os.environ.get(TOKEN_ENV) or None
    if token is not None and not _TOKEN.fullmatch(token):
        return _fail(
            "the admin token must be 16 to 512 printable ASCII characters without spaces"
        )
    emulator = Emulator(tenant, keys=keys, journal_size=args.journal_size)
    if args.issuer:
        emulator.tenant = dataclasses.replace(emulator.tenant, issuer=args.issuer)
    server = EmulatorServer(
        emulator,
        host=args.host,
        port=args.port,
        tls=args.tls,
        admin_token=token,
        limits=Limits(max_connections=args.max_connections),
        log_level=args.log_level,
    )
    # Token requests are signed on worker threads (the GIL is released while signing);
    # a short switch interval keeps the event loop from waiting 5 ms for the GIL.
    sys.setswitchinterval(0.0005)

    def ready(served: EmulatorServer) -> None:
        _banner(served, tenant is None)
        # Everything loaded by now lives as long as the process: the collector need not walk
        # it again in every full collection (each one a pause in some answer).
        gc.collect()
        gc.freeze()

    try:
        server.serve_forever(ready=ready)
    except ServerError as exc:
        return _fail(str(exc))
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve the Auth0 emulator over HTTP(S)",
        description="Serve the Auth0 emulator (token endpoint, JWKS, discovery, protected API, "
        "admin API) in the foreground until SIGINT (Ctrl+C) or SIGTERM. The first line "
        "printed is the URL to use.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default %(default)s); 0.0.0.0 or :: listens on every "
        "address, and the URL printed is then a loopback one",
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
        help="PEM file of RSA private keys, for tokens that verify across runs (written, "
        "readable by its owner only, when absent)",
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
        "--admin-token",
        metavar="TOKEN",
        help=f"bearer token the admin API requires (default: ${TOKEN_ENV}); needed to use "
        "it when listening beyond loopback",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=Limits().max_connections,
        metavar="N",
        help="open connections at most (default %(default)s, fewer if ulimit -n is lower); "
        "at the cap the oldest idle one is closed, or a new one gets 503",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=_LOG_LEVELS,
        help="uvicorn's log level (default %(default)s); no access log is ever written, as "
        "URLs may carry secrets",
    )
    parser.set_defaults(run=serve)
