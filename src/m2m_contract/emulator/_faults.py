"""Faults armed per test: replace, delay, corrupt or drop the next answers of an endpoint."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

Target = Literal["token", "api"]
Action = Literal[
    "respond",
    "pass",
    "drop",
    "reset",
    "stall",
    "rate_limited",
    "non_json",
    "no_access_token",
    "wrong_token_type",
    "refresh_token",
]
TARGETS: tuple[Target, ...] = get_args(Target)
ACTIONS: tuple[Action, ...] = get_args(Action)
MALFORMED: tuple[Action, ...] = ("non_json", "no_access_token", "wrong_token_type")
TOKEN_ONLY: tuple[Action, ...] = (*MALFORMED, "refresh_token", "rate_limited")
MAX_RETRY_AFTER = 3600
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.6.2
_FIELD_VALUE = re.compile(r"[\x20-\x7e\t]*")  # no CR/LF; ASCII so every door can send it


class FaultError(ValueError):
    """A fault description that cannot be armed."""


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or on top of) the normal answer.

    `times` is how many requests it applies to; None makes it sticky until cleared.
    `pass` answers normally after `delay`; `respond` answers with status/headers/body;
    `drop` starts an answer and closes the connection mid-way; `reset` resets the connection
    before any answer; `stall` reads the request and never answers; `rate_limited` answers
    429 with Retry-After: `retry_after` and X-RateLimit-* computed when it answers; the
    malformed actions answer 200 with a broken token response; `refresh_token` adds a
    spurious refresh_token to a real one. Every request a fault meets is journaled.
    """

    target: Target
    action: Action
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    delay: float = 0.0
    times: int | None = 1
    retry_after: int = 1

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise FaultError(f"target must be one of {', '.join(TARGETS)}, not {self.target!r}")
        if self.action not in ACTIONS:
            raise FaultError(f"action must be one of {', '.join(ACTIONS)}, not {self.action!r}")
        # 1xx are interim answers, not responses; 204/304 cannot carry a body on the wire.
        if not 200 <= self.status <= 599:
            raise FaultError(f"status must be an HTTP status from 200 to 599, not {self.status}")
        if self.status in (204, 304) and self.body:
            raise FaultError(f"a {self.status} answer has no body; drop json/text/html")
        for name, value in self.headers:
            if not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
                raise FaultError(
                    f"header {name[:40]!r} must be an HTTP token with a printable ASCII value"
                )
        if not 0 <= self.delay <= 300:
            raise FaultError("delay must be from 0 to 300 seconds")
        if self.times is not None and self.times < 1:
            raise FaultError("times must be a positive count, or null for a sticky fault")
        if self.target == "api" and self.action in TOKEN_ONLY:
            raise FaultError(f"{self.action!r} applies to the token endpoint only")
        if not 0 <= self.retry_after <= MAX_RETRY_AFTER:
            raise FaultError(f"retry_after must be from 0 to {MAX_RETRY_AFTER} seconds")

    @classmethod
    def respond(
        cls,
        target: Target,
        status: int,
        *,
        json: Any = None,
        text: str | None = None,
        html: str | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        times: int | None = 1,
    ) -> Fault:
        """Answer with this status, headers and a JSON, text or HTML body."""
        hdrs = dict(headers or {})
        body = b""
        if json is not None:
            body = _json_dumps(json)
            hdrs.setdefault("content-type", "application/json")
        elif html is not None:
            body = html.encode()
            hdrs.setdefault("content-type", "text/html; charset=utf-8")
        elif text is not None:
            body = text.encode()
            hdrs.setdefault("content-type", "text/plain; charset=utf-8")
        return cls(target, "respond", status, tuple(hdrs.items()), body, delay, times)

    @classmethod
    def html(cls, target: Target, status: int, **kwargs: Any) -> Fault:
        """An HTML error page, as a proxy or Auth0's edge sometimes sends."""
        page = f"<html><body><h1>{status}</h1><p>Something went wrong.</p></body></html>"
        return cls.respond(target, status, html=page, **kwargs)

    @classmethod
    def delayed(cls, target: Target, seconds: float, *, times: int | None = 1) -> Fault:
        """Answer normally, but only after `seconds`."""
        return cls(target, "pass", delay=seconds, times=times)

    @classmethod
    def drop(cls, target: Target, *, times: int | None = 1) -> Fault:
        """Close the connection without a complete answer."""
        return cls(target, "drop", times=times)

    @classmethod
    def reset(cls, target: Target, *, times: int | None = 1) -> Fault:
        """Reset the connection (TCP RST) before any byte of an answer is sent."""
        return cls(target, "reset", times=times)

    @classmethod
    def stall(cls, target: Target, *, times: int | None = 1) -> Fault:
        """Read the request, then never answer (until the client gives up or the server stops)."""
        return cls(target, "stall", times=times)

    @classmethod
    def rate_limited(cls, *, retry_after: int = 1, times: int | None = 1) -> Fault:
        """Auth0's 429, its Retry-After and X-RateLimit-Reset computed when it answers."""
        return cls("token", "rate_limited", status=429, times=times, retry_after=retry_after)

    @classmethod
    def malformed(cls, kind: Action, *, times: int | None = 1) -> Fault:
        """A 200 token response that is not JSON, lacks access_token or has a wrong token_type."""
        if kind not in MALFORMED:
            raise FaultError(f"malformed kind must be one of {', '.join(MALFORMED)}")
        return cls("token", kind, times=times)

    @classmethod
    def refresh_token(cls, *, times: int | None = 1) -> Fault:
        """A real token response that also carries a (spurious) refresh_token."""
        return cls("token", "refresh_token", times=times)

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        """Build a fault from the admin API's JSON form (see docs/emulator.md)."""
        if not isinstance(data, Mapping):
            raise FaultError("a fault must be a JSON object")
        known = {
            "target", "action", "status", "headers", "json", "text", "html", "delay", "times",
            "retry_after",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultError(f"unknown fault field(s): {', '.join(unknown)}")
        target, action = data.get("target"), data.get("action", "respond")
        status, delay = data.get("status", 200), data.get("delay", 0)
        times = data.get("times", 1)
        headers = data.get("headers", {})
        if not isinstance(status, int) or isinstance(status, bool):
            raise FaultError("status must be an integer")
        if not isinstance(delay, (int, float)) or isinstance(delay, bool):
            raise FaultError("delay must be a number of seconds")
        if not 0 <= delay <= 300:  # before float(): a huge JSON integer would overflow it
            raise FaultError("delay must be from 0 to 300 seconds")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool)):
            raise FaultError("times must be an integer or null")
        retry_after = data.get("retry_after", 1)
        if not isinstance(retry_after, int) or isinstance(retry_after, bool):
            raise FaultError("retry_after must be an integer number of seconds")
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise FaultError("headers must be an object of strings")
        for key in ("text", "html"):
            if key in data and not isinstance(data[key], str):
                raise FaultError(f"{key} must be a string")
        fault = cls.respond(
            target,  # type: ignore[arg-type]  # __post_init__ checks it and names the choices
            status,
            json=data.get("json"),
            text=data.get("text"),
            html=data.get("html"),
            headers=headers,
            delay=float(delay),
            times=times,
        )
        if action == "rate_limited":
            fault = replace(fault, status=429)
        return replace(fault, action=action, retry_after=retry_after)

    def describe(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "action": self.action,
            "status": self.status,
            "delay": self.delay,
            "times": self.times,
            **({"retry_after": self.retry_after} if self.action == "rate_limited" else {}),
        }


def _json_dumps(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise FaultError(f"json body is not JSON-serialisable ({exc})") from None


class FaultQueue:
    """Armed faults, consumed in the order they were added; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[list[Any]] = []  # [fault, remaining or None]

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._armed.append([fault, fault.times])
        return fault

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def take(self, target: Target) -> Fault | None:
        """Return the fault for the next `target` request, using up one of its times."""
        with self._lock:
            for entry in self._armed:
                fault: Fault = entry[0]
                if fault.target != target:
                    continue
                if entry[1] is not None:
                    entry[1] -= 1
                    if entry[1] == 0:
                        self._armed.remove(entry)
                return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**e[0].describe(), "remaining": e[1]} for e in self._armed]
