"""Live settings from the M2M_LIVE_* environment variables, checked before any request."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .._net import is_loopback
from ..client._request import Secret
from ..contract import Target

SANDBOX_TOKEN_URL = "https://loyaltyone-sandbox-pin.auth0.com/oauth/token"
ENV_TOKEN_URL = "M2M_LIVE_TOKEN_URL"
ENV_CLIENT_ID = "M2M_LIVE_CLIENT_ID"
ENV_CLIENT_SECRET = "M2M_LIVE_CLIENT_SECRET"
ENV_SCOPE = "M2M_LIVE_SCOPE"
ENV_AUDIENCE = "M2M_LIVE_AUDIENCE"
ENV_API_URL = "M2M_LIVE_API_URL"
ENV_CA_BUNDLE = "M2M_LIVE_CA_BUNDLE"
REQUIRED = (ENV_CLIENT_ID, ENV_CLIENT_SECRET)


class MissingSettings(LookupError):
    """Required variables are unset; `names` lists them."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(
            f"set {', '.join(names)} to run the live smoke test "
            f"(the token URL defaults to {SANDBOX_TOKEN_URL})"
        )


class BadSettings(ValueError):
    """A variable is set to something the live suite must not use; the message says which."""


@dataclass(frozen=True)
class LiveSettings:
    """The sandbox to talk to and the credentials to use; the secret never shows in a repr."""

    target: Target
    client_secret: Secret = field(repr=False)
    ca_bundle: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LiveSettings:
        """Read and check the variables; raise MissingSettings or BadSettings."""
        missing = [name for name in REQUIRED if not env.get(name, "").strip()]
        if missing:
            raise MissingSettings(missing)
        token_url = env.get(ENV_TOKEN_URL, "").strip() or SANDBOX_TOKEN_URL
        api_url = env.get(ENV_API_URL, "").strip() or None
        check_url(ENV_TOKEN_URL, token_url)
        if api_url is not None:
            check_url(ENV_API_URL, api_url)
        ca_bundle = env.get(ENV_CA_BUNDLE, "").strip() or None
        bundle = Path(ca_bundle) if ca_bundle else None
        if bundle is not None and not bundle.is_file():
            raise BadSettings(f"{ENV_CA_BUNDLE}={ca_bundle!r} is not a readable file")
        target = Target(
            token_url,
            env[ENV_CLIENT_ID].strip(),
            " ".join(env.get(ENV_SCOPE, "").split()),
            env.get(ENV_AUDIENCE, "").strip() or None,
            api_url,
        )
        return cls(target, Secret(env[ENV_CLIENT_SECRET]), bundle)

    @property
    def wrong_secret(self) -> str:
        return wrong_secret_for(self.client_secret.reveal())


def wrong_secret_for(secret: str) -> str:
    """The secret the negative case sends: never the real one, and it does not reveal it."""
    digest = hashlib.sha256(b"m2m-contract wrong secret\0" + secret.encode()).hexdigest()
    return f"wrong-{digest[:32]}"


def check_url(name: str, url: str) -> None:
    """Credentials travel only over TLS, or plain HTTP to a loopback host (a local emulator)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise BadSettings(f"{name} must be an absolute https:// URL, not {url[:100]!r}")
    if parts.scheme == "http" and not is_loopback(host):
        raise BadSettings(
            f"{name}={url[:100]!r} is plain HTTP to a remote host: credentials would cross the "
            "network in clear. Use https:// (certificates are verified; add a CA with "
            f"{ENV_CA_BUNDLE}), or http:// only to a loopback host such as a local emulator"
        )
