"""The reference client next to httpx-auth and Authlib, in one run, on one in-process emulator.

Run (from the repository root)::

    .venv/bin/python bench/client_bench.py

What it measures, for each client:

1. Token fetches for 1,000 concurrent async requests and for 64 threads (one shared client,
   a barrier releases them together). The token endpoint answers after 50 ms, as a real one
   would, so that callers really overlap. Ours and httpx-auth start with no token; Authlib
   cannot start without one (MissingTokenError), so it is given an expired token and its
   automatic client_credentials re-fetch is what is counted. Target for ours: 1 and 1.
2. Per-request cost on a cache hit: the same GET, sync and async, through an httpx client
   whose transport answers the API at once (no emulator, no sockets), with the token already
   cached. Reported as microseconds per request and as overhead over the same client with no
   auth at all (min of several timed runs, timeit style). Target: ours no worse than either.

Token requests go to the emulator through its httpx transport (EmulatorTransport); the count
comes from its journal. Prints a Markdown table and writes bench/results/client.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import json
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from common import describe_machine, dist_version

from m2m_contract.client import ClientCredentials
from m2m_contract.emulator import Emulator, EmulatorTransport, Fault

importlib.import_module("authlib.deprecate")  # it sets Authlib's warnings to "always"...
warnings.simplefilter("ignore")  # ...so this comes after it: Authlib 1.9 warns on the next import
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client  # noqa: E402
from httpx_auth import OAuth2, OAuth2ClientCredentials  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "results" / "client.json"
CLIENT_ID, SECRET, SCOPE = "demo-client", "demo-secret", "read:members"
FETCH_DELAY = 0.05
PEERS = ("m2m-contract", "httpx-auth", "authlib")


class Router(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Token requests to the emulator; API requests answered at once (a cache-hit API)."""

    def __init__(self, emulator: Emulator) -> None:
        self.token = EmulatorTransport(emulator)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return self.token.handle_request(request)
        return httpx.Response(200, content=b"{}", request=request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return await self.token.handle_async_request(request)
        return httpx.Response(200, content=b"{}", request=request)


@dataclass
class Bench:
    emu: Emulator
    router: Router

    @property
    def api(self) -> str:
        return self.emu.api_url

    def fresh(self, delay: float = 0.0) -> None:
        """Empty journal, no faults; every token answer delayed by `delay` from now on."""
        self.emu.reset()
        OAuth2.token_cache.clear()  # httpx-auth keeps tokens in a process-wide cache
        if delay:
            self.emu.add_fault(Fault.delayed("token", delay, times=None))

    def fetches(self) -> int:
        return len(self.emu.journal.token_requests())

    # -- one sync and one async client per library, all on `router` ---------------------

    def sync_client(self, peer: str) -> httpx.Client:
        if peer == "m2m-contract":
            auth = ClientCredentials(self.emu.token_url, CLIENT_ID, SECRET, scope=SCOPE,
                                     transport=self.router.token)
            return httpx.Client(transport=self.router, auth=auth)
        if peer == "httpx-auth":
            return httpx.Client(transport=self.router, auth=self._httpx_auth())
        return OAuth2Client(**self._authlib(), transport=self.router)  # type: ignore[no-any-return]

    def async_client(self, peer: str) -> httpx.AsyncClient:
        if peer == "m2m-contract":
            auth = ClientCredentials(self.emu.token_url, CLIENT_ID, SECRET, scope=SCOPE,
                                     transport=self.router.token)
            return httpx.AsyncClient(transport=self.router, auth=auth)
        if peer == "httpx-auth":
            return httpx.AsyncClient(transport=self.router, auth=self._httpx_auth())
        return AsyncOAuth2Client(**self._authlib(), transport=self.router)  # type: ignore[no-any-return]

    def _httpx_auth(self) -> Any:
        token_client = httpx.Client(transport=self.router.token)
        return OAuth2ClientCredentials(self.emu.token_url, CLIENT_ID, SECRET, scope=SCOPE,
                                       client=token_client)

    def _authlib(self) -> dict[str, Any]:
        expired = {"access_token": "expired", "token_type": "Bearer", "expires_at": 1}
        return {"client_id": CLIENT_ID, "client_secret": SECRET, "scope": SCOPE,
                "token_endpoint_auth_method": "client_secret_post", "token": expired,
                "token_endpoint": self.emu.token_url, "grant_type": "client_credentials"}


# -- 1. token fetches under concurrency ----------------------------------------------------------

def async_fetches(bench: Bench, peer: str, callers: int) -> int:
    bench.fresh(FETCH_DELAY)

    async def run() -> None:
        async with bench.async_client(peer) as http:
            answers = await asyncio.gather(*(http.get(bench.api) for _ in range(callers)))
        assert all(a.status_code == 200 for a in answers)

    asyncio.run(run())
    return bench.fetches()


def thread_fetches(bench: Bench, peer: str, threads: int) -> int:
    bench.fresh(FETCH_DELAY)
    barrier = threading.Barrier(threads)
    with bench.sync_client(peer) as http:

        def call(_: int) -> int:
            barrier.wait()
            return http.get(bench.api).status_code

        with ThreadPoolExecutor(threads) as pool:
            assert set(pool.map(call, range(threads))) == {200}
    return bench.fetches()


# -- 2. cache-hit cost -----------------------------------------------------------------------------
# Every configuration is timed once per round, round after round, and keeps its best round: noise
# from the machine then falls on all of them alike instead of on whichever ran last.

def sync_costs(bench: Bench, number: int, repeat: int) -> dict[str, float]:
    bench.fresh()
    clients = {"none": httpx.Client(transport=bench.router)}
    clients.update({peer: bench.sync_client(peer) for peer in PEERS})
    best = dict.fromkeys(clients, float("inf"))
    for http in clients.values():
        for _ in range(200):  # warm up; fetches the token
            http.get(bench.api)
    for _ in range(repeat):
        for name, http in clients.items():
            started = time.perf_counter()
            for _ in range(number):
                http.get(bench.api)
            best[name] = min(best[name], (time.perf_counter() - started) / number)
    for http in clients.values():
        http.close()
    return best


def auth_step_costs(bench: Bench, number: int, repeat: int) -> dict[str, float]:
    """The auth step alone, on a cache hit: what each library does to one request."""
    bench.fresh()
    clients = {peer: bench.sync_client(peer) for peer in PEERS}
    for http in clients.values():
        http.get(bench.api)  # fetch and cache the token
    request = httpx.Request("GET", bench.api)
    authlib = clients["authlib"]

    def ours_or_httpx_auth(auth: httpx.Auth | None) -> None:
        assert auth is not None
        flow = auth.sync_auth_flow(request)
        next(flow)
        flow.close()

    def authlib_step() -> None:  # what OAuth2Client.request does before sending
        authlib.ensure_active_token(authlib.token)  # type: ignore[attr-defined]
        flow = authlib.token_auth.sync_auth_flow(request)  # type: ignore[attr-defined]
        next(flow)
        flow.close()

    steps = {
        "m2m-contract": lambda: ours_or_httpx_auth(clients["m2m-contract"].auth),
        "httpx-auth": lambda: ours_or_httpx_auth(clients["httpx-auth"].auth),
        "authlib": authlib_step,
    }
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(repeat):
        for name, step in steps.items():
            started = time.perf_counter()
            for _ in range(number):
                step()
            best[name] = min(best[name], (time.perf_counter() - started) / number)
    for http in clients.values():
        http.close()
    return best


def async_costs(bench: Bench, number: int, repeat: int) -> dict[str, float]:
    bench.fresh()

    async def main() -> dict[str, float]:
        clients = {"none": httpx.AsyncClient(transport=bench.router)}
        clients.update({peer: bench.async_client(peer) for peer in PEERS})
        best = dict.fromkeys(clients, float("inf"))
        for http in clients.values():
            for _ in range(200):
                await http.get(bench.api)
        for _ in range(repeat):
            for name, http in clients.items():
                started = time.perf_counter()
                for _ in range(number):
                    await http.get(bench.api)
                best[name] = min(best[name], (time.perf_counter() - started) / number)
        for http in clients.values():
            await http.aclose()
        return best

    return asyncio.run(main())


# -- report ----------------------------------------------------------------------------------------

def measure(number: int, repeat: int, callers: int, threads: int) -> dict[str, Any]:
    emu = Emulator()
    bench = Bench(emu, Router(emu))
    per_step = auth_step_costs(bench, number * 5, repeat)
    per_sync = sync_costs(bench, number, repeat)
    per_async = async_costs(bench, number, repeat)
    results: dict[str, Any] = {}
    for peer in PEERS:
        results[peer] = {
            "fetches_async_1000": async_fetches(bench, peer, callers),
            "fetches_threads_64": thread_fetches(bench, peer, threads),
            "auth_step_us": _us(per_step[peer]),
            "sync_us_per_request": _us(per_sync[peer]),
            "sync_overhead_us": _us(per_sync[peer] - per_sync["none"]),
            "async_us_per_request": _us(per_async[peer]),
            "async_overhead_us": _us(per_async[peer] - per_async["none"]),
        }
    return {
        "baseline_no_auth": {"sync_us_per_request": _us(per_sync["none"]),
                             "async_us_per_request": _us(per_async["none"])},
        "clients": results,
    }


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 1)


