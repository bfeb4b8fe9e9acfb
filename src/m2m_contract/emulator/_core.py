"""The emulator core: routes one Request to one Response, like an Auth0 tenant would.

No HTTP library lives here; the doors (httpx transport, respx, ASGI) translate to and from
`Request`/`Response` and carry out the delays and dropped connections a fault asks for.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from . import _grant, _tokens
from ._admin import AdminAccess, dispatch_admin, refusal
from ._api import handle_api
from ._clock import Clock, SystemClock
from ._config import SANDBOX_BASE_URL, Tenant, default_tenant
from ._discovery import NOT_IMPLEMENTED, discovery, endpoint_disabled
from ._faults import Fault, FaultQueue
from ._http import Request as Request
from ._http import Response, json_response, oauth_error
from ._journal import DEFAULT_JOURNAL_BYTES, DEFAULT_JOURNAL_SIZE, Exchange, Journal, Kind
from ._keys import KeySet, shared_keys
from ._ratelimit import RateLimiter
from ._token_request import BadRequest, parse_token_request

MAX_BODY = 64 * 1024
RATE_LIMITED = (
    "Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining and "
    "X-RateLimit-Reset headers."
)
_MAX_REVOKED = 100_000
_MAX_ISSUED = 100_000


class Emulator:
    """An Auth0 tenant in a box: token endpoint, JWKS, discovery, a protected API, faults."""

    def __init__(
        self,
        tenant: Tenant | None = None,
        *,
        keys: KeySet | None = None,
        clock: Clock | None = None,
        base_url: str = SANDBOX_BASE_URL,
        journal_size: int = DEFAULT_JOURNAL_SIZE,
        journal_bytes: int = DEFAULT_JOURNAL_BYTES,
        max_body: int = MAX_BODY,
    ) -> None:
        self._clock: Clock = clock or SystemClock()
        self.keys = keys or shared_keys()
        self.faults = FaultQueue()
        # A body the emulator accepts is journaled whole (one over max_body is cut, and marked).
        self.journal = Journal(journal_size, journal_bytes, max_body=max_body)
        self.max_body = max_body
        # Who may use the admin API; the HTTP door sets it from where the server listens.
        self.admin = AdminAccess()
        self._lock = threading.Lock()
        self._revoked: OrderedDict[bytes, None] = OrderedDict()
        # When each token was issued (monotonic, at its request's arrival): the protected API
        # counts a token's life from that instant, not from the whole second its iat says.
        self._issued: OrderedDict[bytes, float] = OrderedDict()
        self.base_url = base_url
        self.tenant = tenant or default_tenant()

    # -- configuration -------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._clock = clock
        self.tenant = self._tenant  # the rate limiter follows the new clock

    @property
    def tenant(self) -> Tenant:
        return self._tenant

    @tenant.setter
    def tenant(self, tenant: Tenant) -> None:
        self._tenant = tenant
        self._limiter = RateLimiter(tenant.effective_rate_limit, self.clock)
        self._secrets = tuple(c.client_secret for c in tenant.clients)

    @property
    def base_url(self) -> str:
        return self._base_url

    @base_url.setter
    def base_url(self, url: str) -> None:
        self._base_url = url.rstrip("/")

    @property
    def issuer(self) -> str:
        """The `iss` of issued tokens: the tenant's, or the served URL with a trailing slash."""
        return self._tenant.issuer or f"{self._base_url}/"

    @property
    def token_url(self) -> str:
        return f"{self._base_url}/oauth/token"

    @property
    def jwks_url(self) -> str:
        return f"{self._base_url}/.well-known/jwks.json"

    @property
    def api_url(self) -> str:
        """A protected API route the default tenant's grant can call."""
        return f"{self._base_url}/api/members"

    def add_fault(self, fault: Fault) -> Fault:
        return self.faults.add(fault)

    def revoke(self, token: str) -> None:
        """Make the protected API reject `token` from now on."""
        with self._lock:
            self._revoked[hashlib.sha256(token.encode()).digest()] = None
            if len(self._revoked) > _MAX_REVOKED:
                self._revoked.popitem(last=False)

    def is_revoked(self, token: str) -> bool:
        with self._lock:
            return hashlib.sha256(token.encode()).digest() in self._revoked

    def _remember_issue(self, token: str, at: float) -> None:
        with self._lock:
            digest = hashlib.sha256(token.encode()).digest()
            self._issued.pop(digest, None)
            self._issued[digest] = at
            if len(self._issued) > _MAX_ISSUED:
                self._issued.popitem(last=False)

    def record_handshake(self, server_name: str | None) -> None:
        """Journal a TLS handshake the HTTP door saw begin (a ClientHello arrived)."""
        request = Request("TLS", "/", headers=(("sni", server_name),) if server_name else ())
        now = self.clock.monotonic()
        self.journal.append(
            Exchange(self.journal.next_seq(), "handshake", now, request, Response(0), answered=None)
        )

    def record_refusal(
        self,
        request: Request,
        response: Response,
        truncated: tuple[str, ...] = (),
        *,
        by: str = "door",
    ) -> None:
        """Journal a request turned away before the routes saw it (`by` "door": the HTTP
        door; "admin": the admin API's guard), with the answer it got. Its kind follows its
        path, as for any request; an admin path is kind "other", a path of no route."""
        now = self.clock.monotonic()
        self.journal.append(
            Exchange(
                self.journal.next_seq(),
                self._kind(request.path),
                now,
                request,
                response,
                None,
                None,
                self._secrets,
                now,
                truncated,
                by,
            )
        )

    def reset(self) -> None:
        """Forget faults, the journal, revocations and rate-limit state."""
        self.faults.clear()
        self.journal.clear()
        with self._lock:
            self._revoked.clear()
            self._issued.clear()
        self._limiter.reset()

    def issue_token(
        self,
        client_id: str = "demo-client",
        *,
        audience: str | None = None,
        scopes: tuple[str, ...] | None = None,
        lifetime: int | None = None,
    ) -> str:
        """Mint a token directly (no request, no journal entry), e.g. to test an API caller."""
        aud = audience or self._tenant.protected_audience or ""
        api = self._tenant.api(aud)
        client = self._tenant.client(client_id)
        granted = client.grants.get(aud, ()) if client else ()
        token = _tokens.issue(
            self.keys,
            profile=self._tenant.token_profile,
            issuer=self.issuer,
            client_id=client_id,
            audience=aud,
            scopes=granted if scopes is None else scopes,
            now=int(self.clock.time()),
            lifetime=lifetime or (api.token_lifetime if api else 86400),
        )
        self._remember_issue(token, self.clock.monotonic())
        return token

    def verify(self, token: str, *, at: float | None = None) -> _tokens.Verified:
        """Validate a token as the protected API does (raises InvalidToken).

        By default a token is valid until its `exp` (plus the tenant's `api_leeway`). With
        `api_expiry = "issued"`, a token this emulator issued lives `exp - iat` seconds from
        the instant it was issued instead (`at` is the monotonic time of the API request,
        default now): Auth0 stamps iat in whole seconds, so `exp` ends a token up to 1 s early.
        """
        verified = _tokens.verify(
            token, self.keys, issuer=self.issuer, audience=self._tenant.protected_audience
        )
        leeway = self._tenant.api_leeway
        issued = None
        if self._tenant.api_expiry == "issued":
            with self._lock:
                issued = self._issued.get(hashlib.sha256(token.encode()).digest())
        exp, iat = verified.claims.get("exp"), verified.claims.get("iat")
        if issued is not None and isinstance(exp, int) and isinstance(iat, int):
            now = self.clock.monotonic() if at is None else at
            expired = now >= issued + (exp - iat) + leeway
        else:
            expired = exp <= self.clock.time() - leeway  # type: ignore[operator]
        if expired:
            raise _tokens.InvalidToken("the token has expired")
        return verified

    # -- dispatch ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request; every answer is journaled except those of the admin API to the
        requests it lets in."""
        path = request.path
        if path.startswith("/__admin/") or path == "/__admin":
            refused = refusal(self, request)
            if refused is None:
                return dispatch_admin(self, request)
            self.record_refusal(request, refused, by="admin")
            return refused
        started = self.clock.monotonic()
        kind, params, fault_name = self._kind(path), None, None
        if kind == "token":
            response, params, fault_name = self._token(request, started)
        elif _body_size(request) > self.max_body:
            response = self._too_large()
        elif kind == "api":
            response, fault_name = self._api(request, started)
        else:
            response = self._static(kind, request)
        if request.method == "HEAD":
            response = replace(response, body=b"")
        answered = (
            self.clock.monotonic() + response.delay if response.fate in ("send", "drop") else None
        )
        self.journal.append(
            Exchange(
                self.journal.next_seq(),
                kind,
                started,
                request,
                response,
                params,
                fault_name,
                self._secrets,
                answered,
                # A door that did not read an oversized body whole says so by its length.
                ("request.body",) if _body_size(request) > len(request.body) else (),
            )
        )
        return response

    @staticmethod
    def _kind(path: str) -> Kind:
        if path == "/oauth/token":
            return "token"
        if path == "/api" or path.startswith("/api/"):
            return "api"
        return {
            "/.well-known/jwks.json": "jwks",
            "/.well-known/openid-configuration": "discovery",
            "/healthz": "health",
        }.get(path, "other")  # type: ignore[return-value]

    def _static(self, kind: Kind, request: Request) -> Response:
        if kind == "other":
            if request.path.rstrip("/") in NOT_IMPLEMENTED:
                return endpoint_disabled(request.path.rstrip("/"))
            return json_response(
                404,
                {"error": "not_found", "error_description": f"No route for {request.path[:200]}"},
            )
        if request.method not in ("GET", "HEAD"):
            return _method_not_allowed("GET, HEAD")
        if kind == "jwks":
            return json_response(200, self.keys.jwks())
        if kind == "health":
            return json_response(200, {"status": "ok"})
        return json_response(200, discovery(self.issuer, self._base_url))

    def _token(
        self, request: Request, started: float
    ) -> tuple[Response, dict[str, Any] | None, str | None]:
        params: dict[str, Any] | None = None
        if _body_size(request) > self.max_body:  # before any fault: it is not used up
            response = self._too_large()
            response.headers.extend([*self._limiter.take("").headers(), _request_id()])
            return response, None, None
        fault = self.faults.take("token")
        if fault is not None and fault.action in _ANSWERED_BY_FAULT:
            response = self._fault_response(fault)
            if fault.action == "rate_limited":
                response.headers.append(_request_id())
            return response, _safe_params(request), fault.action
        # Every answer of the endpoint itself counts against the caller's bucket and says so.
        parsed = None
        if request.method != "POST":
            response = _method_not_allowed("POST")
        else:
            try:
                parsed = parse_token_request(request)
                params = parsed.params
            except BadRequest as exc:
                response = exc.response
        decision = self._limiter.take(parsed.client_id or "" if parsed else "")
        if not decision.allowed:
            response = oauth_error(
                429, "too_many_requests", RATE_LIMITED, [("retry-after", str(decision.retry_after))]
            )
        elif parsed is not None:
            try:
                response = self._grant(parsed, started)
            except BadRequest as exc:
                response = exc.response
        response.headers.extend([*decision.headers(), _request_id()])
        if fault is not None:
            response = _mangle(response, fault)
        return response, params, fault.action if fault else None

    def _too_large(self) -> Response:
        return oauth_error(413, "invalid_request", f"Request body over {self.max_body} bytes")

    def _grant(self, parsed: Any, started: float) -> Response:
        _grant.check_grant_type(parsed.params)
        client = _grant.authenticate(self._tenant, parsed)
        audience, scopes, lifetime = _grant.authorise(self._tenant, client, parsed.params)
        token = _tokens.issue(
            self.keys,
            profile=self._tenant.token_profile,
            issuer=self.issuer,
            client_id=client.client_id,
            audience=audience,
            scopes=scopes,
            now=int(self.clock.time()),
            lifetime=lifetime,
        )
        self._remember_issue(token, started)
        return _grant.success(token, lifetime, scopes, {})

    def _api(self, request: Request, started: float) -> tuple[Response, str | None]:
        fault = self.faults.take("api")
        if fault is not None and fault.action in _ANSWERED_BY_FAULT:
            return self._fault_response(fault), fault.action
        response = handle_api(
            request,
            self._tenant.api_routes,
            lambda token: self.verify(token, at=started),
            self.is_revoked,
        )
        if fault is not None:
            response = replace(response, delay=fault.delay)
        return response, fault.action if fault else None

    def _fault_response(self, fault: Fault) -> Response:
        if fault.action in ("drop", "reset", "stall"):
            fate = fault.action
            return Response(502, [("content-type", "text/plain")], b"", fault.delay, fate=fate)
        if fault.action == "rate_limited":
            wall = self.clock.time()
            headers = [
                ("retry-after", str(fault.retry_after)),
                ("x-ratelimit-limit", str(self._tenant.effective_rate_limit.capacity)),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", str(math.ceil(wall + fault.retry_after))),
            ]
            response = oauth_error(429, "too_many_requests", RATE_LIMITED, headers)
            return replace(response, delay=fault.delay)
        return Response(fault.status, list(fault.headers), fault.body, fault.delay)


def _body_size(request: Request) -> int:
    """The body's length: what arrived, or what Content-Length declared if that is more."""
    declared = (request.header("content-length") or "").strip()
    digits = declared.isascii() and declared.isdigit() and len(declared) <= 18
    return max(len(request.body), int(declared) if digits else 0)


