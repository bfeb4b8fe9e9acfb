"""In-process clients for the conformance runner: a plain good one and its broken variants.

Each mutant breaks one clause of the contract; `MUTANTS` maps it to the check meant to catch
it and to the MUST checks its breakage may also trip as a direct consequence.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import authlib.deprecate  # noqa: F401  (it installs an 'always' filter; ours must come after)
import httpx

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Authlib deprecates its httpx module in favour of httpx2
    from authlib.integrations.httpx_client import OAuth2Client


@dataclass(frozen=True)
class Knobs:
    """How the plain client behaves; every default is the correct behaviour."""

    body: str = "json"  # json | form | array-scope | comma-scope | query-secret
    grant_type: str | None = "client_credentials"
    cache: bool = True
    refresh_grant_after_expiry: bool = False
    refetch_on_expiry: bool = True
    scheme: str = "Bearer"
    bearer_junk_on_bad_response: bool = False
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
    wrong_path: bool = False


class _Failed(Exception):
    pass


def _token_request(client: httpx.Client, env: Mapping[str, str], k: Knobs, grant: str) -> Any:
    scope = env["M2M_SCOPE"] if k.scope_override is None else k.scope_override
    body: dict[str, Any] = {
        "client_id": env["M2M_CLIENT_ID"],
        "client_secret": env["M2M_CLIENT_SECRET"],
    }
    if k.grant_type is not None:
        body["grant_type"] = k.grant_type if grant == "client_credentials" else grant
    if scope:
        body["scope"] = scope
    if env.get("M2M_AUDIENCE") and k.send_audience:
        body["audience"] = env["M2M_AUDIENCE"]
    if k.extra_params:
        body[k.extra_params] = "hunter2"
    url = env["M2M_TOKEN_URL"]
    if k.wrong_path:
        url = url.replace("/oauth/token", "/token")
    headers = {}
    if k.basic_and_body:
        headers["Authorization"] = httpx.BasicAuth(
            env["M2M_CLIENT_ID"], env["M2M_CLIENT_SECRET"]
        )._auth_header
    if k.body == "form":
        return client.post(url, data=body, headers=headers)
    if k.body == "array-scope" and scope:
        body["scope"] = scope.split()
    if k.body == "comma-scope" and scope:
        body["scope"] = ",".join(scope.split())
    if k.body == "query-secret":
        url += f"?client_secret={env['M2M_CLIENT_SECRET']}"
    return client.post(
        url, content=json.dumps(body), headers={**headers, "content-type": "application/json"}
    )


def run(env: Mapping[str, str], k: Knobs = Knobs()) -> int:
    calls = int(env.get("M2M_API_CALLS", "1") or 1)
    interval = int(env.get("M2M_API_INTERVAL_MS", "0") or 0) / 1000
    with httpx.Client(verify=env.get("M2M_CA_BUNDLE") or True, timeout=10) as client:
        state: dict[str, Any] = {"token": None, "expires": 0.0, "refresh": None}

        def fetch(grant: str = "client_credentials") -> str:
            for attempt in range(6):
                sent = time.monotonic()
                resp = _token_request(client, env, k, grant)
                if resp.status_code == 429 and attempt < 3:
                    wait = (
                        float(resp.headers.get("retry-after", "1")) if k.honour_retry_after else 0
                    )
                    time.sleep(wait)
                    continue
                if resp.status_code >= 500 and attempt < 3:
                    time.sleep(0.1 * (attempt + 1))
                    continue
                if resp.status_code in (401, 403) and attempt < k.retry_on_401_token:
                    continue
                break
            try:
                data = resp.json()
            except ValueError:
                data = {}
            token = data.get("access_token") if isinstance(data, dict) else None
            ok = (
                resp.status_code == 200
                and isinstance(token, str)
                and str(data.get("token_type", "")).lower() == "bearer"
            )
            if not ok:
                if k.bearer_junk_on_bad_response or k.api_call_despite_failure:
                    return str(token)
                raise _Failed(f"token request failed with {resp.status_code}")
            state["expires"] = sent + float(data.get("expires_in", 0))
            state["refresh"] = data.get("refresh_token")
            if k.print_token:
                print("token:", token)
            return str(token)

        def token() -> str:
            expired = time.monotonic() >= state["expires"] - 0.2
            if state["token"] is None or not k.cache or (expired and k.refetch_on_expiry):
                if state["refresh"] and k.refresh_grant_after_expiry:
                    state["token"] = fetch("refresh_token")
                else:
                    state["token"] = fetch()
            return str(state["token"])

        if k.print_secret:
            print("using secret", env["M2M_CLIENT_SECRET"])
        try:
            ok = True
            for i in range(calls):
                if i and interval:
                    time.sleep(interval)
                resp = client.get(
                    env["M2M_API_URL"], headers={"Authorization": f"{k.scheme} {token()}"}
                )
                tries = 0
                while (
                    resp.status_code == 401
                    and k.retry_api_401 != "none"
                    and tries < (8 if k.retry_api_401 == "storm" else 1)
                ):
                    tries += 1
                    if k.retry_api_401 in ("refetch", "storm"):
                        state["token"] = None
                    resp = client.get(
                        env["M2M_API_URL"], headers={"Authorization": f"{k.scheme} {token()}"}
                    )
                ok = ok and resp.is_success
            return 0 if ok else 1
        except _Failed as exc:
            print(f"error: {exc}")
            return 1


def good(env: Mapping[str, str]) -> int:
    return run(env)


def variant(**changes: Any) -> Any:
    knobs = replace(Knobs(), **changes)

    def client(env: Mapping[str, str]) -> int:
        return run(env, knobs)

    return client


def authlib_client(env: Mapping[str, str]) -> int:
    """A client on Authlib's httpx OAuth2Client, configured for client_secret_post.

    Authlib would switch to the refresh_token grant when a server returns a refresh token,
    and accepts a 200 without access_token; this wrapper fetches with client_credentials
    itself and checks the answer, as a careful integrator would.
    """
    scope = env["M2M_SCOPE"] or None
    extra = {"audience": env["M2M_AUDIENCE"]} if env.get("M2M_AUDIENCE") else {}
    calls = int(env.get("M2M_API_CALLS", "1") or 1)
    interval = int(env.get("M2M_API_INTERVAL_MS", "0") or 0) / 1000
    with OAuth2Client(
        env["M2M_CLIENT_ID"],
        env["M2M_CLIENT_SECRET"],
        scope=scope,
        token_endpoint_auth_method="client_secret_post",
        leeway=0,
        verify=env.get("M2M_CA_BUNDLE") or True,
        timeout=10,
    ) as client:

        def fetch() -> None:
            token = client.fetch_token(
                env["M2M_TOKEN_URL"], grant_type="client_credentials", **extra
            )
            if not token.get("access_token") or str(token.get("token_type")).lower() != "bearer":
                raise ValueError("malformed token response")
            token.pop("refresh_token", None)
            client.token = token

        try:
            fetch()
            for i in range(calls):
                if i and interval:
                    time.sleep(interval)
                if client.token.is_expired(leeway=0.2):
                    fetch()
                resp = client.get(env["M2M_API_URL"])
                if resp.status_code == 401:
                    fetch()
                    resp = client.get(env["M2M_API_URL"])
                if not resp.is_success:
                    return 1
        except Exception as exc:
            print(f"error: {type(exc).__name__}: {exc}")
            return 1
    return 0


# Module-level variants, so `--client-py tests.conformance.clients:NAME` can name them.
comma_scope = variant(body="comma-scope")
form_body = variant(body="form")
