"""httpx-auth 0.23.1 (httpx 0.28.1): OAuth2ClientCredentials as the auth of one httpx.Client.

Follows the library's README ("Client Credentials flow"):
`OAuth2ClientCredentials(token_url, client_id=..., client_secret=..., scope=...)` passed as
`auth=` to httpx requests; extra keywords (here `audience`) go into the token request. One
auth object and one httpx.Client are shared by every worker thread.

Shows: the credentials always go as HTTP Basic (the token client's `auth` is set from
client_id/client_secret, whatever client is passed) in a form body; only `access_token` is read
from the response, so a `token_type` other than Bearer is sent as `Bearer`; tokens are
cached in a process-wide cache keyed by the request, with `early_expiry=30` (a token of under
30 s is fetched anew for every request); threads that miss the cache together each fetch their
own token (the cache lock serialises the fetches but does not re-check the cache); a 60 s
token-request timeout; no retry of a 401.

M2M_ADAPTER_FIX=1: `early_expiry=1` and `timeout=10`, the only knobs that touch the findings.
Basic authentication, the token type and the per-thread fetch cannot be configured away.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from _protocol import Settings, main
from httpx_auth import OAuth2ClientCredentials


def adapter(s: Settings) -> Callable[[], int]:
    extra: dict[str, object] = {"audience": s.audience} if s.audience else {}
    if s.fix:
        extra.update(early_expiry=1, timeout=10)
    auth = OAuth2ClientCredentials(
        s.token_url,
        client_id=s.client_id,
        client_secret=s.client_secret,
        scope=s.scope or None,
        **extra,
    )
    client = httpx.Client()
    return lambda: client.get(s.api_url, auth=auth).status_code


if __name__ == "__main__":
    main(adapter)
