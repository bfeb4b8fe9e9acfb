"""The command-client protocol of DESIGN.md, played by the reference client.

Read the M2M_* variables, get a token, make M2M_API_CALLS GET requests to M2M_API_URL with it
(starting them M2M_API_INTERVAL_MS apart, at most M2M_API_CONCURRENCY in flight), print one
progress line per call to stderr (never a secret or a token) and return 0 if and only if every
call got a 2xx.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import httpx

from .._protocol import ProtocolSettings
from ._auth import ClientCredentials
from ._deadline import deadline_client
from ._errors import ClientCredentialsError
from ._fetch import build_ssl

PROG = "m2m-contract reference-client"
# Give up on a token endpoint that does not answer well before any scenario's time limit:
# 6 s in all for a token fetch and its retries, at most 4 s for one attempt.
TOKEN_DEADLINE = 6.0
TOKEN_TIMEOUT = 4.0
API_TIMEOUT = 10.0


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
            timeout=TOKEN_TIMEOUT,
            backoff_base=0.5,
        )
        # A CA bundle is checked now; the default CAs are loaded only if https is used.
        verify = build_ssl(settings.ca_bundle) if settings.ca_bundle else True
    except (ValueError, TypeError) as exc:
        _say(f"error: {exc}")
        return 1
    # Each API call (a replay after a 401 included) has API_TIMEOUT seconds in all.
    with deadline_client(API_TIMEOUT, auth=auth, verify=verify) as http:
        if settings.api_concurrency > 1:
            return 0 if _concurrently(http, settings, sleep) else 1
        for number in range(1, settings.api_calls + 1):
            if number > 1 and settings.api_interval_ms:
                sleep(settings.api_interval_ms / 1000)
            if not _call(http, settings, number):
                return 1
    return 0


def _concurrently(
    http: httpx.Client, settings: ProtocolSettings, sleep: Callable[[float], None]
) -> bool:
    """Start the calls M2M_API_INTERVAL_MS apart, at most M2M_API_CONCURRENCY in flight."""
    with ThreadPoolExecutor(settings.api_concurrency, thread_name_prefix="m2m-api") as pool:
        futures = []
        for number in range(1, settings.api_calls + 1):
            if number > 1 and settings.api_interval_ms:
                sleep(settings.api_interval_ms / 1000)
            futures.append(pool.submit(_call, http, settings, number))
        return all([f.result() for f in futures])


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
