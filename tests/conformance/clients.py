"""Python clients for the conformance runner: a plain good one and its broken variants.

`run(env)` plays the command-client protocol correctly unless `M2M_KNOBS` (in `env`) turns a
knob, e.g. `M2M_KNOBS="cache=False,body=form"`; every default is the correct behaviour. The
mutation tests (test_mutants.py) break one clause at a time; the determinism tests give the
client coarse or skewed clocks (`clock=floor|round|ceil`, `margin`, `late`).
"""

from __future__ import annotations

import json
import math
import ssl
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from m2m_contract.harness import CommandRunner


@dataclass(frozen=True)
class Knobs:
    """How the plain client behaves; every default is the correct behaviour."""

    body: str = "json"  # json | form | array-scope | comma-scope | query-secret
    scope_sep: str = "space"  # space | comma: what separates scopes
    grant_type: str | None = "client_credentials"
    cache: bool = True
    refresh_grant_after_expiry: bool = False
    refetch_on_expiry: bool = True
    scheme: str = "Bearer"  # or "token_type": present the token with the answer's token_type
    bearer_junk_on_bad_response: bool = False
    accept_any_token_type: bool = False
    print_secret: bool = False
    print_token: bool = False
    retry_on_401_token: int = 0
    honour_retry_after: bool = True
    retry_api_401: str = "refetch"  # refetch | same-token | storm | none
    api_call_despite_failure: bool = False
    basic_and_body: bool = False
    extra_params: str = ""  # a parameter name to add, e.g. password
    scope_override: str | None = None
    send_audience: bool = True
    audience_on_refetch: bool = True
    wrong_path: bool = False
    concurrency: str = "honour"  # honour | ignore | per-thread (a token cache per thread)
    verify_tls: bool = True
    follow_redirects: bool = False
    timeout: float | None = 5.0  # None: wait for ever
    network_error: str = "fail"  # fail | junk (present 'Bearer None') | exit0
    no_request: bool = False  # exit before doing anything (a client that never ran)
    clock: str = "precise"  # precise | floor | round | ceil: how receipt time is kept
    margin: float = 0.2  # refresh this long before expiry (negative: late)
    backoff: float = 0.3  # wait this long (times the attempt) after a 5xx
    api_path_suffix: str = ""  # appended to M2M_API_URL as is (e.g. %0A: a decoded newline)
    discovery_first: bool = False  # read the discovery document first, as openid-client does
    basic_after_429: bool = False  # retry a 429 at once with HTTP Basic (as x/oauth2 does)
    leak: str = ""  # a way to leak the secret or a token (see LEAKS in test_leaks.py)


class _Failed(Exception):
    pass


def parse_knobs(spec: str) -> Knobs:
    """`name=value,...` into Knobs (True/False/None/numbers understood)."""
    types = {f.name: f.type for f in fields(Knobs)}
    changes: dict[str, Any] = {}
    for part in filter(None, spec.split(",")):
        name, _, raw = part.partition("=")
        if name not in types:
            raise ValueError(f"unknown knob {name!r}")
        changes[name] = _value(raw)
    return replace(Knobs(), **changes)


def _value(text: str) -> object:
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _stamp(clock: str) -> Callable[[float], float]:
    """How the client keeps the time it got the token: exactly, or in whole seconds."""
    rounding: dict[str, Callable[[float], float]] = {
        "floor": math.floor,
        "round": round,
        "ceil": math.ceil,
    }
    return rounding.get(clock, float)


