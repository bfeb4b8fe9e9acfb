"""The token request: checked settings, and the exact body and headers the client sends.

Pure code. The partner document's shape is the default: a JSON body with client_id,
client_secret, grant_type=client_credentials, scope as one space-separated string (omitted
when empty) and audience when configured. Form bodies and HTTP Basic are options for other
tenants.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote_plus, urlencode, urlsplit

from .. import __version__
from .._net import is_loopback
from ._errors import InsecureTokenURLError

BodyEncoding = Literal["json", "form"]
AuthMethod = Literal["client_secret_post", "client_secret_basic"]
BODY_ENCODINGS: tuple[BodyEncoding, ...] = ("json", "form")
AUTH_METHODS: tuple[AuthMethod, ...] = ("client_secret_post", "client_secret_basic")
USER_AGENT = f"m2m-contract/{__version__}"
_NQCHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {'"', "\\"}  # RFC 6749 §3.3


class Secret:
    """A string that never shows itself in repr, str, logs or debuggers; `reveal()` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:  # pickling would write the secret to disk or a queue
        raise TypeError("a Secret cannot be pickled")


def check_token_url(url: str) -> str:
    """Return `url` if it is HTTPS, or HTTP to a loopback host; raise InsecureTokenURLError."""
    if not isinstance(url, str) or not url:
        raise InsecureTokenURLError("token_url must be a non-empty https:// URL")
    parts = urlsplit(url)
    if "@" in parts.netloc:
        # Not quoting the URL: its user:password@ part is a credential.
        raise InsecureTokenURLError("token_url must not carry credentials (user:password@host)")
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise InsecureTokenURLError(
            f"token_url must be an absolute https:// URL, not {url[:100]!r}"
        )
    if parts.query or parts.fragment:
        raise InsecureTokenURLError("token_url must not have a query string or fragment")
    if parts.scheme == "http" and not is_loopback(host):
        raise InsecureTokenURLError(
            f"token_url {url[:100]!r} is plain HTTP: the client secret would cross the network "
            "in clear. Use https://, or http:// only to a loopback host (127.0.0.1, ::1, "
            "localhost) such as a local emulator"
        )
    return url


def normalise_scope(scope: str | Iterable[str] | None) -> str | None:
    """One space-separated string from a string or any iterable of strings: no repeats, no
    empties, first-seen order kept; None when nothing is left (the parameter is then omitted)."""
    if scope is None:
        return None
    if isinstance(scope, (bytes, bytearray)):
        raise TypeError("scope must be a str or an iterable of str, not bytes")
    items: Iterable[object] = [scope] if isinstance(scope, str) else scope
    tokens: dict[str, None] = {}
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"scope items must be strings, not {type(item).__name__}")
        for token in item.split():
            bad = sorted(set(token) - _NQCHARS)
            if bad or "," in token:
                shown = "','" if "," in token else repr(bad[0])
                raise ValueError(
                    f"scope {token[:60]!r} has the character {shown}: separate scopes with "
                    "spaces (or pass a list), and use only printable ASCII without quotes or "
                    "backslashes (RFC 6749 §3.3)"
                )
            tokens[token] = None
    return " ".join(tokens) or None


@dataclass(frozen=True)
class TokenRequest:
    """Everything needed to ask for a token; `build()` gives the headers and body to send."""

    token_url: str
    client_id: str
    client_secret: Secret = field(repr=False)
    scope: str | None = None
    audience: str | None = None
    body_encoding: BodyEncoding = "json"
    auth_method: AuthMethod = "client_secret_post"

    @classmethod
    def create(
        cls,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | Iterable[str] | None = None,
        audience: str | None = None,
        body_encoding: BodyEncoding = "json",
        auth_method: AuthMethod = "client_secret_post",
    ) -> TokenRequest:
        """Check every setting; raise ValueError/TypeError naming the one that is wrong."""
        if not isinstance(client_id, str) or not client_id:
            raise ValueError("client_id must be a non-empty string")
        if not isinstance(client_secret, str) or not client_secret:
            raise ValueError("client_secret must be a non-empty string")
        if audience is not None and not isinstance(audience, str):
            raise TypeError("audience must be a string (or None)")
        if body_encoding not in BODY_ENCODINGS:
            raise ValueError(f"body_encoding must be 'json' or 'form', not {body_encoding!r}")
        if auth_method not in AUTH_METHODS:
            raise ValueError(
                f"auth_method must be one of {', '.join(AUTH_METHODS)}, not {auth_method!r}"
            )
        return cls(
            check_token_url(token_url),
            client_id,
            Secret(client_secret),
            normalise_scope(scope),
            audience or None,
            body_encoding,
            auth_method,
        )

    def params(self) -> dict[str, str]:
        """The body parameters, in the partner document's order."""
        params = {"client_id": self.client_id}
        if self.auth_method == "client_secret_post":
            params["client_secret"] = self.client_secret.reveal()
        params["grant_type"] = "client_credentials"
        if self.scope:
            params["scope"] = self.scope
        if self.audience:
            params["audience"] = self.audience
        return params

    def build(self) -> tuple[dict[str, str], bytes]:
        """Headers and body of the POST to the token endpoint."""
        headers = {"accept": "application/json", "user-agent": USER_AGENT}
        params = self.params()
        if self.body_encoding == "json":
            headers["content-type"] = "application/json"
            body = json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode()
        else:
            headers["content-type"] = "application/x-www-form-urlencoded"
            body = urlencode(params).encode("ascii")
        if self.auth_method == "client_secret_basic":
            headers["authorization"] = basic_credentials(self.client_id, self.client_secret)
        return headers, body


def basic_credentials(client_id: str, secret: Secret) -> str:
    """RFC 6749 §2.3.1: form-urlencode id and secret, then base64 `id:secret`."""
    pair = f"{quote_plus(client_id, safe='')}:{quote_plus(secret.reveal(), safe='')}"
    return "Basic " + base64.b64encode(pair.encode("ascii")).decode("ascii")
