"""The admin API under /__admin/: faults, journal, reset, revocation, clock and keys.

It lets test suites in any language drive the emulator over HTTP. It answers only requests
from loopback addresses, whatever address the server listens on.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .._net import is_loopback
from ._clock import FakeClock
from ._faults import Fault, FaultError
from ._http import Request, Response, json_response

if TYPE_CHECKING:
    from ._core import Emulator

MAX_ADVANCE = 10 * 366 * 86400  # ten years in one step is plenty for any expiry test
_POST_ONLY = ("/__admin/reset", "/__admin/revoke", "/__admin/clock", "/__admin/keys/rotate")


def _error(status: int, description: str) -> Response:
    return json_response(status, {"error": "invalid_request", "error_description": description})


def _body(request: Request) -> Any:
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FaultError("the admin request body must be JSON") from None


def handle_admin(emulator: Emulator, request: Request) -> Response:
    if not is_loopback(request.client_host):
        return json_response(
            403, {"error": "access_denied", "error_description": "The admin API is loopback-only"}
        )
    route = (request.method, request.path.rstrip("/"))
    try:
        return _dispatch(emulator, request, route)
    except FaultError as exc:
        return _error(400, str(exc))


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
            return json_response(200, {"exchanges": emulator.journal.printable()})
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
        return json_response(200, {"kid": emulator.keys.rotate()})
    elif path not in _POST_ONLY:  # a known route with the wrong method falls through to 405
        return json_response(
            404, {"error": "not_found", "error_description": f"No admin route {path[:100]}"}
        )
    return json_response(
        405, {"error": "method_not_allowed", "error_description": f"{method} not allowed here"}
    )