class _Client:
    """The protocol played with one httpx client and one token cache (or one per thread)."""

    def __init__(self, env: Mapping[str, str], k: Knobs) -> None:
        self.env, self.k = env, k
        bundle = env.get("M2M_CA_BUNDLE")
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=bundle) if bundle else True
        )
        self.http = httpx.Client(
            verify=verify if k.verify_tls else False,
            timeout=k.timeout,
            follow_redirects=k.follow_redirects,
        )
        self.lock = threading.Lock()
        self.local = threading.local()
        self.shared: dict[str, Any] = {"token": None, "expires": 0.0, "refresh": None}
        self.fetched = 0
        self.basic = False
        if k.discovery_first:
            base = env["M2M_TOKEN_URL"].rsplit("/oauth/token", 1)[0]
            self.http.get(f"{base}/.well-known/openid-configuration")

    def state(self) -> dict[str, Any]:
        if self.k.concurrency != "per-thread":
            return self.shared
        if not hasattr(self.local, "state"):
            self.local.state = {"token": None, "expires": 0.0, "refresh": None}
        return self.local.state  # type: ignore[no-any-return]

    def request_token(self, grant: str) -> httpx.Response:
        env, k = self.env, self.k
        scope = env["M2M_SCOPE"] if k.scope_override is None else k.scope_override
        body: dict[str, Any] = {
            "client_id": env["M2M_CLIENT_ID"],
            "client_secret": env["M2M_CLIENT_SECRET"],
        }
        if k.grant_type is not None:
            body["grant_type"] = k.grant_type if grant == "client_credentials" else grant
        if scope:
            body["scope"] = ",".join(scope.split()) if k.scope_sep == "comma" else scope
        if (
            env.get("M2M_AUDIENCE")
            and k.send_audience
            and (k.audience_on_refetch or not self.fetched)
        ):
            body["audience"] = env["M2M_AUDIENCE"]
        if k.extra_params:
            body[k.extra_params] = "hunter2"
        url = env["M2M_TOKEN_URL"]
        if k.wrong_path:
            url = url.replace("/oauth/token", "/token")
        headers = {}
        if self.basic:
            body.pop("client_secret")
            headers["Authorization"] = httpx.BasicAuth(
                env["M2M_CLIENT_ID"], env["M2M_CLIENT_SECRET"]
            )._auth_header
        if k.basic_and_body:
            headers["Authorization"] = httpx.BasicAuth(
                env["M2M_CLIENT_ID"], env["M2M_CLIENT_SECRET"]
            )._auth_header
        self.fetched += 1
        if k.body == "form":
            return self.http.post(url, data=body, headers=headers)
        if k.body == "array-scope" and scope:
            body["scope"] = scope.split()
        if k.body == "comma-scope" and scope:
            body["scope"] = ",".join(scope.split())
        if k.body == "query-secret" or k.leak == "token-url-query-value":
            url += f"?client_secret={env['M2M_CLIENT_SECRET']}"
        if k.leak == "token-url-query-key":
            url += f"?{env['M2M_CLIENT_SECRET']}=1"
        if k.leak == "token-request-header":
            headers["X-Client-Secret"] = env["M2M_CLIENT_SECRET"]
        headers["content-type"] = "application/json"
        return self.http.post(url, content=json.dumps(body), headers=headers)

    def fetch(self, grant: str = "client_credentials") -> tuple[str, str]:
        k = self.k
        for attempt in range(6):
            sent = time.time()
            try:
                resp = self.request_token(grant)
            except httpx.TimeoutException:
                raise _Failed("the token endpoint did not answer in time") from None
            except httpx.TransportError:
                if k.network_error == "fail" and attempt < 3:
                    time.sleep(0.2)
                    continue
                if k.network_error in ("junk", "exit0"):
                    raise _Junk(k.network_error) from None
                raise _Failed("the token endpoint gave no answer") from None
            if resp.status_code == 429 and attempt < 3:
                if k.basic_after_429:
                    self.basic = True
                    continue
                if k.honour_retry_after:  # until Retry-After has passed, on this client's clock
                    until = _stamp(k.clock)(time.time()) + float(resp.headers["retry-after"])
                    time.sleep(max(0.0, until - time.time()))
                continue
            if resp.status_code >= 500 and attempt < 3:
                time.sleep(k.backoff * (attempt + 1))
                continue
            if resp.status_code in (401, 403) and attempt < k.retry_on_401_token:
                continue
            break
        try:
            data = resp.json()
        except ValueError:
            data = {}
        token = data.get("access_token") if isinstance(data, dict) else None
        token_type = str(data.get("token_type", "")) if isinstance(data, dict) else ""
        ok = (
            resp.status_code == 200
            and isinstance(token, str)
            and (k.accept_any_token_type or token_type.lower() == "bearer")
        )
        if not ok:
            if k.bearer_junk_on_bad_response or k.api_call_despite_failure:
                return str(token), "Bearer"
            raise _Failed(f"token request failed with {resp.status_code}")
        state = self.state()
        state["expires"] = _stamp(k.clock)(sent) + float(data.get("expires_in", 0))
        state["refresh"] = data.get("refresh_token")
        if k.print_token:
            print("token:", token)
        scheme = token_type if k.scheme == "token_type" else k.scheme
        return str(token), scheme

    def token(self) -> tuple[str, str]:
        k = self.k
        with self.lock if k.concurrency == "honour" else _NoLock():
            state = self.state()
            expired = time.time() >= state["expires"] - k.margin
            if state["token"] is None or not k.cache or (expired and k.refetch_on_expiry):
                if state["refresh"] and k.refresh_grant_after_expiry:
                    state["token"] = self.fetch("refresh_token")
                else:
                    state["token"] = self.fetch()
            return state["token"]  # type: ignore[no-any-return]

    def _elsewhere(self, leak: str, token: str, headers: dict[str, str], body: str) -> None:
        """Send a `discovery-` leak to the discovery document, a `token-request-bearer` one
        as a (second, valid) token request."""
        if leak == "token-request-bearer":
            creds = {"client_id": self.env["M2M_CLIENT_ID"],
                     "client_secret": self.env["M2M_CLIENT_SECRET"],
                     "grant_type": "client_credentials"}
            self.http.post(self.env["M2M_TOKEN_URL"], json=creds, headers=headers)
            return
        base = self.env["M2M_TOKEN_URL"].rsplit("/oauth/token", 1)[0]
        url = base + "/.well-known/openid-configuration"
        self.http.request("POST" if body else "GET", url, content=body or None, headers=headers)

    def forget(self) -> None:
        self.state()["token"] = None

    def call(self) -> bool:
        k = self.k
        token, scheme = self.token()
        url = self.env["M2M_API_URL"] + k.api_path_suffix
        headers, body, cookies = _api_leak(k.leak, self.env["M2M_CLIENT_SECRET"], token)
        if k.leak.startswith(("discovery-", "token-request-bearer")):
            self._elsewhere(k.leak, token, headers, body)
            headers, body = {}, ""
        if k.leak.startswith("api-query"):
            url += "?" + headers.pop("query")
        resp = self.http.request(
            "POST" if body else "GET",
            url,
            content=body or None,
            cookies=cookies,
            headers={"Authorization": f"{scheme} {token}", **headers},
        )
        _print_leak(k.leak, self.env["M2M_CLIENT_SECRET"], token)
        tries = 0
        while (
            resp.status_code == 401
            and k.retry_api_401 != "none"
            and tries < (8 if k.retry_api_401 == "storm" else 1)
        ):
            tries += 1
            if k.retry_api_401 in ("refetch", "storm"):
                self.forget()
            token, scheme = self.token()
            resp = self.http.get(url, headers={"Authorization": f"{scheme} {token}"})
        return resp.is_success