def table(data: dict[str, Any], callers: int, threads: int) -> str:
    base = data["baseline_no_auth"]
    lines = [
        f"| client | token fetches, {callers} async requests | token fetches, {threads} threads"
        " | auth step on a cache hit (µs) | sync GET (µs) | async GET (µs) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for peer, r in data["clients"].items():
        lines.append(
            f"| {peer} | {r['fetches_async_1000']} | {r['fetches_threads_64']} "
            f"| {r['auth_step_us']} | {r['sync_us_per_request']} | {r['async_us_per_request']} |"
        )
    lines.append(f"| *no auth (httpx alone)* | - | - | - | {base['sync_us_per_request']} "
                 f"| {base['async_us_per_request']} |")
    return "\n".join(lines)


def verdict(data: dict[str, Any]) -> dict[str, bool]:
    ours, peers = data["clients"]["m2m-contract"], [
        r for p, r in data["clients"].items() if p != "m2m-contract"]
    return {
        "one_fetch_async": ours["fetches_async_1000"] == 1,
        "one_fetch_threads": ours["fetches_threads_64"] == 1,
        "auth_step_no_worse": all(ours["auth_step_us"] <= p["auth_step_us"] for p in peers),
        "cache_hit_sync_no_worse": all(
            ours["sync_us_per_request"] <= p["sync_us_per_request"] for p in peers),
        "cache_hit_async_no_worse": all(
            ours["async_us_per_request"] <= p["async_us_per_request"] for p in peers),
    }


def versions() -> dict[str, Any]:
    """The machine (bench/common.py) and the peers' versions."""
    found = describe_machine()
    for dist in ("httpx-auth", "Authlib"):
        found[dist] = dist_version(dist)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--number", type=int, default=5000, help="requests per timed run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (the best is kept)")
    parser.add_argument("--callers", type=int, default=1000, help="concurrent async requests")
    parser.add_argument("--threads", type=int, default=64, help="concurrent threads")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="JSON results file")
    args = parser.parse_args(argv)
    data = measure(args.number, args.repeat, args.callers, args.threads)
    report = {
        "benchmark": "client",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(["python bench/client_bench.py", *(argv or sys.argv[1:])]),
        "machine": versions(),
        "settings": {"number": args.number, "repeat": args.repeat, "callers": args.callers,
                     "threads": args.threads, "token_delay_s": FETCH_DELAY},
        **data,
        "targets_met": verdict(data),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(table(data, args.callers, args.threads))
    print()
    print("targets met:", ", ".join(f"{k}={v}" for k, v in report["targets_met"].items()))
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
