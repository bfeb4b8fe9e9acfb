"""The server contract's facts: what one live run exchanged with the tenant. Pure data.

The live checks (the _live_*_checks modules) judge a `LiveFacts`; `m2m_contract.live.LiveRun`
provides one, live, recording or replaying cassettes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class BadRecording(ValueError):
    """A recording (cassette metadata) that does not hold what the live suite wrote."""


@dataclass(frozen=True)
class Target:
    """What a recording may keep about the settings: everything but the secret."""

    token_url: str
    client_id: str
    scope: str = ""
    audience: str | None = None
    api_url: str | None = None

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.scope.split())

    @property
    def base_url(self) -> str:
        """The tenant's URL: the token URL without its /oauth/token path."""
        url = self.token_url.rstrip("/")
        return url[: -len("/oauth/token")] if url.endswith("/oauth/token") else url

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/.well-known/openid-configuration"

    def to_json(self) -> dict[str, Any]:
        return {
            "token_url": self.token_url,
            "client_id": self.client_id,
            "scope": self.scope,
            "audience": self.audience,
            "api_url": self.api_url,
        }

    @classmethod
    def from_json(cls, data: Any) -> Target:
        if not isinstance(data, Mapping) or not isinstance(data.get("token_url"), str):
            raise BadRecording("the cassette's recorded settings are missing or malformed")
        return cls(
            str(data["token_url"]),
            str(data.get("client_id") or ""),
            str(data.get("scope") or ""),
            _opt(data.get("audience")),
            _opt(data.get("api_url")),
        )


@dataclass(frozen=True)
class Answer:
    """One HTTP answer as the checks see it (scrubbed when replayed)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self) -> str:
        return f"Answer({self.status}, {len(self.body)} bytes)"


@dataclass(frozen=True)
class LiveOutcome:
    """What one exchange produced: an answer, or why there is none."""

    target: Target
    answer: Answer | None = None
    error: str | None = None


@dataclass(frozen=True)
class Verdict:
    """Whether the token's signature verified, and against what; kept in the jwks cassette."""

    ok: bool
    message: str
    digest: str  # sha256 of the token's header.claims: ties the verdict to the token
    checked_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "message": self.message,
            "digest": self.digest,
            "checked_at": self.checked_at,
        }

    @classmethod
    def from_json(cls, data: Any) -> Verdict:
        if not isinstance(data, dict) or not isinstance(data.get("ok"), bool):
            raise BadRecording("the cassette's signature verdict is malformed")
        return cls(
            data["ok"],
            str(data.get("message", "")),
            str(data.get("digest", "")),
            str(data.get("checked_at", "")),
        )


@dataclass(frozen=True)
class Keys:
    """Discovery, the JWKS it points to, and the signature verdict for the run's token."""

    discovery: LiveOutcome
    jwks: LiveOutcome | None
    verdict: Verdict | None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.rsplit(".", 1)[0].encode()).hexdigest()



class LiveFacts(Protocol):
    """What the checks read: the run's exchanges (see LiveRun)."""

    @property
    def mode(self) -> str: ...
    @property
    def now(self) -> float | None: ...
    def token(self) -> LiveOutcome: ...
    def offline_access(self) -> LiveOutcome: ...
    def wrong_secret(self) -> LiveOutcome: ...
    def keys(self) -> Keys: ...
    def api_call(self) -> LiveOutcome | None: ...
    def access_token(self) -> str | None: ...




def _opt(value: Any) -> str | None:
    return str(value) if value else None
