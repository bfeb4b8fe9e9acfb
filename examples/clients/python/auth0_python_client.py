"""auth0-python 6.8.0 (requests 2.34.2): GetToken.client_credentials, then requests with the token.

Follows the SDK's README ("Authentication SDK"): `GetToken(domain, client_id,
client_secret=...)` and `client_credentials(audience=...)`, then `token["access_token"]` as a
Bearer header on plain requests calls. The SDK builds `{protocol}://{domain}/oauth/token`, so
domain and protocol come from M2M_TOKEN_URL. The token is fetched once and shared by every
worker thread, as the README's snippet does.

Shows: client_credentials() takes an audience but no scope, so the token always carries every
scope granted to the application; the request is JSON with the secret in the body (as the
partner document shows) and a 5 s timeout; the SDK keeps no token, so expiry is the
application's problem; it reads only access_token, so a non-Bearer token_type goes out as
Bearer; no retry of a 429 (Authentication API retries=0).

M2M_ADAPTER_FIX=1: a check that the answer is a Bearer token (the SDK returns whatever JSON
came), a new token once expires_in has run out (less 1 s), and a 10 s timeout on the API calls.
Nothing fixes the missing scope (the method has no parameter for it) nor the redirect: the SDK
POSTs with module-level `requests.request`, which follows a 307 and offers no setting to stop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from _protocol import Settings, main
from auth0.authentication import GetToken


def adapter(s: Settings) -> Callable[[], int]:
    url = urlsplit(s.token_url)
    get_token = GetToken(
        url.netloc, s.client_id, client_secret=s.client_secret, protocol=url.scheme
    )
    state: dict[str, Any] = {}
    lock = threading.Lock()

    def fetch() -> None:
        sent = time.monotonic()
        state["token"] = get_token.client_credentials(audience=s.audience)
        if s.fix and str(state["token"].get("token_type")).lower() != "bearer":
            raise ValueError("the token response is not a Bearer token")
        state["renew_at"] = sent + float(state["token"].get("expires_in", 0)) - 1

    def call() -> int:
        if s.fix:
            with lock:
                if time.monotonic() >= state["renew_at"]:
                    fetch()
        headers = {"Authorization": f"Bearer {state['token']['access_token']}"}
        return requests.get(s.api_url, headers=headers, timeout=10 if s.fix else None).status_code

    fetch()
    return call


if __name__ == "__main__":
    main(adapter)
