"""The admin API under /__admin/: faults, journal, reset, revocation, clock and keys.

It lets test suites in any language drive the emulator over HTTP, so it is locked against
everyone else, including a web page the developer happens to visit:

- the peer must be a loopback address (the socket's, never a forwarding header; a request
  with no known peer is refused), unless it presents the admin token;
- when the server listens beyond loopback, the admin token is required (`Authorization:
  Bearer <token>`), and without one configured the admin API is off;
- over HTTP, the `Host` must be a loopback name or address, the server's own host or one it
  was told about (DNS rebinding), unless the request presents the admin token;
- an `Origin` that is not the server's own is refused (cross-site requests);
- a request that changes state must be `application/json` (a form or `text/plain` POST is
  what a page can send without asking the browser first).

A request let in is not journaled; one refused is, as a request to a path of no route (the
emulator journals it with its refusal), so that whoever reads the journal sees it was sent.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .._net import is_loopback
from ._clock import FakeClock
from ._faults import Fault, FaultError
from ._http import Request, Response, json_response

if TYPE_CHECKING:
    from ._core import Emulator

MAX_ADVANCE = 10 * 366 * 86400  # ten years in one step is plenty for any expiry test
JOURNAL_PAGE = 100  # exchanges per GET /__admin/journal unless `limit` says otherwise
JOURNAL_PAGE_MAX = 1000
REALM = "m2m-contract admin"
_POST_ONLY = ("/__admin/reset", "/__admin/revoke", "/__admin/clock", "/__admin/keys/rotate")
_MUTATING = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class AdminAccess:
    """Who may use the admin API.

    `token`: when set, a request presenting it as a bearer token is let in from any peer and
    any Host (and one from loopback without it is refused). `beyond_loopback`: the server
    listens on more than loopback, so the token is required (no token, no admin API).
    `hosts`: the Host names accepted besides loopback names and addresses (None: no Host
    check, as in-process, where no browser is involved).
    """

    token: str | None = field(default=None, repr=False)
    beyond_loopback: bool = False
    hosts: tuple[str, ...] | None = None


def _error(status: int, description: str, error: str = "invalid_request") -> Response:
    return json_response(status, {"error": error, "error_description": description})


def _denied(description: str) -> Response:
    return _error(403, description, "access_denied")


def _body(request: Request) -> Any:
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FaultError("the admin request body must be JSON") from None


def _presents(access: AdminAccess, request: Request) -> bool | None:
    """Whether the request carries the admin token (None: no token is configured)."""
    if access.token is None:
        return None
    scheme, _, credentials = (request.header("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        credentials.strip().encode(), access.token.encode()
    )


def _host_name(authority: str) -> str:
    """The host of a Host header value: `[::1]:8080` -> `::1`, `Example:80` -> `example`."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1 : authority.find("]")] if "]" in authority else authority
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def refusal(emulator: Emulator, request: Request) -> Response | None:
    """The answer that keeps `request` out of the admin API, or None when it may come in."""
    access = emulator.admin
    presents = _presents(access, request)
    if presents is False:
        response = _error(401, "The admin API needs Authorization: Bearer <admin token>",
                          "access_denied")  # fmt: skip
        response.headers.append(("www-authenticate", f'Bearer realm="{REALM}"'))
        return response
    if access.beyond_loopback and presents is None:
        return _denied(
            "The admin API is off: the server listens beyond loopback and no admin token was "
            "set (start it with --admin-token or M2M_ADMIN_TOKEN)"
        )
    if not presents:
        if not is_loopback(request.client_host):
            return _denied("The admin API is loopback-only")
        host = request.header("host")
        if access.hosts is not None and host is not None:
            name = _host_name(host)
            served = (urlsplit(emulator.base_url).hostname or "").lower()
            if not (is_loopback(name) or name in (served, *access.hosts)):
                return _denied(f"The admin API does not answer for Host {host[:100]!r}")
    origin = request.header("origin")
    if origin is not None:
        scheme = urlsplit(emulator.base_url).scheme
        same = {_origin(emulator.base_url), f"{scheme}://{(request.header('host') or '').lower()}"}
        if origin.strip().lower() not in same:
            return _denied("The admin API refuses cross-origin requests")
    if request.method in _MUTATING and request.content_type != "application/json":
        return _error(415, "Admin requests that change state must be sent as application/json")
    return None


