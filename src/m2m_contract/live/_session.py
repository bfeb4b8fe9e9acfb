"""One live run: each exchange with the tenant happens once, in its own cassette.


Exchanges: `token` (the documented request), `offline-access` (offline_access added),
`wrong-secret` (the negative case, kept apart so it can never replay the success), `jwks`
(discovery, then the JWKS it names, and the signature verdict) and `api-call` (the token
on M2M_LIVE_API_URL). Three token requests in all; one token serves every check.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from .._secrets import REDACTED, redact
from ..client._request import TokenRequest
from ..contract import Answer, Keys, Target, Verdict, token_digest
from ..contract import LiveOutcome as Outcome
from ._cassettes import Mode, Recorder, remember
from ._scrub import Scrubber
from ._settings import BadSettings, LiveSettings, check_url

# What a run makes: the token, the offline_access one and the wrong-secret one; it refuses more
# (Auth0 counts M2M tokens against a quota and rate-limits /oauth/token).
TOKEN_REQUESTS = 3
TIMEOUT = 20.0
T = TypeVar("T")


def verify_signature(token: str, jwks: Any) -> tuple[bool, str]:
    """Verify an RS256 JWT against a JWKS with PyJWT; (ok, what was found)."""
    import jwt

    try:
        header = jwt.get_unverified_header(token)
        keyset = jwt.PyJWKSet.from_dict(jwks)
    except jwt.PyJWTError as exc:
        return False, f"cannot verify: {type(exc).__name__}: {exc}"
    kid, alg = header.get("kid"), header.get("alg")
    if alg != "RS256":
        return False, f"the token's alg is {str(alg)[:20]!r}, not RS256"
    keys = [k for k in keyset.keys if k.key_id == kid]
    if not keys:
        kids = ", ".join(str(k.key_id)[:12] for k in keyset.keys)
        return False, f"the token's kid {str(kid)[:40]!r} is not in the JWKS (kids: {kids})"
    options = {
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
        "verify_aud": False,
        "verify_iss": False,
    }
    try:
        jwt.decode(token, keys[0].key, algorithms=["RS256"], options=options)  # type: ignore[arg-type]
    except jwt.InvalidSignatureError:
        return False, f"the RS256 signature does not verify with the JWKS key {str(kid)[:12]}"
    except jwt.PyJWTError as exc:
        return False, f"cannot verify: {type(exc).__name__}: {exc}"
    return True, f"the RS256 signature verifies with the JWKS key {str(kid)[:12]}"


class LiveRun:
    """The live (or recorded, or replayed) conversation with one tenant, done lazily once."""

    def __init__(
        self,
        mode: Mode,
        cassettes: Path,
        settings: LiveSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if mode != "replay" and settings is None:
            raise ValueError("a live or recording run needs settings")
        self.mode, self.settings, self.clock = mode, settings, clock
        secrets = [settings.client_secret.reveal(), settings.wrong_secret] if settings else []
        self.scrubber = Scrubber(secrets)
        self.recorder = Recorder(mode, cassettes, self.scrubber)
        self.token_requests = 0
        self.recorded_at: dict[str, str] = {}
        self.token_url = settings.target.token_url if settings else None
        self._done: dict[str, Any] = {}
        self._ssl: ssl.SSLContext | None = None

    def __repr__(self) -> str:
        return f"LiveRun({self.mode}, {self.token_requests} token requests)"

    @property
    def now(self) -> float | None:
        """The current time when talking to the tenant; None when replaying (time moved on)."""
        return None if self.mode == "replay" else self.clock()

    def safe(self, text: str) -> str:
        """Text with every secret and token of this run hidden."""
        return redact(self.scrubber.text(text))

    # -- the exchanges ---------------------------------------------------------------------

    def token(self) -> Outcome:
        return self._once("token", lambda: self._token_exchange("token", extra_scope=""))

    def offline_access(self) -> Outcome:
        return self._once(
            "offline-access",
            lambda: self._token_exchange("offline-access", extra_scope="offline_access"),
        )

    def wrong_secret(self) -> Outcome:
        return self._once("wrong-secret", lambda: self._token_exchange("wrong-secret", wrong=True))

    def keys(self) -> Keys:
        return self._once("jwks", self._keys_exchange)

    def api_call(self) -> Outcome | None:
        """The API call with the run's token; None when no API URL is (or was) set."""
        target = self.settings.target if self.settings is not None else self.token().target
        if target.api_url is None:
            return None
        return self._once("api-call", self._api_exchange)

    def access_token(self) -> str | None:
        answer = self.token().answer
        body = answer.json() if answer is not None else None
        token = body.get("access_token") if isinstance(body, dict) else None
        return token if isinstance(token, str) and token else None

    # -- how each is done ------------------------------------------------------------------

    def _once(self, name: str, work: Callable[[], T]) -> T:
        if name not in self._done:
            try:
                self._done[name] = work()
            except Exception as exc:  # remembered, so a failure is not retried per check
                self._done[name] = exc
        found = self._done[name]
        if isinstance(found, Exception):
            raise found
        return found  # type: ignore[no-any-return]

    def _target(self, cassette: Any, name: str) -> Target:
        live = self.settings.target.to_json() if self.settings else None
        recorded = remember(cassette, "settings", live)
        self.recorded_at[name] = str(remember(cassette, "recorded_at", _utc_now()))
        target = Target.from_json(recorded)
        self.token_url = target.token_url
        return target

    def _secret(self, wrong: bool) -> str:
        if self.settings is None:
            return REDACTED  # replaying: the cassette holds no secret, and none is needed
        return self.settings.wrong_secret if wrong else self.settings.client_secret.reveal()

    def _client(self) -> httpx.Client:
        # One verifying SSL context for the run: loading CA certificates is the slow part.
        if self._ssl is None:
            bundle = self.settings.ca_bundle if self.settings is not None else None
            self._ssl = (
                ssl.create_default_context(cafile=str(bundle))
                if bundle is not None
                else httpx.create_ssl_context()  # certifi's CAs, as httpx has by default
            )
        return httpx.Client(verify=self._ssl, timeout=TIMEOUT, follow_redirects=False)

    def _send(self, client: httpx.Client, target: Target, request: httpx.Request) -> Outcome:
        try:
            response = client.send(request)
        except httpx.HTTPError as exc:
            what = f"{request.method} {request.url.copy_with(query=None)}"
            return Outcome(target, error=self.safe(f"{what} failed: {type(exc).__name__}: {exc}"))
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw)
        return Outcome(target, Answer(response.status_code, headers, response.content))

    def _token_exchange(self, name: str, *, extra_scope: str = "", wrong: bool = False) -> Outcome:
        with self.recorder.cassette(name) as cassette:
            target = self._target(cassette, name)
            if self.mode != "replay":
                self.token_requests += 1
                if self.token_requests > TOKEN_REQUESTS:
                    raise RuntimeError(f"more than {TOKEN_REQUESTS} token requests in one run")
            scope = " ".join(dict.fromkeys([*target.scopes, *extra_scope.split()]))
            token_request = TokenRequest.create(
                target.token_url,
                target.client_id or "unknown-client",
                self._secret(wrong),
                scope=scope or None,
                audience=target.audience,
            )
            headers, body = token_request.build()
            with self._client() as client:
                request = client.build_request(
                    "POST", target.token_url, headers=headers, content=body
                )
                return self._send(client, target, request)

    def _keys_exchange(self) -> Keys:
        token = self.access_token()  # first: the verdict is about this run's token
        with self.recorder.cassette("jwks") as cassette:
            target = self._target(cassette, "jwks")
            with self._client() as client:
                discovery = self._send(
                    client, target, client.build_request("GET", target.discovery_url)
                )
                jwks_uri = _jwks_uri(discovery)
                if jwks_uri is None:
                    return Keys(discovery, None, None)
                try:
                    check_url("the discovery document's jwks_uri", jwks_uri)
                except BadSettings as exc:
                    return Keys(discovery, Outcome(target, error=str(exc)), None)
                jwks = self._send(client, target, client.build_request("GET", jwks_uri))
            verdict = None
            if token is not None and jwks.answer is not None and self.mode != "replay":
                ok, message = verify_signature(token, jwks.answer.json())
                verdict = Verdict(ok, message, token_digest(token), _utc_now())
            stored = remember(cassette, "signature", verdict.to_json() if verdict else None)
            if stored is not None:
                verdict = Verdict.from_json(stored)
            return Keys(discovery, jwks, verdict)

    def _api_exchange(self) -> Outcome:
        token = self.access_token()
        with self.recorder.cassette("api-call") as cassette:
            target = self._target(cassette, "api-call")
            if target.api_url is None:
                return Outcome(target, error="the recording has no API URL")
            if token is None:
                return Outcome(target, error="no access token to call the API with")
            with self._client() as client:
                request = client.build_request(
                    "GET", target.api_url, headers={"authorization": f"Bearer {token}"}
                )
                return self._send(client, target, request)


def _jwks_uri(discovery: Outcome) -> str | None:
    body = discovery.answer.json() if discovery.answer is not None else None
    uri = body.get("jwks_uri") if isinstance(body, dict) else None
    return uri if isinstance(uri, str) and uri else None


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
