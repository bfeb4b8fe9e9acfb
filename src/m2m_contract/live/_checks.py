"""The server-contract checks of the live smoke test: pure judgements over the exchanges.

This module holds the registry and the token-response checks; the access-token checks are in
_token_checks.py.

Each check has an id, a severity (MUST fails, SHOULD warns) and the clause it enforces, like
the conformance checks; it reads the exchanges it needs from `Facts` and never does I/O of
its own (the exchanges are made, recorded or replayed by the run).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..contract import Result, Severity, Status
from ._session import Answer, Keys, Outcome


class Facts(Protocol):
    """What the checks read: the run's exchanges (see LiveRun)."""

    @property
    def mode(self) -> str: ...
    @property
    def now(self) -> float | None: ...
    def token(self) -> Outcome: ...
    def offline_access(self) -> Outcome: ...
    def wrong_secret(self) -> Outcome: ...
    def keys(self) -> Keys: ...
    def api_call(self) -> Outcome | None: ...
    def access_token(self) -> str | None: ...


@dataclass(frozen=True)
class LiveCheck:
    id: str
    severity: Severity
    clause: str
    title: str
    judge: Callable[[Facts], Result] = field(repr=False, compare=False)

    def status(self, result: Result) -> Status:
        if result.ok is None:
            return "skipped"
        if result.ok:
            return "passed"
        return "warning" if self.severity == "SHOULD" else "failed"


LIVE_CHECKS: dict[str, LiveCheck] = {}


def _check(
    id: str, severity: Severity, clause: str, title: str
) -> Callable[[Callable[[Facts], Result]], Callable[[Facts], Result]]:
    def register(judge: Callable[[Facts], Result]) -> Callable[[Facts], Result]:
        LIVE_CHECKS[id] = LiveCheck(id, severity, clause, title, judge)
        return judge

    return register


def ok(message: str) -> Result:
    return Result(True, message)


def bad(message: str) -> Result:
    return Result(False, message)


def nothing(message: str) -> Result:
    return Result(None, message)


# -- helpers ---------------------------------------------------------------------------------


def _answer(outcome: Outcome) -> Answer | Result:
    if outcome.answer is None:
        return bad(outcome.error or "no answer")
    return outcome.answer


def _said(answer: Answer) -> str:
    """'401 access_denied' or '200' — never a body value that could be a credential."""
    body = answer.json()
    error = body.get("error") if isinstance(body, dict) else None
    return f"{answer.status} {str(error)[:40]}" if isinstance(error, str) else str(answer.status)


def _token_body(facts: Facts) -> dict[str, Any] | Result:
    answer = _answer(facts.token())
    if isinstance(answer, Result):
        return answer
    body = answer.json()
    if answer.status != 200 or not isinstance(body, dict):
        return bad(
            f"no token response to judge (the token request got {_said(answer)}; "
            "see server-token-response)"
        )
    return body


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# -- the token response ----------------------------------------------------------------------


@_check(
    "server-token-response",
    "MUST",
    "RFC6749-5.1",
    "a correct token request gets 200 with a JSON object (application/json)",
)
def token_response(facts: Facts) -> Result:
    answer = _answer(facts.token())
    if isinstance(answer, Result):
        return answer
    if answer.status != 200:
        return bad(
            f"the documented token request got {_said(answer)}, expected 200 with a "
            "token: check the client id, secret, scope and audience"
        )
    media = (answer.header("content-type") or "").split(";")[0].strip().lower()
    if not isinstance(answer.json(), dict):
        return bad(f"the 200 answer is not a JSON object (Content-Type {media or 'none'!r})")
    if media != "application/json":
        return bad(
            f"the token response's Content-Type is {media or 'missing'!r}, not application/json"
        )
    return ok("200 with a JSON object (application/json)")


@_check(
    "server-access-token",
    "MUST",
    "RFC6749-5.1",
    "the token response has a non-empty access_token string",
)
def access_token(facts: Facts) -> Result:
    body = _token_body(facts)
    if isinstance(body, Result):
        return body
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        shown = "missing" if token is None else f"a {type(token).__name__}"
        return bad(
            f"access_token is {shown if token != '' else 'empty'}, expected a non-empty string"
        )
    return ok("access_token is a non-empty string")


