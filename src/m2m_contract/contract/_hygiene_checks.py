"""Secret hygiene, judged in every scenario, by value: the client secret and every token
issued are sought in all their spellings (m2m_contract._secrets). Pure functions.

The secret may travel only in the token request's body and its Basic header; a token only in
the Authorization header of an API request. Anywhere else is a failure that says where, and
in which spelling (never the value). Reversed or case-changed values are out of scope.

Clauses: "partner §1/§2" is the partner document (client-credentials-auth-flow.md);
"RFC6749-x" and "RFC6750-x" are sections of those RFCs; "Auth0" is Auth0's guidance.
"""

from __future__ import annotations

from collections.abc import Iterable

from .._secrets import Finding, Known
from ._catalogue import Result, check, failed, passed
from ._model import Observation

Place = tuple[int, str, list[Finding]]  # (journal seq, where, what was found)


def _found(known: Known, texts: Iterable[str], kind: str) -> list[Finding]:
    return [f for text in texts if text for f in known.find(text) if f.kind == kind]


def _places(obs: Observation, kind: str, *, urls: bool) -> list[Place]:
    """Where `kind` (secret or token) shows up: in URLs, or in the other places it must not."""
    known, places = obs.known, []
    if urls:
        targets = [
            *((c.seq, f"the URL of token request {c.n}", "&".join(f"{k}={v}" for k, v in c.query))
              for c in obs.token_calls),
            *((c.seq, f"the URL of API call {c.n}", f"{c.path}?{c.query_string}")
              for c in obs.api_calls),
            *((c.seq, f"the URL of {c.kind} request {c.n}", f"{c.path}?{c.query_string}")
              for c in obs.other_calls),
        ]
        for seq, where, text in targets:
            if found := _found(known, [text], kind):
                places.append((seq, where, found))
        return places
    for c in obs.api_calls:
        headers = [v for k, v in c.headers if kind == "secret" or k != "authorization"]
        body = c.body.decode("utf-8", "replace")
        for part, texts in (("a header", headers), ("the body", [body])):
            if found := _found(known, texts, kind):
                places.append((c.seq, f"{part} of API call {c.n}", found))
    if kind == "secret":  # the token request itself: any header but a Basic Authorization
        for t in obs.token_calls:
            headers = [v for k, v in t.headers
                       if not (k == "authorization" and v.lower().startswith("basic "))]
            if found := _found(known, headers, kind):
                places.append((t.seq, f"a header of token request {t.n} (not Basic)", found))
    return places


def _verdict(places: list[Place], what: str, advice: str, ok: str) -> Result:
    if not places:
        return passed(ok)
    _, where, found = places[0]
    spelled = ", ".join(dict.fromkeys(f.spelling for f in found))
    more = f" (and {len(places) - 1} more place(s))" if len(places) > 1 else ""
    return failed(f"{what} is in {where} ({spelled}){more}: {advice}",
                  *(p[0] for p in places))


@check("secret-not-in-url", "MUST", "RFC6749-2.3.1", "the client secret never appears in a URL")
def _secret_url(obs: Observation) -> Result:
    return _verdict(
        _places(obs, "secret", urls=True),
        "the client secret",
        "URLs end up in logs, proxies and browser history; send the secret only in the token "
        "request's body (or its Basic header)",
        "no URL carried the secret",
    )


@check("secret-not-in-api-request", "MUST", "partner §2",
       "the client secret never reaches the API, and travels only in the token request's body "
       "or Basic header")
def _secret_api(obs: Observation) -> Result:
    return _verdict(
        _places(obs, "secret", urls=False),
        "the client secret",
        "the secret belongs in the token request's body (or its Basic header) only; the API "
        "gets the access token",
        "the secret travelled only in the token request's body or Basic header",
    )


@check("token-not-in-url", "SHOULD", "RFC6750-2.3", "an access token is never sent in a URL")
def _token_url(obs: Observation) -> Result:
    return _verdict(
        _places(obs, "token", urls=True),
        "an access token",
        "send it in the Authorization header (RFC 6750 §2.1); URLs are logged",
        "no URL carried a token",
    )


def _printed(obs: Observation, kind: str) -> list[tuple[str, Finding]]:
    return [(stream, f) for stream, f in obs.outcome.leaks or () if f.kind == kind]


def _output_verdict(obs: Observation, kind: str, what: str, advice: str) -> Result:
    leaks = _printed(obs, kind)
    if not leaks:
        return passed(f"the output holds no {kind}")
    streams = " and ".join(dict.fromkeys(s for s, _ in leaks))
    spelled = ", ".join(dict.fromkeys(f.spelling for _, f in leaks))
    return failed(f"the client printed {what} on {streams} ({spelled}): {advice}")


@check("secret-not-in-output", "MUST", "partner prerequisites",
       "the client never prints its secret (stdout or stderr, any process it starts)")
def _secret_output(obs: Observation) -> Result:
    return _output_verdict(
        obs, "secret", "its client secret",
        "CI logs are read by many; never log the secret or a request body that holds it",
    )


@check("token-not-in-output", "SHOULD", "RFC6750-5.3", "the client never prints an access token")
def _token_output(obs: Observation) -> Result:
    return _output_verdict(
        obs, "token", "an access token",
        "a logged token can be replayed until it expires; log that you have one, not its value",
    )
