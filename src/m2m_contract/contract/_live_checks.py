"""The server contract (live suite): the tenant's token response, judged over a live run.

Pure judgements over `LiveFacts` (see _live_model.py): the run makes, records or replays the
exchanges; the checks only read them. The access-token checks are in _live_token_checks.py.

Clauses: "partner §1/§2" is the partner document; "RFC6749-x" sections of that RFC.
"""

from __future__ import annotations

import json
from typing import Any

from ._catalogue import Result, check, failed, passed
from ._live_model import Answer, LiveFacts, LiveOutcome

# -- helpers ---------------------------------------------------------------------------------


def answer_of(outcome: LiveOutcome) -> Answer | Result:
    if outcome.answer is None:
        return failed(outcome.error or "no answer")
    return outcome.answer


def said(answer: Answer) -> str:
    """'401 access_denied' or '200' — never a body value that could be a credential."""
    body = answer.json()
    error = body.get("error") if isinstance(body, dict) else None
    return f"{answer.status} {str(error)[:40]}" if isinstance(error, str) else str(answer.status)


def token_body(facts: LiveFacts) -> dict[str, Any] | Result:
    answer = answer_of(facts.token())
    if isinstance(answer, Result):
        return answer
    body = answer.json()
    if answer.status != 200 or not isinstance(body, dict):
        return failed(
            f"no token response to judge (the token request got {said(answer)}; "
            "see server-token-response)"
        )
    return body


def integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# -- the token response ----------------------------------------------------------------------


@check(
    "server-token-response",
    "MUST",
    "RFC6749-5.1",
    "a correct token request gets 200 with a JSON object (application/json)",
    suite="live",
)
def token_response(facts: LiveFacts) -> Result:
    answer = answer_of(facts.token())
    if isinstance(answer, Result):
        return answer
    if answer.status != 200:
        return failed(
            f"the documented token request got {said(answer)}, expected 200 with a "
            "token: check the client id, secret, scope and audience"
        )
    media = (answer.header("content-type") or "").split(";")[0].strip().lower()
    if not isinstance(answer.json(), dict):
        return failed(f"the 200 answer is not a JSON object (Content-Type {media or 'none'!r})")
    if media != "application/json":
        return failed(
            f"the token response's Content-Type is {media or 'missing'!r}, not application/json"
        )
    return passed("200 with a JSON object (application/json)")


@check(
    "server-access-token",
    "MUST",
    "RFC6749-5.1",
    "the token response has a non-empty access_token string",
    suite="live",
)
def access_token(facts: LiveFacts) -> Result:
    body = token_body(facts)
    if isinstance(body, Result):
        return body
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        shown = "missing" if token is None else f"a {type(token).__name__}"
        return failed(
            f"access_token is {shown if token != '' else 'empty'}, expected a non-empty string"
        )
    return passed("access_token is a non-empty string")


@check("server-token-type", "MUST", "RFC6749-5.1", "token_type is Bearer", suite="live")
def token_type(facts: LiveFacts) -> Result:
    body = token_body(facts)
    if isinstance(body, Result):
        return body
    value = body.get("token_type")
    if not isinstance(value, str) or value.lower() != "bearer":
        return failed(f'token_type is {json.dumps(value)[:40]}, expected "Bearer"')
    return passed(f"token_type is {value!r}")


@check("server-expires-in", "MUST", "partner §1", "expires_in is a positive integer", suite="live")
def expires_in(facts: LiveFacts) -> Result:
    body = token_body(facts)
    if isinstance(body, Result):
        return body
    value = integer(body.get("expires_in"))
    if value is None or value <= 0:
        return failed(
            f"expires_in is {json.dumps(body.get('expires_in'))[:40]}, expected a "
            "positive integer number of seconds"
        )
    return passed(f"expires_in is {value} s")


@check(
    "server-no-refresh-token",
    "MUST",
    "partner §1",
    "no refresh_token is issued (refresh tokens are not permitted in this flow)",
    suite="live",
)
def no_refresh_token(facts: LiveFacts) -> Result:
    body = token_body(facts)
    if isinstance(body, Result):
        return body
    if "refresh_token" in body:
        return failed(
            "the token response carries a refresh_token (value not shown); the partner "
            "document says none is issued in this flow (RFC 6749 §4.4.3)"
        )
    return passed("no refresh_token in the token response")


@check(
    "server-no-store",
    "SHOULD",
    "RFC6749-5.1",
    "the token response has Cache-Control: no-store (not confirmed for Auth0)",
    suite="live",
)
def no_store(facts: LiveFacts) -> Result:
    answer = answer_of(facts.token())
    if isinstance(answer, Result):
        return answer
    value = answer.header("cache-control")
    tokens = [t.strip().lower() for t in (value or "").split(",")]
    if "no-store" not in tokens:
        shown = f"is {value[:60]!r}" if value else "is missing"
        return failed(f"Cache-Control {shown}; RFC 6749 §5.1 asks for no-store on token responses")
    return passed("Cache-Control: no-store")


@check(
    "server-offline-access",
    "MUST",
    "partner §1",
    "with offline_access in the scope: a token without refresh_token, or 403 access_denied",
    suite="live",
)
def offline_access(facts: LiveFacts) -> Result:
    answer = answer_of(facts.offline_access())
    if isinstance(answer, Result):
        return answer
    body = answer.json()
    if isinstance(body, dict) and "refresh_token" in body:
        return failed(
            f"asking for offline_access got {answer.status} with a refresh_token (value "
            "not shown); refresh tokens are not permitted in this flow"
        )
    if answer.status == 200 and isinstance(body, dict) and body.get("access_token"):
        return passed("offline_access: a token without refresh_token")
    if answer.status == 403 and isinstance(body, dict) and body.get("error") == "access_denied":
        return passed("offline_access: 403 access_denied (the scope is not granted)")
    return failed(
        f"asking for offline_access got {said(answer)}; expected a token without "
        "refresh_token or 403 access_denied"
    )


@check(
    "server-rejects-wrong-secret",
    "MUST",
    "RFC6749-5.2",
    "a wrong client_secret gets a 4xx OAuth error, not a token",
    suite="live",
)
def rejects_wrong_secret(facts: LiveFacts) -> Result:
    answer = answer_of(facts.wrong_secret())
    if isinstance(answer, Result):
        return answer
    body = answer.json()
    if isinstance(body, dict) and body.get("access_token"):
        return failed(
            f"a wrong client_secret got {answer.status} with an access_token: the "
            "server does not authenticate the client (RFC 6749 §4.4.2)"
        )
    if not 400 <= answer.status < 500:
        return failed(f"a wrong client_secret got {said(answer)}, expected a 4xx OAuth error")
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return failed(
            f"a wrong client_secret got {answer.status} without an OAuth error body "
            '({"error": ...}, RFC 6749 §5.2)'
        )
    return passed(f"a wrong client_secret got {said(answer)}")