@_check("server-token-type", "MUST", "RFC6749-5.1", "token_type is Bearer")
def token_type(facts: Facts) -> Result:
    body = _token_body(facts)
    if isinstance(body, Result):
        return body
    value = body.get("token_type")
    if not isinstance(value, str) or value.lower() != "bearer":
        return bad(f'token_type is {json.dumps(value)[:40]}, expected "Bearer"')
    return ok(f"token_type is {value!r}")


@_check("server-expires-in", "MUST", "partner §1", "expires_in is a positive integer")
def expires_in(facts: Facts) -> Result:
    body = _token_body(facts)
    if isinstance(body, Result):
        return body
    value = _int(body.get("expires_in"))
    if value is None or value <= 0:
        return bad(
            f"expires_in is {json.dumps(body.get('expires_in'))[:40]}, expected a "
            "positive integer number of seconds"
        )
    return ok(f"expires_in is {value} s")


@_check(
    "server-no-refresh-token",
    "MUST",
    "partner §1",
    "no refresh_token is issued (refresh tokens are not permitted in this flow)",
)
def no_refresh_token(facts: Facts) -> Result:
    body = _token_body(facts)
    if isinstance(body, Result):
        return body
    if "refresh_token" in body:
        return bad(
            "the token response carries a refresh_token (value not shown); the partner "
            "document says none is issued in this flow (RFC 6749 §4.4.3)"
        )
    return ok("no refresh_token in the token response")


@_check(
    "server-no-store",
    "SHOULD",
    "RFC6749-5.1",
    "the token response has Cache-Control: no-store (not confirmed for Auth0)",
)
def no_store(facts: Facts) -> Result:
    answer = _answer(facts.token())
    if isinstance(answer, Result):
        return answer
    value = answer.header("cache-control")
    tokens = [t.strip().lower() for t in (value or "").split(",")]
    if "no-store" not in tokens:
        shown = f"is {value[:60]!r}" if value else "is missing"
        return bad(f"Cache-Control {shown}; RFC 6749 §5.1 asks for no-store on token responses")
    return ok("Cache-Control: no-store")


@_check(
    "server-offline-access",
    "MUST",
    "partner §1",
    "with offline_access in the scope: a token without refresh_token, or 403 access_denied",
)
def offline_access(facts: Facts) -> Result:
    answer = _answer(facts.offline_access())
    if isinstance(answer, Result):
        return answer
    body = answer.json()
    if isinstance(body, dict) and "refresh_token" in body:
        return bad(
            f"asking for offline_access got {answer.status} with a refresh_token (value "
            "not shown); refresh tokens are not permitted in this flow"
        )
    if answer.status == 200 and isinstance(body, dict) and body.get("access_token"):
        return ok("offline_access: a token without refresh_token")
    if answer.status == 403 and isinstance(body, dict) and body.get("error") == "access_denied":
        return ok("offline_access: 403 access_denied (the scope is not granted)")
    return bad(
        f"asking for offline_access got {_said(answer)}; expected a token without "
        "refresh_token or 403 access_denied"
    )


@_check(
    "server-rejects-wrong-secret",
    "MUST",
    "RFC6749-5.2",
    "a wrong client_secret gets a 4xx OAuth error, not a token",
)
def rejects_wrong_secret(facts: Facts) -> Result:
    answer = _answer(facts.wrong_secret())
    if isinstance(answer, Result):
        return answer
    body = answer.json()
    if isinstance(body, dict) and body.get("access_token"):
        return bad(
            f"a wrong client_secret got {answer.status} with an access_token: the "
            "server does not authenticate the client (RFC 6749 §4.4.2)"
        )
    if not 400 <= answer.status < 500:
        return bad(f"a wrong client_secret got {_said(answer)}, expected a 4xx OAuth error")
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return bad(
            f"a wrong client_secret got {answer.status} without an OAuth error body "
            '({"error": ...}, RFC 6749 §5.2)'
        )
    return ok(f"a wrong client_secret got {_said(answer)}")