class _Junk(Exception):
    pass


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def _api_leak(
    leak: str, secret: str, token: str
) -> tuple[dict[str, str], str, dict[str, str]]:
    """(headers, body, cookies) that carry the secret or the token, as `leak` says (to the
    API, or for a `discovery-` or `token-request-bearer` leak, to that endpoint)."""
    if leak == "api-token-cookie":
        return {}, "", {"session": token}
    if leak == "api-token-header":
        return {"X-Access-Token": token}, "", {}
    if leak in ("discovery-header", "discovery-basic", "discovery-body"):
        basic = "Basic " + _b64(f"m2m-contract-client:{secret}")
        return {
            "discovery-header": ({"X-Debug": secret}, ""),
            "discovery-basic": ({"Authorization": basic}, ""),
            "discovery-body": (
                {"content-type": "application/x-www-form-urlencoded"},
                f"client_secret={secret}",
            ),
        }[leak] + ({},)
    if leak == "token-request-bearer":
        return {"Authorization": f"Bearer {token}"}, "", {}
    if leak == "api-header":
        return {"X-Debug-Secret": secret}, "", {}
    if leak == "api-header-base64":
        return {"X-Debug-Secret": _b64(secret)}, "", {}
    if leak == "api-query":
        return {"query": f"debug={secret}"}, "", {}
    if leak == "api-query-base64":
        return {"query": f"debug={_b64(secret)}"}, "", {}
    if leak == "api-cookie":
        return {}, "", {"debug": secret}
    if leak == "api-body":
        return {"content-type": "application/json"}, json.dumps({"debug": secret}), {}
    return {}, "", {}


