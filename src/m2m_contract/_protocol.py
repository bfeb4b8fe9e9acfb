"""The command-client protocol, modelled once: what the runner tells a client under test.

The runner writes these settings as M2M_* environment variables (`to_env`); a client, the
reference client among them, reads them back (`from_env`). A new variable is added here and
nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

# The variables that carry the server's CA when it is served over TLS: ours, and the ones
# Python (ssl, requests, httpx) and Node.js read by themselves.
CA_VARIABLES = ("M2M_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
REQUIRED = ("M2M_TOKEN_URL", "M2M_CLIENT_ID", "M2M_CLIENT_SECRET", "M2M_API_URL")


class ProtocolError(ValueError):
    """A missing or unusable M2M_* variable; the message names it (never the secret)."""


@dataclass(frozen=True)
class ProtocolSettings:
    """What the client under test is told, one field per M2M_* variable.

    | field           | variable            | meaning                                        |
    |-----------------|---------------------|------------------------------------------------|
    | token_url       | M2M_TOKEN_URL       | the token endpoint                             |
    | client_id       | M2M_CLIENT_ID       | the client's id                                |
    | client_secret   | M2M_CLIENT_SECRET   | its secret                                     |
    | scope           | M2M_SCOPE           | space-separated scopes; empty: ask for none    |
    | audience        | M2M_AUDIENCE        | the audience; empty: send none                 |
    | api_url         | M2M_API_URL         | the protected API route to call                |
    | api_calls       | M2M_API_CALLS       | how many GET requests to make (default 1)      |
    | api_interval_ms | M2M_API_INTERVAL_MS | pause between calls (default 0)                |
    | api_concurrency | M2M_API_CONCURRENCY | at most this many calls in flight (default 1)  |
    | ca_bundle       | M2M_CA_BUNDLE       | the CA to trust, when served over TLS          |
    """

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str = ""
    audience: str = ""
    api_url: str = ""
    api_calls: int = 1
    api_interval_ms: int = 0
    api_concurrency: int = 1
    ca_bundle: str | None = None

    def to_env(self) -> dict[str, str]:
        """The M2M_* environment of the command-client protocol."""
        env = {
            "M2M_TOKEN_URL": self.token_url,
            "M2M_CLIENT_ID": self.client_id,
            "M2M_CLIENT_SECRET": self.client_secret,
            "M2M_SCOPE": self.scope,
            "M2M_AUDIENCE": self.audience,
            "M2M_API_URL": self.api_url,
            "M2M_API_CALLS": str(self.api_calls),
            "M2M_API_INTERVAL_MS": str(self.api_interval_ms),
            "M2M_API_CONCURRENCY": str(self.api_concurrency),
        }
        if self.ca_bundle:
            env.update(dict.fromkeys(CA_VARIABLES, self.ca_bundle))
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProtocolSettings:
        """Read the variables back; raise ProtocolError naming the one that is wrong."""
        missing = [name for name in REQUIRED if not env.get(name)]
        if missing:
            raise ProtocolError(f"set {', '.join(missing)} (see the command-client protocol)")
        return cls(
            token_url=env["M2M_TOKEN_URL"],
            client_id=env["M2M_CLIENT_ID"],
            client_secret=env["M2M_CLIENT_SECRET"],
            scope=env.get("M2M_SCOPE", ""),
            audience=env.get("M2M_AUDIENCE", ""),
            api_url=env["M2M_API_URL"],
            api_calls=_count(env, "M2M_API_CALLS", 1),
            api_interval_ms=_count(env, "M2M_API_INTERVAL_MS", 0),
            api_concurrency=max(1, _count(env, "M2M_API_CONCURRENCY", 1)),
            ca_bundle=env.get("M2M_CA_BUNDLE") or None,
        )

    @classmethod
    def variables(cls) -> tuple[str, ...]:
        """Every variable name the protocol defines, in order (CA aliases last)."""
        names = [f"M2M_{f.name.upper()}" for f in fields(cls)]
        return (*names, *CA_VARIABLES[1:])


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit():
        raise ProtocolError(f"{name} must be a whole number >= 0, not {raw[:20]!r}")
    return int(raw)
