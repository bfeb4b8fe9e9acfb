"""Secret hygiene, judged in every scenario, by value: the client secret and every token
issued are sought in all their spellings (m2m_contract._secrets). Pure functions.

The secret may travel only in the token request's body and its Basic header; a token only in
the Authorization header of an API request. Anywhere else is a failure that says where, and
in which spelling (never the value). Reversed or case-changed values are out of scope.

Clauses: "partner §1/§2" is the partner document (client-credentials-auth-flow.md);
"RFC6749-x" and "RFC6750-x" are sections of those RFCs; "Auth0" is Auth0's guidance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from .._secrets import Finding, Kind
from ._catalogue import Result, check, failed, passed
from ._model import Observation

Place = tuple[int, str, list[Finding]]  # (journal seq, where, what was found)
Part = tuple[int, str, str, str | bytes]  # (journal seq, part kind, where, text)


def _headers(seq: int, of: str, headers: Iterable[tuple[str, str]], auth: str) -> Iterator[Part]:
    """Each header as `name: value` (a value in a header's name is found too); the
    Authorization header is the part `auth`: where a credential may travel, or not."""
    for name, value in headers:
        part = auth if name == "authorization" else "header"
        yield seq, part, f"the {name.title()} header of {of}", f"{name}: {value}"


def _parts(obs: Observation) -> Iterator[Part]:
    """Every part of every request the client made, named for a message: URL, each header
    and the body, of token requests, API calls and anything else it sent."""
    for t in obs.token_calls:
        of = f"token request {t.n}"
        yield t.seq, "url", f"the URL of {of}", "&".join(f"{k}={v}" for k, v in t.query)
        yield from _headers(t.seq, of, t.headers, "token authorization")
        yield t.seq, "token body", f"the body of {of}", "&".join(f"{k}={v}" for k, v in t.pairs)
    for a in obs.api_calls:
        of = f"API call {a.n}"
        yield a.seq, "url", f"the URL of {of}", f"{a.path}?{a.query_string}"
        yield from _headers(a.seq, of, a.headers, "api authorization")
        yield a.seq, "body", f"the body of {of}", a.body
    for o in obs.other_calls:
        of = f"{o.kind} request {o.n}"
        yield o.seq, "url", f"the URL of {of}", f"{o.path}?{o.query_string}"
        yield from _headers(o.seq, of, o.headers, "header")
        # A token request sent to a wrong path is token-request-path's failure, not a leak.
        body = "stray body" if o.kind == "other" else "body"
        yield o.seq, body, f"the body of {of}", o.body


def _places(obs: Observation, kind: Kind, parts: Callable[[Part], bool]) -> list[Place]:
    """Where `kind` (secret or token) shows up in the parts `parts` selects."""
    places: list[Place] = []
    for part in _parts(obs):
        seq, _, where, text = part
        if parts(part) and text and (found := obs.known.find(text, kind)):
            places.append((seq, obs.known.redact(where), found))  # a header's name may leak
    return places


def _in_url(part: Part) -> bool:
    return part[1] == "url"


def _secret_misplaced(part: Part) -> bool:
    """The secret belongs in the token request's body or its Basic header, nowhere else (a
    token request to a wrong path fails token-request-path instead)."""
    kind, text = part[1], part[3]
    if kind == "token authorization" and isinstance(text, str):
        return not text.partition(": ")[2].lower().startswith("basic ")
    return kind not in ("url", "token body", "stray body")


def _token_misplaced(part: Part) -> bool:
    """A token belongs in the Authorization header of an API call, nowhere else."""
    return part[1] not in ("url", "api authorization")


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
        _places(obs, "secret", _in_url),
        "the client secret",
        "URLs end up in logs, proxies and browser history; send the secret only in the token "
        "request's body (or its Basic header)",
        "no URL carried the secret",
    )


@check("secret-not-in-api-request", "MUST", "partner §2",
       "the client secret never reaches the API or any other endpoint, and travels only in "
       "the token request's body or Basic header")
def _secret_api(obs: Observation) -> Result:
    return _verdict(
        _places(obs, "secret", _secret_misplaced),
        "the client secret",
        "the secret belongs in the token request's body (or its Basic header) only; the API "
        "gets the access token",
        "the secret travelled only in the token request's body or Basic header",
    )


@check("token-not-in-url", "SHOULD", "RFC6750-2.3", "an access token is never sent in a URL")
def _token_url(obs: Observation) -> Result:
    return _verdict(
        _places(obs, "token", _in_url),
        "an access token",
        "send it in the Authorization header (RFC 6750 §2.1); URLs are logged",
        "no URL carried a token",
    )


@check("token-only-in-authorization", "SHOULD", "RFC6750-2.1",
       "an access token travels only in the Authorization header of API calls (not in a "
       "cookie, another header, a body, or a request to the token endpoint or elsewhere)")
def _token_elsewhere(obs: Observation) -> Result:
    return _verdict(
        _places(obs, "token", _token_misplaced),
        "an access token",
        "send it only as `Authorization: Bearer <token>` to the API (RFC 6750 §2.1); other "
        "headers, cookies and bodies are logged and cached, and other endpoints need no token",
        "tokens travelled only in API calls' Authorization headers",
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
