"""Plain requests 2.34.2: the partner document's JSON token request, hand-written.

Follows the partner document's sample request (a JSON body with client_id, client_secret,
grant_type and scope POSTed to /oauth/token) as a partner writes it with requests' quickstart:
`requests.post(url, json=...)`, `r.raise_for_status()`, `r.json()["access_token"]`, then
`requests.get(url, headers={"Authorization": f"Bearer {token}"})`. One token, fetched at start
and shared by every worker thread.

Shows: what requests does by default: no timeout at all (a token endpoint that never answers
hangs the client), redirects followed (a 307 re-sends the body, secret included, to wherever
Location points), and nothing but what the application checks: the token_type is not looked
at and the token is never renewed.

M2M_ADAPTER_FIX=1: a 10 s timeout, `allow_redirects=False` on the token request, a check that
the answer has an access_token with token_type Bearer, and a new token once expires_in has run
out (less 1 s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from _protocol import Settings, main


def adapter(s: Settings) -> Callable[[], int]:
    body = {"client_id": s.client_id, "client_secret": s.client_secret}
    body["grant_type"] = "client_credentials"
    if s.scope:
        body["scope"] = s.scope
    if s.audience:
        body["audience"] = s.audience
    session = requests.Session()
    state: dict[str, Any] = {}
    lock = threading.Lock()
    timeout = 10 if s.fix else None

    def fetch() -> None:
        sent = time.monotonic()
        r = session.post(s.token_url, json=body, timeout=timeout, allow_redirects=not s.fix)
        r.raise_for_status()
        data = r.json()
        if s.fix and not (
            data.get("access_token") and str(data.get("token_type")).lower() == "bearer"
        ):
            raise ValueError("the token response has no Bearer access_token")
        state["token"] = data["access_token"]
        state["renew_at"] = sent + float(data.get("expires_in", 0)) - 1

    def call() -> int:
        if s.fix:
            with lock:
                if time.monotonic() >= state["renew_at"]:
                    fetch()
        headers = {"Authorization": f"Bearer {state['token']}"}
        return session.get(s.api_url, headers=headers, timeout=timeout).status_code

    fetch()
    return call


if __name__ == "__main__":
    main(adapter)
