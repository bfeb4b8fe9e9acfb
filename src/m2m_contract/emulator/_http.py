"""Framework-neutral HTTP messages: what every door hands the core and gets back."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

Headers = tuple[tuple[str, str], ...]


def normalise_headers(headers: Iterable[tuple[str, str]] | Mapping[str, str]) -> Headers:
    """Lower-case header names; keep order and repeats."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((name.lower(), value) for name, value in items)


@dataclass(frozen=True)
class Request:
    """One HTTP request as the emulator saw it."""

    method: str
    path: str
    query_string: str = ""
    headers: Headers = ()
    body: bytes = b""
    client_host: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        """Return the first value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        """Return every value of header `name`."""
        wanted = name.lower()
        return [value for key, value in self.headers if key == wanted]

    @property
    def query(self) -> list[tuple[str, str]]:
        """The query string's parameters, repeats kept."""
        return parse_qsl(self.query_string, keep_blank_values=True)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ('' when absent)."""
        raw = self.header("content-type") or ""
        return raw.split(";", 1)[0].strip().lower()

    def __repr__(self) -> str:
        # Headers, body and query may hold secrets or tokens: never print them. A client may
        # put one in the path too, and a Request knows no secrets to redact: print only the
        # emulator's own route (the journal's Exchange prints the path with secrets redacted).
        return f"Request({self.method} {_route(self.path)}, {len(self.body)} bytes)"


_ROUTES = ("/oauth/token", "/.well-known/jwks.json", "/.well-known/openid-configuration",
           "/healthz", "/api", "/__admin")


def _route(path: str) -> str:
    for route in _ROUTES:
        if path == route:
            return path
        if path.startswith(route + "/"):
            return route + "/..."
    return "/..."


# What the door does with an answer: send it; start it and cut it short (drop); reset the
# connection before any byte of it (reset); or never answer at all (stall).
Fate = Literal["send", "drop", "reset", "stall"]


@dataclass
class Response:
    """One HTTP response from the core; `delay` and `fate` are carried out by the door."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    delay: float = 0.0
    fate: Fate = "send"

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def json(self) -> Any:
        """Decode the body as JSON (raises ValueError when it is not)."""
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Response({self.status}, {len(self.body)} bytes)"


NO_STORE: Headers = (("cache-control", "no-store"), ("pragma", "no-cache"))


def json_response(
    status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    """A JSON response with the no-store headers RFC 6749 §5.1 asks of token responses."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(
        status,
        [("content-type", "application/json"), *NO_STORE, *headers],
        body,
    )


def oauth_error(
    status: int, error: str, description: str, headers: Iterable[tuple[str, str]] = (), **extra: str
) -> Response:
    """An RFC 6749 §5.2 error body."""
    payload = {"error": error, "error_description": description, **extra}
    return json_response(status, payload, headers)
