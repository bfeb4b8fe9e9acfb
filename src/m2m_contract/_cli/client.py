"""`m2m-contract token` and `m2m-contract reference-client`.

The secret never comes from argv (process lists show it): only from M2M_CLIENT_SECRET or
--client-secret-file (a path, or - for stdin). Errors are one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register both subcommands on the `m2m-contract` parser."""
    _add_token(sub)
    _add_reference_client(sub)


def _add_token(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    env = "(default: $%s)"
    parser = sub.add_parser(
        "token",
        help="get an access token and print it",
        description="Get an access token with the client credentials grant and print it on "
        "stdout. The secret is read from $M2M_CLIENT_SECRET or --client-secret-file, never "
        "from the command line.",
        epilog="exit status: 0 token printed; 1 any error, missing settings included (one line on "
        "stderr); 2 a malformed command line",
        allow_abbrev=False,  # `--client-secret X` must not pass for --client-secret-file X
    )
    parser.add_argument("--token-url", metavar="URL", help=env % "M2M_TOKEN_URL")
    parser.add_argument("--client-id", metavar="ID", help=env % "M2M_CLIENT_ID")
    parser.add_argument(
        "--client-secret-file",
        metavar="FILE",
        help="read the secret from FILE ('-' for stdin); default: $M2M_CLIENT_SECRET",
    )
    parser.add_argument("--client-secret", nargs="?", action=_RefuseSecret, help=argparse.SUPPRESS)
    parser.add_argument(
        "--scope",
        action="append",
        metavar="SCOPE",
        help="scope(s) to ask for, space-separated or repeated " + env % "M2M_SCOPE",
    )
    parser.add_argument("--audience", metavar="AUDIENCE", help=env % "M2M_AUDIENCE")
    parser.add_argument("--ca-bundle", metavar="FILE", help=env % "M2M_CA_BUNDLE")
    parser.add_argument(
        "--form", action="store_true", help="send a form body instead of JSON (other tenants)"
    )
    parser.add_argument(
        "--basic", action="store_true", help="authenticate with HTTP Basic instead of the body"
    )
    parser.add_argument(
        "--deadline", type=float, default=30.0, metavar="SECONDS",
        help="give up after this long, retries included (default %(default)s)",
    )
    parser.set_defaults(run=_token)


class _RefuseSecret(argparse.Action):
    """A secret on the command line is visible to every user of the machine: refuse it, and
    do not echo it back as argparse's "unrecognized arguments" would."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        parser.error("the secret is never taken from the command line (process lists show "
                     "it): set M2M_CLIENT_SECRET or use --client-secret-file FILE (- for stdin)")


def _add_reference_client(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "reference-client",
        help="run the reference client under the command-client protocol",
        description="Read M2M_TOKEN_URL, M2M_CLIENT_ID, M2M_CLIENT_SECRET, M2M_SCOPE, "
        "M2M_AUDIENCE, M2M_API_URL, M2M_API_CALLS, M2M_API_INTERVAL_MS and M2M_CA_BUNDLE; get a "
        "token; call the API M2M_API_CALLS times with it.",
        epilog="exit status: 0 every API call got a 2xx, 1 otherwise",
    )
    parser.set_defaults(run=_reference_client)


def _reference_client(args: argparse.Namespace) -> int:
    from ..client import run_protocol  # imported by the commands that use it, only

    return run_protocol(os.environ)


def _token(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    from ..client import ClientCredentials, ClientCredentialsError

    environment = os.environ if env is None else env
    try:
        secret = _secret(args.client_secret_file, environment)
        token_url = args.token_url or environment.get("M2M_TOKEN_URL", "")
        client_id = args.client_id or environment.get("M2M_CLIENT_ID", "")
        if not token_url or not client_id:
            raise ValueError("give --token-url and --client-id (or set M2M_TOKEN_URL and "
                             "M2M_CLIENT_ID)")
        scope = args.scope if args.scope is not None else environment.get("M2M_SCOPE") or None
        auth = ClientCredentials(
            token_url,
            client_id,
            secret,
            scope=scope,
            audience=args.audience or environment.get("M2M_AUDIENCE") or None,
            ca_bundle=args.ca_bundle or environment.get("M2M_CA_BUNDLE") or None,
            body_encoding="form" if args.form else "json",
            auth_method="client_secret_basic" if args.basic else "client_secret_post",
            deadline=args.deadline,
        )
        token = auth.get_token()
    except (ClientCredentialsError, ValueError, TypeError, OSError) as exc:
        print(f"m2m-contract token: error: {exc}", file=sys.stderr)
        return 1
    print(token.access_token)
    return 0


def _secret(path: str | None, env: Mapping[str, str]) -> str:
    if path is None:
        secret = env.get("M2M_CLIENT_SECRET", "")
        if not secret:
            raise ValueError("set M2M_CLIENT_SECRET or give --client-secret-file FILE "
                             "(the secret is never taken from the command line)")
        return secret
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except OSError as exc:
        # Not quoting the path: a secret typed where the path belongs would be echoed.
        raise ValueError(f"cannot read --client-secret-file ({exc.strerror})") from None
    secret = text.strip("\r\n")
    if not secret:
        raise ValueError(f"the secret file {'(stdin)' if path == '-' else path!r} is empty")
    return secret
