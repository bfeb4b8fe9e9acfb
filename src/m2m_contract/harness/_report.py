"""Verdicts for one run, the evidence behind them, and the summary and JSON report."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._redact import redact
from ..contract import CATALOGUE, Check, Observation, Status
from ..contract._model import ApiCall, OtherCall, TokenCall

Call = TokenCall | ApiCall | OtherCall


@dataclass(frozen=True)
class CaseResult:
    """One check judged in one scenario, ready for a report (evidence redacted)."""

    id: str
    scenario: str
    status: Status
    severity: str
    clause: str
    message: str
    evidence: str
    mermaid: str = ""
    baseline: str | None = None  # "expected" (listed, failed) or "stale" (listed, passed)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["mermaid"]:
            del data["mermaid"]
        if data["baseline"] is None:
            del data["baseline"]
        return data


def _calls(obs: Observation) -> list[Call]:
    calls: list[Call] = [*obs.token_calls, *obs.api_calls, *obs.other_calls]
    return sorted(calls, key=lambda c: c.seq)


def _describe(call: Call, obs: Observation) -> tuple[str, str]:
    """(request, answer) in a few words each, secrets redacted."""
    if isinstance(call, TokenCall):
        shown = []
        for key, value in call.pairs[:8]:
            text = value if key not in ("client_secret", "refresh_token") else "***"
            shown.append(f"{key}: {json.dumps(text)[:60]}")
        auth = " +Basic" if call.basic else ""
        request = f"POST /oauth/token {call.encoding}{{{', '.join(shown)}}}{auth}"
        if call.method != "POST":
            request = f"{call.method} /oauth/token"
        answer = str(call.status)
        if call.response is not None:
            error = call.response.get("error")
            answer += f" {error}" if error else " token" if call.issued_token else " (no token)"
        elif call.status == 200:
            answer += " (not JSON)"
        return redact(request, obs.secrets), answer
    if isinstance(call, ApiCall):
        auth = "no Authorization"
        if call.authorization is not None:
            scheme = call.authorization.split(" ", 1)[0][:20]
            known = obs.issued_tokens.get(call.bearer or "")
            token = f"token from #{known.seq}" if known else "a token never issued"
            auth = f"scheme {scheme}, {token}"
        answer = f"{call.status}{' ' + call.error if call.error else ''}"
        return redact(f"{call.method} {call.path} [{auth}]", obs.secrets), answer
    return redact(f"{call.method} {call.path}", obs.secrets), str(call.status)


def evidence(
    obs: Observation, culprits: Iterable[int] = (), limit: int = 12, output_lines: int = 5
) -> str:
    """The run as a short sequence of exchanges, culprits marked with '!!'."""
    marked = set(culprits)
    lines = []
    for call in _calls(obs)[:limit]:
        request, answer = _describe(call, obs)
        flag = "!!" if call.seq in marked else "  "
        lines.append(f"{flag} #{call.seq} +{call.at - _start(obs):.2f}s {request} -> {answer}")
    extra = len(_calls(obs)) - limit
    if extra > 0:
        lines.append(f"   ... {extra} more exchange(s)")
    exit_code = "killed (time limit)" if obs.outcome.timed_out else obs.outcome.exit_code
    lines.append(f"   client exit status: {exit_code}")
    output = [line for line in obs.outcome.output.splitlines() if line.strip()][-output_lines:]
    if output:
        lines.append("   client output (last lines, redacted):")
        lines += [f"     | {redact(line, obs.secrets)[:200]}" for line in output]
    return "\n".join(lines)


def _start(obs: Observation) -> float:
    calls = _calls(obs)
    return calls[0].at if calls else 0.0


def mermaid(obs: Observation, culprits: Iterable[int] = (), limit: int = 20) -> str:
    """A Mermaid sequence diagram of the run (culprits noted)."""
    marked = set(culprits)
    out = [
        "sequenceDiagram",
        "    participant C as Client",
        "    participant A as Auth0 emulator",
        "    participant R as Protected API",
    ]
    for call in _calls(obs)[:limit]:
        request, answer = _describe(call, obs)
        target = "R" if isinstance(call, ApiCall) else "A"
        safe_req = request.replace(";", ",").replace("#", "")
        out.append(f"    C->>{target}: {safe_req}")
        out.append(f"    {target}-->>C: {answer}")
        if call.seq in marked:
            out.append(f"    Note over C,{target}: breaks the check")
    return "\n".join(out)


def judge(check: Check[Observation], obs: Observation, *, strict: bool) -> CaseResult:
    result = check.run(obs)
    status = check.status(result, strict)
    ev = mermaid_text = ""
    if status in ("failed", "warning"):
        ev = evidence(obs, result.culprits)
        mermaid_text = mermaid(obs, result.culprits)
    return CaseResult(
        check.id,
        obs.scenario,
        status,
        check.severity,
        check.clause,
        redact(result.message, obs.secrets),
        ev,
        mermaid_text,
    )


def summarise(results: Iterable[CaseResult]) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "warnings": 0, "skipped": 0}
    for r in results:
        key = "warnings" if r.status == "warning" else r.status
        counts[key] += 1
    return counts


def write_json(
    path: Path, results: list[CaseResult], *, client: str, profile: str, strict: bool
) -> None:
    payload = {
        "client": client,
        "profile": profile,
        "strict": strict,
        "summary": summarise(results),
        "checks": [r.to_json() for r in results],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


_MARK = {"passed": "ok", "failed": "FAIL", "warning": "warn", "skipped": "-"}


def table(results: list[CaseResult], *, client: str, profile: str, strict: bool) -> str:
    """The terminal summary: one block per scenario, one line per check that did not pass."""
    lines = [
        f"m2m-contract conformance: client {client} | profile {profile}"
        f"{' | strict' if strict else ''}"
    ]
    scenarios = list(dict.fromkeys(r.scenario for r in results))
    width = max((len(s) for s in scenarios), default=10)
    for scenario in scenarios:
        rows = [r for r in results if r.scenario == scenario]
        counts = summarise(rows)
        verdict = (
            "FAIL"
            if any(_counts_as_failure(r) for r in rows)
            else ("warn" if counts["warnings"] else "ok")
        )
        lines.append(
            f"  {scenario:<{width}}  {verdict:<4}  {counts['passed']} passed, "
            f"{counts['failed']} failed, {counts['warnings']} warnings, {counts['skipped']} skipped"
        )
        for r in rows:
            if r.status in ("failed", "warning") or r.baseline:
                note = f" [baseline: {r.baseline}]" if r.baseline else ""
                lines.append(
                    f"      {_MARK[r.status]:<4} {r.id} ({r.severity}, {r.clause}){note}: "
                    f"{r.message}"
                )
    total = summarise(results)
    lines.append(
        f"{total['passed']} passed, {total['failed']} failed, {total['warnings']} warnings, "
        f"{total['skipped']} skipped"
    )
    return "\n".join(lines)


def _counts_as_failure(result: CaseResult) -> bool:
    if result.baseline == "stale":
        return True
    return result.status == "failed" and result.baseline != "expected"


def catalogue_markdown() -> str:
    """docs/checks.md, generated from the catalogue."""
    out = [
        "# The checks",
        "",
        "Generated from `m2m_contract.contract` by `m2m-contract checks --markdown`; do not edit.",
        "",
        "MUST checks fail a run; SHOULD checks warn (and fail under `--strict`). Clauses: "
        "*partner §N* is the partner document (client-credentials-auth-flow.md), RFC6749-x / "
        "RFC6750-x / RFC6585-x are sections of those RFCs, *Auth0* is Auth0's documented "
        "guidance.",
        "",
        "| id | severity | clause | what it verifies | scenarios | profiles |",
        "|---|---|---|---|---|---|",
    ]
    for check in CATALOGUE.values():
        scenarios = ", ".join(sorted(check.scenarios)) if check.scenarios else "every scenario"
        profiles = ", ".join(sorted(check.profiles))
        out.append(
            f"| `{check.id}` | {check.severity} | {check.clause} | {check.title} | "
            f"{scenarios} | {profiles} |"
        )
    return "\n".join(out) + "\n"
