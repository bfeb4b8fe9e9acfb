"""requests-oauthlib 2.0.0 (oauthlib 4.0.1, requests 2.34.2): the Backend Application Flow.

Follows the library's docs (docs/oauth2_workflow.rst, "Backend Application Flow"):
`BackendApplicationClient(client_id=...)`, `OAuth2Session(client=client)`,
`fetch_token(token_url=..., client_id=..., client_secret=...)`, then `oauth.get(url)` on the
one session that every worker thread shares. The scope goes to the client, the audience as an
extra keyword of fetch_token (it passes extra keywords into the token request body).

Shows: given client_id and client_secret, fetch_token sends them as HTTP Basic (not in the
body) in a form body; a token response whose scope differs from the one requested (Auth0 drops
offline_access) raises `Warning: Scope has changed`; the session never renews a
client-credentials token: past expires_in a request raises TokenExpiredError, except in the
half second that oauthlib's `expires_at = round(time.time()) + expires_in` leaves, when the
expired token is sent; no timeout unless one is passed.

M2M_ADAPTER_FIX=1: `include_client_id=True` (the secret goes in the body, as the partner
document shows), oauthlib's documented OAUTHLIB_RELAX_TOKEN_SCOPE=1 (accept the narrower
granted scope), a new token from fetch_token 1 s before `token["expires_at"]` (client
credentials has no refresh token for the docs' TokenExpiredError/refresh pattern), a 10 s
timeout, and `oauth.max_redirects = 0` (a requests.Session attribute): with the secret in the
body, a followed 307 would carry it to another origin.

OAUTHLIB_INSECURE_TRANSPORT is set only when the emulator serves plain http on loopback;
oauthlib refuses http:// otherwise.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from _protocol import Settings, main
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session


def adapter(s: Settings) -> Callable[[], int]:
    if s.token_url.startswith("http://"):
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    if s.fix:
        os.environ["OAUTHLIB_RELAX_TOKEN_SCOPE"] = "1"
    client = BackendApplicationClient(client_id=s.client_id, scope=s.scopes or None)
    oauth = OAuth2Session(client=client)
    if s.fix:
        oauth.max_redirects = 0
    extra = {"audience": s.audience} if s.audience else {}
    fix = {"include_client_id": True, "timeout": 10} if s.fix else {}

    def fetch() -> None:
        oauth.fetch_token(
            token_url=s.token_url,
            client_id=s.client_id,
            client_secret=s.client_secret,
            **fix,
            **extra,
        )

    fetch()
    lock = threading.Lock()

    def call() -> int:
        if not s.fix:
            return int(oauth.get(s.api_url).status_code)
        with lock:
            if time.time() > oauth.token["expires_at"] - 1:
                fetch()
        return int(oauth.get(s.api_url, timeout=10).status_code)

    return call


if __name__ == "__main__":
    main(adapter)