def dispatch_admin(emulator: Emulator, request: Request) -> Response:
    """What the admin route does, for a request `refusal` let in."""
    route = (request.method, request.path.rstrip("/"))
    try:
        return _dispatch(emulator, request, route)
    except FaultError as exc:
        return _error(400, str(exc))


def _page(emulator: Emulator, request: Request) -> Response:
    query = dict(parse_qsl(request.query_string))
    try:
        since = int(query.get("since", "0"))
        limit = int(query.get("limit", str(JOURNAL_PAGE)))
    except ValueError:
        return _error(400, "since and limit must be integers")
    if since < 0 or not 1 <= limit <= JOURNAL_PAGE_MAX:
        return _error(400, f"send since >= 0 and limit from 1 to {JOURNAL_PAGE_MAX}")
    page = emulator.journal.page(since, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    return json_response(
        200,
        {
            "exchanges": [e.printable() for e in page],
            "next": page[-1].seq if more else None,
            "held": len(emulator.journal),
            "dropped": emulator.journal.dropped,
            "unjournaled": emulator.journal.unjournaled,
        },
    )


def _dispatch(emulator: Emulator, request: Request, route: tuple[str, str]) -> Response:
    method, path = route
    if path == "/__admin/faults":
        if method == "GET":
            return json_response(200, {"faults": emulator.faults.pending()})
        if method == "DELETE":
            emulator.faults.clear()
            return json_response(200, {"faults": []})
        if method == "POST":
            payload = _body(request)
            items = payload if isinstance(payload, list) else [payload]
            faults = [Fault.from_json(item) for item in items]
            for fault in faults:
                emulator.add_fault(fault)
            return json_response(201, {"armed": [f.describe() for f in faults]})
    elif path == "/__admin/journal":
        if method == "GET":
            return _page(emulator, request)
        if method == "DELETE":
            emulator.journal.clear()
            return json_response(200, {"exchanges": []})
    elif path == "/__admin/reset" and method == "POST":
        emulator.reset()
        return json_response(200, {"reset": True})
    elif path == "/__admin/revoke" and method == "POST":
        payload = _body(request)
        token = payload.get("token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            return _error(400, 'send {"token": "<access token>"}')
        emulator.revoke(token)
        return json_response(200, {"revoked": True})
    elif path == "/__admin/clock" and method == "POST":
        if not isinstance(emulator.clock, FakeClock):
            return _error(409, "the emulator runs on the system clock; start it with a FakeClock")
        payload = _body(request)
        advance = payload.get("advance") if isinstance(payload, dict) else None
        # The range check also refuses NaN, infinity and integers too big for a float.
        if (
            not isinstance(advance, (int, float))
            or isinstance(advance, bool)
            or not 0 <= advance <= MAX_ADVANCE
        ):
            return _error(400, f'send {{"advance": <seconds, from 0 to {MAX_ADVANCE}>}}')
        emulator.clock.advance(float(advance))
        return json_response(200, {"time": emulator.clock.time()})
    elif path == "/__admin/keys/rotate" and method == "POST":
        keys = emulator.keys
        return json_response(200, {"kid": keys.rotate(), "next": keys.next_kid})
    elif path not in _POST_ONLY:  # a known route with the wrong method falls through to 405
        return json_response(
            404, {"error": "not_found", "error_description": f"No admin route {path[:100]}"}
        )
    return json_response(
        405, {"error": "method_not_allowed", "error_description": f"{method} not allowed here"}
    )