def _request_id() -> tuple[str, str]:
    """Auth0's request id header: 20 hex digits, a new one per answer."""
    return ("x-auth0-requestid", secrets.token_hex(10))


def _method_not_allowed(allow: str) -> Response:
    return oauth_error(
        405, "method_not_allowed", f"Method not allowed; use {allow}", [("allow", allow)]
    )


# Faults that answer instead of the endpoint (the others alter or delay its real answer).
_ANSWERED_BY_FAULT = ("respond", "drop", "reset", "stall", "rate_limited")


def _safe_params(request: Request) -> dict[str, Any] | None:
    try:
        return parse_token_request(request).params
    except BadRequest:
        return None


def _mangle(response: Response, fault: Fault) -> Response:
    """Apply a malformed-response or spurious-refresh-token fault to a successful answer."""
    response = replace(response, delay=fault.delay)
    if response.status != 200 or fault.action == "pass":
        return response
    if fault.action == "non_json":
        others = [(k, v) for k, v in response.headers if k != "content-type"]
        return replace(
            response,
            headers=[("content-type", "text/html; charset=utf-8"), *others],
            body=b"<html><body>OK</body></html>",
        )
    body = json.loads(response.body)
    if fault.action == "no_access_token":
        del body["access_token"]
    elif fault.action == "wrong_token_type":
        body["token_type"] = "mac"
    elif fault.action == "refresh_token":
        body["refresh_token"] = secrets.token_urlsafe(32)
    return replace(response, body=json.dumps(body, separators=(",", ":")).encode())