def _print_leak(leak: str, secret: str, token: str) -> None:
    """Print the secret or the token, as `leak` says (once per API call is enough)."""
    import logging
    import os
    from urllib.parse import quote

    printed = {
        "print-plain": secret,
        "print-base64": _b64(secret),
        "print-percent": "".join(f"%{b:02X}" for b in secret.encode()),
        "print-quote": quote(secret, safe=""),
        "print-hex": secret.encode().hex(),
        "print-split": f"{secret[:16]}\n{secret[16:]}",
        "print-json-u": "".join(f"\\u{ord(c):04x}" for c in secret),
        "print-ansi": "\x1b[0m".join(secret),
        "print-prefix-20": secret[:20],
        "print-reversed": secret[::-1],
        "print-upper": secret.upper(),
        "print-token": token,
        "print-token-base64": _b64(token),
        "print-token-signature": token.rsplit(".", 1)[-1],
    }
    if leak in printed:
        print(f"debug: {printed[leak]}", flush=True)
    elif leak == "stderr-only":
        print(f"debug: {secret}", file=sys.stderr, flush=True)
    elif leak == "worker-thread":
        worker = threading.Thread(target=lambda: print(f"debug: {secret}", flush=True))
        worker.start()
        worker.join()
    elif leak == "os-write":
        os.write(1, f"debug: {secret}\n".encode())
    elif leak == "logging":
        logging.basicConfig(level=logging.INFO)
        logging.getLogger("client").info("secret %s", secret)
    elif leak == "dunder-stdout":
        sys.__stdout__.write(f"debug: {secret}\n") if sys.__stdout__ else None
    elif leak == "grandchild":
        import subprocess

        subprocess.run(["sh", "-c", f"echo {_b64(secret)} | base64 -d"], check=False)


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def run(env: Mapping[str, str]) -> int:
    """The command-client protocol, broken as M2M_KNOBS says (correct by default)."""
    k = parse_knobs(env.get("M2M_KNOBS", ""))
    if env.get("M2M_SECRET_FILE"):  # the leak tests learn each run's secret this way
        with open(env["M2M_SECRET_FILE"], "a", encoding="utf-8") as out:
            out.write(env["M2M_CLIENT_SECRET"] + "\n")
    if k.no_request:
        print("error: cannot import the OAuth library", file=sys.stderr)
        return 1
    calls = int(env.get("M2M_API_CALLS", "1") or 1)
    interval = int(env.get("M2M_API_INTERVAL_MS", "0") or 0) / 1000
    workers = int(env.get("M2M_API_CONCURRENCY", "1") or 1)
    if k.print_secret:
        print("using secret", env["M2M_CLIENT_SECRET"])
    client = _Client(env, k)
    try:
        if workers > 1 and k.concurrency != "ignore":
            with ThreadPoolExecutor(workers) as pool:
                results = list(pool.map(lambda _: client.call(), range(calls)))
            return 0 if all(results) else 1
        ok = True
        for i in range(calls):
            if i and interval:
                time.sleep(interval)
            ok = client.call() and ok
        return 0 if ok else 1
    except _Junk as junk:
        if str(junk) == "exit0":
            return 0
        resp = client.http.get(env["M2M_API_URL"], headers={"Authorization": "Bearer None"})
        return 0 if resp.is_success else 1
    except _Failed as exc:
        print(f"error: {exc}")
        return 1
    finally:
        client.http.close()


