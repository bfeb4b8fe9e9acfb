"""`m2m-contract cassettes check [DIR]`: the cassette hygiene check, for a partner's CI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
Search every file under DIR (default: cassettes), or the one file DIR names, for what the
live suite's scrubber removes before writing: secrets and tokens under secret or token keys
at any depth and in any case style (client_secret, clientSecret, access_token, idToken,
refresh_token, password, apiKey...), credential headers (Authorization, X-Api-Key, any header
named like a secret or token) and credential cookies (Cookie, Set-Cookie), Bearer and Basic
credentials, signed JWTs anywhere, the password of a URL's user:password@, and token-shaped
values in URL query keys and values and in Location headers. A VCR.py cassette is read as
the traffic it replays: every header, the URL and the body, decoded first (YAML !!binary,
escaped JSON, JSON and +json, forms, multipart, and gzip, x-gzip, deflate, br, zstd and
stacked codings); a body that cannot be decoded, or a cassette that cannot be parsed, is a
finding. Findings name the file and the place, never the value.

Placeholders are allowed: a value that starts with REDACTED (REDACTED-demo-token), a mask
(xxxx, ****), <token>, {{token}}, ${TOKEN}, YOUR_CLIENT_SECRET, or one of PLACEHOLDERS in
m2m_contract/_secrets.py (add a spelling there to allow it); a JWT whose signature reads
REDACTED is allowed too (its header and claims are no secret).

Exit status: 0 clean, 1 findings, 2 no such directory."""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "cassettes",
        help="check recorded cassettes for secrets, credentials and signed tokens",
        description="Commands for the live suite's recorded traffic.",
    )
    commands = parser.add_subparsers(dest="cassettes_command", metavar="COMMAND", required=True)
    check = commands.add_parser(
        "check",
        help="fail if any cassette holds a secret, a credential or a usable token",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("directory", nargs="?", default="cassettes", metavar="DIR")
    check.set_defaults(run=_check)


def _check(args: argparse.Namespace) -> int:
    from ..live import check_cassettes, check_file  # here: other commands need none of it

    target = Path(args.directory)
    if target.is_file():
        findings, count = check_file(target), 1
    elif target.is_dir():
        findings = check_cassettes(target)
        count = sum(1 for p in target.rglob("*") if p.is_file())
    else:
        print(f"m2m-contract cassettes check: no such directory: {target}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    if findings:
        files = len({f.path for f in findings})
        print(
            f"{len(findings)} finding(s) in {files} file(s): remove the cassette(s) and record "
            "again with the scrubbing live suite (docs/live.md)"
        )
        return 1
    print(f"{target}: {count} file(s) checked; no signed token, secret or credential found")
    return 0
