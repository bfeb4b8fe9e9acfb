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
from ..contract._model import STREAMS, Stream, signal_name
from ._text import counted, ellipsize, visible

Hide = Callable[[str], str]
Call = TokenCall | ApiCall | OtherCall | ForeignCall
PARTICIPANTS = {
    "C": "Client",
    "A": "Auth0 emulator",
    "R": "Protected API",
    "O": "Other origin",
}
OUTPUT_LINES = 8  # the client's last output lines shown under a failure
LABEL_LIMIT = 400  # display cells of one exchange's label (a stray path can be 8 KiB)
STDERR_MARK = "[stderr] "  # how the reports' one list of output lines marks stderr's
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
        rest = rest.lstrip(" ")
        source = obs.token_source(call)
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
        step["request"] = ellipsize(
            visible(hide(f"{step['name']}: {step['request']}")), LABEL_LIMIT
        )
        if step["answer"] is not None:
            step["answer"] = ellipsize(visible(hide(step["answer"])), LABEL_LIMIT)
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
        lines.append(f"   ... {counted(len(steps) - limit, 'more exchange')}")
    lines.append(f"   client {ending(obs)}")
    for stream, output in output_tail(obs, hide):
        kept = counted(len(output), "line")
        lines.append(f"   client output (last {kept} of {stream}, redacted):")
        lines += [f"     | {line}" for line in output]
    return "\n".join(lines)


def ending(obs: Observation, *, timed: bool = True) -> str:
    """How the client ended, after "client": 'exited with status 1 after 0.42 s', 'was
    killed by signal 11 (SIGSEGV)...'. Without `timed`, a short form for an "exit" field:
    'status 1', 'signal 11 (SIGSEGV)', 'killed at the 30 s limit' (it follows "exit")."""
    out = obs.outcome
    if out.error is not None:
        return out.ended
    if out.timed_out or out.exit_code is None:
        return _killed(obs, timed=timed)
    if not timed:
        number = out.killed_by
        return f"status {out.exit_code}" if number is None else (
            f"signal {number} ({signal_name(number)})"
        )
    after = f" after {out.elapsed:.2f} s" if out.elapsed else ""
    return f"{out.ended}{after}"


def _killed(obs: Observation, *, timed: bool) -> str:
    """Which limit killed the client: token-endpoint-stall's budget counts from the first
    token request (a client that sends none runs to the scenario timeout plus the budget),
    any other scenario's from the client's start."""
    out = obs.outcome
    if obs.scenario == "token-endpoint-stall":
        head = (
            f"killed {out.limit:g} s after its first token request"
            if obs.token_calls
            else "killed at the time limit (it sent no token request)"
        )
    else:
        head = f"killed at the {out.limit:g} s limit" if out.limit else "killed at the time limit"
    if not timed:
        return head
    return f"was {head}" + (f", {out.elapsed:.2f} s after it started" if out.elapsed else "")


def output_tail(
    obs: Observation, hide: Hide, count: int = OUTPUT_LINES
) -> list[tuple[Stream, list[str]]]:
    """The client's last `count` non-empty lines of each stream that has any: each stream
    redacted as one text before it is split (a value wrapped over lines is hidden too), then
    each line redacted, made visible and cut."""
    tails = [(stream, list(obs.printed(stream)[-count:])) for stream in STREAMS]
    return [
        (stream, [ellipsize(visible(hide(line)), 200) for line in lines])
        for stream, lines in tails
        if lines
    ]


def last_lines(obs: Observation, hide: Hide, count: int = OUTPUT_LINES) -> list[str]:
    """The client's last `count` non-empty lines of stdout, then of stderr, each marked
    STDERR_MARK (redacted and visible, as `output_tail` makes them): one list for the
    reports' output block."""
    return [
        f"{STDERR_MARK}{line}" if stream == "stderr" else line
        for stream, lines in output_tail(obs, hide, count)
        for line in lines
    ]
