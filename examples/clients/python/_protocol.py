"""The command-client protocol, shared by the Python adapters so that each shows only its library.

An adapter reads the M2M_* variables with `settings()`, configures its library once, and hands
`run_calls` a function that makes one API call through that shared client and returns the HTTP
status. `run_calls` makes M2M_API_CALLS calls with at most M2M_API_CONCURRENCY in flight (one
thread per slot, all sharing the one configured client, as an application's workers would) and
M2M_API_INTERVAL_MS between a worker's calls, and returns the exit status: 0 iff every call got
a 2xx. Nothing here retries, caches or validates: that is the library's job, or the finding.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

_JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*")


@dataclass(frozen=True)
class Settings:
    token_url: str
    client_id: str
    client_secret: str
    scopes: list[str]  # empty: request no scope
    audience: str  # empty: send none
    api_url: str
    calls: int
    interval_s: float
    concurrency: int
    fix: bool  # M2M_ADAPTER_FIX=1: the adapter's documented fix is applied

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)

    @property
    def origin(self) -> str:
        """scheme://host:port of the token URL, for libraries configured with a domain."""
        parts = urlsplit(self.token_url)
        return f"{parts.scheme}://{parts.netloc}"


def settings() -> Settings:
    env = os.environ
    return Settings(
        token_url=env["M2M_TOKEN_URL"],
        client_id=env["M2M_CLIENT_ID"],
        client_secret=env["M2M_CLIENT_SECRET"],
        scopes=env.get("M2M_SCOPE", "").split(),
        audience=env.get("M2M_AUDIENCE", ""),
        api_url=env["M2M_API_URL"],
        calls=int(env.get("M2M_API_CALLS") or 1),
        interval_s=int(env.get("M2M_API_INTERVAL_MS") or 0) / 1000,
        concurrency=max(1, int(env.get("M2M_API_CONCURRENCY") or 1)),
        fix=env.get("M2M_ADAPTER_FIX") == "1",
    )


def report(what: str, exc: BaseException) -> None:
    """Print an error the way an application log would, without the secret or a token."""
    text = f"{what}: {type(exc).__name__}: {exc}"
    secret = os.environ.get("M2M_CLIENT_SECRET", "")
    if secret:
        text = text.replace(secret, "***")
    print(_JWT.sub("***", text)[:300], file=sys.stderr)


def run_calls(s: Settings, call: Callable[[], int]) -> int:
    """Make the protocol's API calls through `call`; the exit status."""
    statuses: list[int] = []
    lock = threading.Lock()
    counter = iter(range(s.calls))

    def worker() -> None:
        first = True
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            if not first and s.interval_s:
                time.sleep(s.interval_s)
            first = False
            try:
                status = call()
            except Exception as exc:  # a library error ends this call, as it would a request
                report(f"API call {index + 1}", exc)
                status = 0
            print(f"API call {index + 1}: {status or 'error'}", flush=True)
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=worker) for _ in range(min(s.concurrency, s.calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 0 if len(statuses) == s.calls and all(200 <= x < 300 for x in statuses) else 1


def main(adapter: Callable[[Settings], Callable[[], int]]) -> None:
    """Configure the adapter's client (getting its first token if it does so), then call."""
    s = settings()
    try:
        call = adapter(s)
    except Exception as exc:
        report("token", exc)
        sys.exit(1)
    sys.exit(run_calls(s, call))