def good(env: Mapping[str, str]) -> int:
    return run(env)


def exits(env: Mapping[str, str]) -> int:
    """The good client, ending with sys.exit() (no status: success) or sys.exit(status)."""
    status = run(env)
    raise SystemExit(None if status == 0 else status)


def runner(name: str, spec: str = "", target: str = "run") -> CommandRunner:
    """This module's `target` as a client process, with `M2M_KNOBS=spec` (checked now).

    (The harness is imported here, not at the top: the client processes import this module,
    and need none of it.)"""
    from m2m_contract.harness import CommandRunner
    from m2m_contract.harness._pyclient import pyclient_argv

    parse_knobs(spec)
    argv = tuple(pyclient_argv(f"tests.conformance.clients:{target}"))
    root = str(Path(__file__).parents[2])  # so the client process imports tests.conformance
    return CommandRunner(argv, {"M2M_KNOBS": spec, "PYTHONPATH": root}, name=name)


def authlib_client(env: Mapping[str, str]) -> int:
    """A client on Authlib's httpx OAuth2Client, configured for client_secret_post.

    Authlib would switch to the refresh_token grant when a server returns a refresh token,
    and accepts a 200 without access_token; this wrapper fetches with client_credentials
    itself and checks the answer, as a careful integrator would.
    """
    import warnings

    import authlib.deprecate  # noqa: F401  (it installs an 'always' filter; ours come after)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Authlib deprecates its httpx module for httpx2
        from authlib.integrations.httpx_client import OAuth2Client

    scope = env["M2M_SCOPE"] or None
    extra = {"audience": env["M2M_AUDIENCE"]} if env.get("M2M_AUDIENCE") else {}
    calls = int(env.get("M2M_API_CALLS", "1") or 1)
    interval = int(env.get("M2M_API_INTERVAL_MS", "0") or 0) / 1000
    bundle = env.get("M2M_CA_BUNDLE")
    with OAuth2Client(
        env["M2M_CLIENT_ID"],
        env["M2M_CLIENT_SECRET"],
        scope=scope,
        token_endpoint_auth_method="client_secret_post",
        leeway=0,
        verify=ssl.create_default_context(cafile=bundle) if bundle else True,
        timeout=10,
    ) as client:
        lock = threading.Lock()

        def fetch() -> None:
            token = client.fetch_token(
                env["M2M_TOKEN_URL"], grant_type="client_credentials", **extra
            )
            if not token.get("access_token") or str(token.get("token_type")).lower() != "bearer":
                raise ValueError("malformed token response")
            token.pop("refresh_token", None)
            client.token = token

        def call() -> bool:
            with lock:
                if client.token is None or client.token.is_expired(leeway=0.2):
                    fetch()
            resp = client.get(env["M2M_API_URL"])
            if resp.status_code == 401:
                with lock:
                    fetch()
                resp = client.get(env["M2M_API_URL"])
            return bool(resp.is_success)

        try:
            ok = True
            for i in range(calls):
                if i and interval:
                    time.sleep(interval)
                ok = call() and ok
            return 0 if ok else 1
        except Exception as exc:
            print(f"error: {type(exc).__name__}: {exc}")
            return 1


def comma_scope(env: Mapping[str, str]) -> int:
    """`--client-py tests.conformance.clients:comma_scope`: a client with a comma defect."""
    return run({**env, "M2M_KNOBS": "body=comma-scope"})


def form_body(env: Mapping[str, str]) -> int:
    return run({**env, "M2M_KNOBS": "body=form"})


def sleeps(env: Mapping[str, str]) -> int:
    """A client that hangs before doing anything (killed at the scenario's limit)."""
    time.sleep(60)
    return 0


def sloppy(env: Mapping[str, str]) -> int:
    """Form body, comma-separated scopes, expires_in ignored: a partner's first attempt."""
    return run({**env, "M2M_KNOBS": "body=form,scope_sep=comma,refetch_on_expiry=False"})
