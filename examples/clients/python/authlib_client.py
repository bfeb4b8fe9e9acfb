"""Authlib 1.9.10 (on httpx2 2.16.2): the httpx OAuth2Client with client_credentials.

Follows Authlib's docs (docs/oauth2/client/http/index.rst): "OAuth2Session for Client
Credentials" (`client.fetch_token(token_endpoint)`: no code and no user, so a
client_credentials request) and "Automatically refreshing tokens" (a client created with
`token_endpoint` refreshes an expired token itself). `OAuth2Client(client_id, client_secret,
scope=..., token_endpoint=...)` is the sync httpx client of that page; the audience goes as an
extra keyword of fetch_token; every worker thread shares the one client. Authlib 1.9 falls back
to httpx with a deprecation warning; its docs name httpx2, so httpx2 is installed.

Shows: the default `client_secret_basic` and a form body; with `leeway=60` a token shorter
than a minute counts as expired at once, so each request fetches a new token; the automatic
re-fetch is `fetch_token(url, grant_type="client_credentials")`, without the `audience` given to
the first call; when a token response carries a refresh_token, the automatic step uses the
refresh_token grant instead, which Auth0 does not allow for client credentials.

M2M_ADAPTER_FIX=1: `token_endpoint_auth_method="client_secret_post"` (documented under
"Client Authentication"), no `token_endpoint` (so no automatic refresh), `leeway=1`, and a new
token fetched with the same arguments (audience included) before a request once
`client.token.is_expired(leeway=1)`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from _protocol import Settings, main
from authlib.integrations.httpx_client import OAuth2Client


def adapter(s: Settings) -> Callable[[], int]:
    extra = {"audience": s.audience} if s.audience else {}
    if not s.fix:
        client = OAuth2Client(
            s.client_id, s.client_secret, scope=s.scope or None, token_endpoint=s.token_url
        )
        client.fetch_token(**extra)
        return lambda: client.get(s.api_url).status_code

    client = OAuth2Client(
        s.client_id,
        s.client_secret,
        scope=s.scope or None,
        token_endpoint_auth_method="client_secret_post",
        leeway=1,
    )
    lock = threading.Lock()

    def fetch() -> None:
        client.fetch_token(s.token_url, grant_type="client_credentials", **extra)

    def call() -> int:
        with lock:
            if client.token.is_expired(leeway=1):
                fetch()
        return int(client.get(s.api_url).status_code)

    fetch()
    return call


if __name__ == "__main__":
    main(adapter)
