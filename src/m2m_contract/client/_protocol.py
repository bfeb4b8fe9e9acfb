"""The command-client protocol of DESIGN.md, played by the reference client.

Read the M2M_* variables, get a token, make M2M_API_CALLS GET requests to M2M_API_URL with it
(M2M_API_INTERVAL_MS apart), print one progress line per call to stderr (never a secret or a
token) and return 0 if and only if every call got a 2xx.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from ._auth import ClientCredentials
from ._errors import ClientCredentialsError
from ._fetch import build_ssl

PROG = "m2m-contract reference-client"
# The conformance runner kills a client after 30 s; give up on a token well before that.
TOKEN_DEADLINE = 15.0
API_TIMEOUT = 10.0


class SettingsError(ValueError):
    """A missing or unusable M2M_* variable."""


@dataclass(frozen=True)
class ProtocolSettings:
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str
    audience: str
    api_url: str
    api_calls: int = 1
    api_interval_ms: int = 0
    ca_bundle: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProtocolSettings:
        """Read the protocol's variables; raise SettingsError naming the one that is wrong."""
        missing = [
            name
            for name in ("M2M_TOKEN_URL", "M2M_CLIENT_ID", "M2M_CLIENT_SECRET", "M2M_API_URL")
            if not env.get(name)
        ]
        if missing:
            raise SettingsError(f"set {', '.join(missing)} (see the command-client protocol)")
        return cls(
            token_url=env["M2M_TOKEN_URL"],
            client_id=env["M2M_CLIENT_ID"],
            client_secret=env["M2M_CLIENT_SECRET"],
            scope=env.get("M2M_SCOPE", ""),
            audience=env.get("M2M_AUDIENCE", ""),
            api_url=env["M2M_API_URL"],
            api_calls=_count(env, "M2M_API_CALLS", 1),
            api_interval_ms=_count(env, "M2M_API_INTERVAL_MS", 0),
            ca_bundle=env.get("M2M_CA_BUNDLE") or None,
        )


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise SettingsError(f"{name} must be a whole number >= 0, not {raw[:20]!r}")
    return int(raw)


def run_protocol(
    env: Mapping[str, str] | None = None, *, sleep: Callable[[float], None] = time.sleep
) -> int:
    """Play the command-client protocol with `env` (default: os.environ); return the exit status."""
    environment = os.environ if env is None else env
    try:
        settings = ProtocolSettings.from_env(environment)
        auth = ClientCredentials(
            settings.token_url,
            settings.client_id,
            settings.client_secret,
            scope=settings.scope or None,
            audience=settings.audience or None,
            ca_bundle=settings.ca_bundle,
            deadline=TOKEN_DEADLINE,
        )
        verify = build_ssl(settings.ca_bundle or True)
    except (ValueError, TypeError) as exc:
        _say(f"error: {exc}")
        return 1
    with httpx.Client(auth=auth, verify=verify, timeout=API_TIMEOUT) as http:
        for number in range(1, settings.api_calls + 1):
            if number > 1 and settings.api_interval_ms:
                sleep(settings.api_interval_ms / 1000)
            if not _call(http, settings, number):
                return 1
    return 0


def _call(http: httpx.Client, settings: ProtocolSettings, number: int) -> bool:
    label = f"API call {number}/{settings.api_calls}"
    started = time.monotonic()
    try:
        response = http.get(settings.api_url)
    except ClientCredentialsError as exc:
        _say(f"{label}: no token: {exc}")
        return False
    except httpx.HTTPError as exc:
        _say(f"{label}: the API gave no answer ({type(exc).__name__})")
        return False
    elapsed = (time.monotonic() - started) * 1000
    ok = response.is_success
    _say(f"{label}: {response.status_code} {response.reason_phrase} ({elapsed:.0f} ms)"
         + ("" if ok else "; giving up"))
    return ok


def _say(line: str) -> None:
    # sys.stderr is looked up per call: the conformance runner swaps it to capture threads.
    print(f"{PROG}: {line}", file=sys.stderr, flush=True)
