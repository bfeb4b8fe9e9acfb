"""The evidence behind a verdict: one scenario's exchanges as diagram steps and as text.

Every label is redacted (secrets and tokens, in any spelling the vocabulary knows) before it
is cut or shown, and control characters are made visible. Requests are named in their own
sequence ("token request 2", "API call 3"), the way check messages name them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from ..contract import ApiCall, ForeignCall, Observation, OtherCall, TokenCall
from ._text import ellipsize, visible

Hide = Callable[[str], str]
Call = TokenCall | ApiCall | OtherCall | ForeignCall
PARTICIPANTS = {
    "C": "Client",
    "A": "Auth0 emulator",
    "R": "Protected API",
    "O": "Other origin",
}
OUTPUT_LINES = 8  # the client's last output lines shown under a failure
_SHOWN_PARAMS = ("grant_type", "scope", "audience", "client_id")


def _calls(obs: Observation) -> list[Call]:
    calls: list[Call] = [*obs.token_calls, *obs.api_calls, *obs.other_calls]
    calls.sort(key=lambda c: c.seq)
    return [*calls, *obs.foreign_calls]  # the other origin's journal comes last


def start_of(obs: Observation) -> float:
    """The time the scenario's first exchange arrived (what every '+t' counts from)."""
    times = [c.at for c in _calls(obs)] + list(obs.handshakes)
    return min(times, default=0.0)


def name_of(call: Call) -> str:
    if isinstance(call, TokenCall):
        return f"token request {call.n}"
    if isinstance(call, ApiCall):
        return f"API call {call.n}"
    if isinstance(call, ForeignCall):
        return f"other-origin request {call.n}"
    return f"{call.kind} request {call.n}" if call.kind != "other" else f"request {call.n}"


def _value(value: Any, hide: Hide) -> str:
    """A parameter's value as shown: redacted first, then cut (never the other way round)."""
    shown = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return ellipsize(hide(shown), 60)


def _token_request(call: TokenCall, hide: Hide) -> str:
    if call.method != "POST":
        return f"{call.method} /oauth/token"
    names = [k for k, _ in call.pairs]
    shown = []
    for name in dict.fromkeys(names):
        values = call.values(name)
        if name in _SHOWN_PARAMS:
            text = ", ".join(
                f'"{_value(v, hide)}"' if isinstance(v, str) else _value(v, hide) for v in values
            )
            shown.append(f"{name}: {text}")
        else:
            shown.append(name)
    body = f"{call.encoding}{{{', '.join(shown)}}}" if call.encoding != "none" else "no body"
    query = " ?" + "&".join(k for k, _ in call.query) if call.query else ""
    return f"POST /oauth/token{query} {body}{' +Basic' if call.basic else ''}"


def _token_answer(call: TokenCall) -> str | None:
    if call.answered is None:
        return None
    body = call.response
    if call.status == 200 and body is None:
        return "200 (not JSON)"
    error = body.get("error") if body else None
    if error:
        said = f"{call.status} {str(error)[:40]}"
        return f"{said}, Retry-After {call.retry_after:g}" if call.retry_after else said
    if 300 <= call.status < 400:
        return f"{call.status} redirect"
    if call.issued_token:
        return f"{call.status} token (expires_in {call.expires_in or 0:g} s)"
    if call.status == 200 and body is not None:
        if "access_token" not in body:
            return "200 without access_token"
        return f"200 token_type {str(body.get('token_type'))[:20]!r}"
    return str(call.status)


def _api_request(call: ApiCall, obs: Observation) -> str:
    if call.authorization is None:
        auth = "no Authorization"
    else:
        scheme, _, rest = call.authorization.partition(" ")
        source = obs.issued_tokens.get(call.bearer or "")
        if scheme.lower() != "bearer":
            auth = "another scheme than Bearer"
        elif source is not None:
            auth = f"Bearer, the token of token request {source.n}"
        elif rest in ("None", "undefined", "null", ""):
            auth = f"Bearer {rest or '(empty)'}"
        else:
            auth = "Bearer, a token never issued"
    return f"{call.method} {call.path} [{auth}]"


def _step(
    call: Call, obs: Observation, start: float, culprits: set[int], hide: Hide
) -> dict[str, Any]:
    answer: str | None
    if isinstance(call, TokenCall):
        target, request, answer = "A", _token_request(call, hide), _token_answer(call)
    elif isinstance(call, ApiCall):
        target, request = "R", _api_request(call, obs)
        answer = None if call.answered is None else f"{call.status}" + (
            f" {call.error}" if call.error else ""
        )
    elif isinstance(call, ForeignCall):
        target, request, answer = "O", f"{call.method} {call.path}", str(call.status)
    else:
        target, request, answer = "A", f"{call.method} {call.path}", str(call.status)
    return {
        "at": round(call.at - start, 3),
        "from": "C",
        "to": target,
        "name": name_of(call),
        "request": request,
        "answer": answer,
        "culprit": call.seq in culprits,
    }


def diagram(
    obs: Observation, culprits: Iterable[int], note: str, hide: Hide
) -> dict[str, Any]:
    """The diagram model of one scenario (every label redacted, then made visible)."""
    marked, start = set(culprits), start_of(obs)
    steps: list[dict[str, Any]] = [
        {"at": round(at - start, 3), "from": "C", "to": "A", "name": "TLS handshake",
         "request": "TLS ClientHello", "answer": None, "culprit": False}
        for at in obs.handshakes
    ]
    steps += [_step(call, obs, start, marked, hide) for call in _calls(obs)]
    steps.sort(key=lambda s: s["at"])
    for step in steps:
        step["request"] = visible(hide(f"{step['name']}: {step['request']}"))
        if step["answer"] is not None:
            step["answer"] = visible(hide(step["answer"]))
        del step["name"]
    used = {"C"} | {s["to"] for s in steps}
    return {
        "participants": [{"id": k, "label": v} for k, v in PARTICIPANTS.items() if k in used],
        "steps": steps,
        "note": visible(hide(note)),
    }


def evidence(obs: Observation, model: dict[str, Any], hide: Hide, limit: int = 14) -> str:
    """The diagram as lines of text, culprits marked '!!', then how the client ended."""
    steps = model["steps"]
    lines = []
    for step in steps[:limit]:
        flag = "!!" if step["culprit"] else "  "
        answer = step["answer"] if step["answer"] is not None else "no answer"
        lines.append(f"{flag} +{step['at']:.2f} s {step['request']} -> {answer}")
    if len(steps) > limit:
        lines.append(f"   ... {len(steps) - limit} more exchange(s)")
    lines.append(f"   client {ending(obs)}")
    output = last_lines(obs, hide)
    if output:
        lines.append(f"   client output (last {len(output)} lines, redacted):")
        lines += [f"     | {line}" for line in output]
    return "\n".join(lines)


def ending(obs: Observation, *, timed: bool = True) -> str:
    """How the client ended, in a few words ('exited with status 1 after 0.42 s')."""
    out = obs.outcome
    if out.error is not None:
        return f"could not start: {out.error}"
    if out.timed_out:
        return f"killed at the {out.limit:g} s limit"
    after = f" after {out.elapsed:.2f} s" if out.elapsed and timed else ""
    return f"exited with status {out.exit_code}{after}"


def last_lines(obs: Observation, hide: Hide, count: int = OUTPUT_LINES) -> list[str]:
    """The client's last non-empty output lines, redacted, control characters visible."""
    lines = [line for line in obs.outcome.output.splitlines() if line.strip()]
    return [ellipsize(visible(hide(line)), 200) for line in lines[-count:]]
