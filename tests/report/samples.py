"""Sample reports in the report model: a failing client, a passing one and a hostile one.

The failing client is a realistic partner mistake: a form body, comma-separated scopes and
an expired token presented after its expires_in ran out. Its evidence and output held the
client secret, redacted here the way the lead's report module does before rendering.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from m2m_contract._secrets import redact

SECRET = "s3cr3t-Pq7vXk2LmN9wR4tY"  # the scenario's client secret: never in a report
TOKEN_URL = "http://127.0.0.1:41783/oauth/token"

# id, severity, clause, title: the catalogue as docs/checks.md lists it
CATALOGUE = (
    ("token-request-method", "MUST", "RFC6749-3.2", "token requests use POST"),
    (
        "token-request-path",
        "MUST",
        "partner §1",
        "requests go to the documented token path and API, nowhere else",
    ),
    (
        "token-request-body-encoding",
        "MUST",
        "RFC6749-4.4.2",
        "the token request body is JSON or form-urlencoded and parses",
    ),
    (
        "token-request-json-body",
        "SHOULD",
        "partner §1",
        "the token request body is JSON, as the partner document shows",
    ),
    (
        "token-request-required-params",
        "MUST",
        "RFC6749-4.4.2",
        "client_id, client_secret and grant_type are present, non-empty strings",
    ),
    (
        "token-request-no-repeated-params",
        "MUST",
        "RFC6749-3.2",
        "no parameter appears more than once",
    ),
    (
        "token-request-grant-type",
        "MUST",
        "RFC6749-4.4.2",
        "grant_type is exactly client_credentials",
    ),
    (
        "token-request-no-refresh-grant",
        "MUST",
        "partner §1",
        "never uses or sends a refresh token (they are not permitted in this flow)",
    ),
    (
        "token-request-no-user-credentials",
        "MUST",
        "RFC6749-4.4",
        "no username or password parameters",
    ),
    (
        "token-request-scope-format",
        "MUST",
        "RFC6749-3.3",
        "scope, when sent, is one string of scopes separated by single spaces",
    ),
    (
        "token-request-scope-as-configured",
        "MUST",
        "partner §1",
        "the scopes requested are the scopes the client was configured with",
    ),
    (
        "token-request-omits-empty-scope",
        "SHOULD",
        "partner §1",
        "with no scope configured, scope is omitted",
    ),
    (
        "token-request-audience",
        "MUST",
        "Auth0",
        "audience is sent when configured, and only the configured one",
    ),
    ("secret-not-in-url", "MUST", "RFC6749-2.3.1", "the client secret never appears in a URL"),
    (
        "token-request-single-auth-method",
        "MUST",
        "RFC6749-2.3.1",
        "the client authenticates with one method per request",
    ),
    (
        "token-request-secret-in-body",
        "SHOULD",
        "partner §1",
        "the secret is sent in the body, as the partner document shows",
    ),
    (
        "api-bearer-header",
        "MUST",
        "RFC6750-2.1",
        "API requests carry 'Authorization: Bearer <token>'",
    ),
    (
        "api-token-issued",
        "MUST",
        "RFC6750-2.1",
        "the bearer token is one the server issued (never 'None', 'undefined' or junk)",
    ),
    (
        "api-token-not-expired",
        "MUST",
        "RFC6749-5.1",
        "a token is never presented after its expires_in has run out",
    ),
    (
        "api-rejected-token-not-reused",
        "MUST",
        "RFC6750-3.1",
        "a token the API rejected as invalid_token is not presented again unless re-issued",
    ),
    (
        "client-finishes",
        "MUST",
        "partner §2",
        "the client finishes within the scenario's time limit",
    ),
    (
        "client-succeeds",
        "MUST",
        "partner §2",
        "the client gets a token and every API call succeeds (exit 0)",
    ),
    (
        "client-fails-cleanly",
        "MUST",
        "partner §2",
        "the client exits non-zero when it cannot get a usable token or the API refuses it",
    ),
    (
        "no-api-call-without-token",
        "MUST",
        "partner §2",
        "no API request is made without a token from a successful token response",
    ),
    (
        "no-retry-storm-on-rejection",
        "MUST",
        "Auth0",
        "a rejected token request (401/403) is not retried more than once",
    ),
    (
        "token-reused",
        "SHOULD",
        "Auth0",
        "one token request serves every API call while the token is valid",
    ),
    (
        "token-refetched-after-expiry",
        "MUST",
        "RFC6749-4.4",
        "after expiry, a new token is fetched with client_credentials",
    ),
    (
        "rate-limit-retry-after",
        "MUST",
        "RFC6585-4",
        "after a 429, no token request is sent before Retry-After has passed",
    ),
    (
        "rate-limit-recovers",
        "MUST",
        "Auth0",
        "a client that retries after a 429 goes on to succeed",
    ),
    (
        "server-error-bounded-retries",
        "MUST",
        "Auth0",
        "5xx answers are retried a bounded number of times (at most 5 token requests)",
    ),
    (
        "server-error-backoff",
        "SHOULD",
        "Auth0",
        "retries after a 5xx wait (backoff) instead of firing at once",
    ),
    (
        "server-error-outcome",
        "MUST",
        "Auth0",
        "after 5xx answers the client either recovers or fails cleanly, never with a bad token",
    ),
    (
        "invalid-token-refetched",
        "SHOULD",
        "RFC6750-3.1",
        "after a 401 invalid_token the client fetches a new token and retries once",
    ),
    (
        "api-rejection-bounded",
        "MUST",
        "RFC6750-3.1",
        "when the API keeps rejecting tokens, the client gives up "
        "(≤ 2 token requests per API call)",
    ),
    ("secret-not-in-api-request", "MUST", "partner §2", "the client secret never reaches the API"),
    (
        "secret-not-in-output",
        "MUST",
        "partner prerequisites",
        "the client never prints its secret",
    ),
    ("token-not-in-output", "SHOULD", "RFC6750-5.3", "the client never prints an access token"),
)
# the scenarios a check runs in, where not every one
ONLY_IN: dict[str, tuple[str, ...]] = {
    "token-request-scope-as-configured": (
        "happy-path",
        "offline-access",
        "scope-list",
        "token-reuse",
    ),
    "token-request-omits-empty-scope": ("no-scope",),
    "client-succeeds": (
        "expiry",
        "happy-path",
        "no-scope",
        "offline-access",
        "refresh-token-offered",
        "scope-list",
        "token-reuse",
    ),
    "client-fails-cleanly": (
        "api-rejects-token",
        "bad-credentials",
        "malformed-token-response",
        "not-granted-scope",
    ),
    "no-api-call-without-token": (
        "bad-credentials",
        "malformed-token-response",
        "not-granted-scope",
    ),
    "no-retry-storm-on-rejection": ("bad-credentials", "not-granted-scope"),
    "token-reused": ("happy-path", "scope-list", "token-reuse"),
    "token-refetched-after-expiry": ("expiry", "refresh-token-offered"),
    "rate-limit-retry-after": ("rate-limited",),
    "rate-limit-recovers": ("rate-limited",),
    "server-error-bounded-retries": ("server-error",),
    "server-error-backoff": ("server-error",),
    "server-error-outcome": ("server-error",),
    "invalid-token-refetched": ("revoked-token",),
    "api-rejection-bounded": ("api-rejects-token",),
}

_TITLES = {cid: (severity, clause, title) for cid, severity, clause, title in CATALOGUE}
_SUMMARIES = {
    "happy-path": "issues a token",
    "scope-list": "three scopes and an audience configured",
    "no-scope": "no scope configured",
    "token-reuse": "long-lived token, five API calls",
    "expiry": "2 s tokens, calls 1.1 s apart",
    "bad-credentials": "the client is given a wrong secret: 401 access_denied",
    "rate-limited": "429 with Retry-After: 1 and X-RateLimit-*, then success",
    "server-error": "503, then 500 with an HTML body, then success",
    "revoked-token": "API answers 401 invalid_token once",
}
PARTICIPANTS = [
    {"id": "C", "label": "Client"},
    {"id": "A", "label": "Auth0 emulator"},
    {"id": "R", "label": "Protected API"},
    {"id": "O", "label": "Other origin"},
]
FORM = "POST /oauth/token form{client_id, client_secret: REDACTED, grant_type, scope: %s}"
COMMA_SCOPES = '"read:appointments,write:appointments"'
API = "GET /api/appointments [scheme Bearer, token from #%d]"


@dataclass
class Finding:
    """A check that did not pass in a scenario, with what the report shows of it."""

    id: str
    status: str  # "failed" or "warning"
    message: str
    steps: list[dict[str, Any]]
    note: str
    baseline: str | None = None


@dataclass
class Scenario:
    """One scenario of a sample run: its findings; every other applicable check passed."""

    name: str
    exit: str
    duration: float
    output: list[str]
    findings: list[Finding] = field(default_factory=list)
    skipped: tuple[str, ...] = ()
    dropped_lines: int = 0
    dropped_bytes: int = 0


def step(
    at: float, src: str, dst: str, request: str, answer: str | None, culprit: bool = False
) -> dict[str, Any]:
    return {
        "at": at, "from": src, "to": dst, "request": request, "answer": answer,
        "culprit": culprit,
    }  # fmt: skip


def evidence_of(steps: list[dict[str, Any]], exit_status: str, output: list[str]) -> str:
    """The evidence text as the harness writes it: exchanges, culprits marked '!!'."""
    lines = [
        f"{'!!' if s['culprit'] else '  '} #{i} +{s['at']:.2f}s {s['request']} -> "
        f"{s['answer'] if s['answer'] is not None else 'no answer'}"
        for i, s in enumerate(steps, start=1)
    ]
    lines.append(f"   client exit status: {exit_status}")
    if output:
        lines.append("   client output (last lines, redacted):")
        lines += [f"     | {line}" for line in output[-5:]]
    return "\n".join(lines)


def build(
    scenarios: list[Scenario],
    *,
    client: str = "node partner-client.js",
    suite: str = "conformance",
    profile: str = "loyaltyone",
    strict: bool = False,
    secrets: tuple[str, ...] = (SECRET,),
) -> dict[str, Any]:
    """A report in the lead's model, counts computed from the checks, strings redacted."""

    def clean(text: str) -> str:
        return redact(text, secrets)

    checks: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for sc in scenarios:
        found = {f.id: f for f in sc.findings}
        mine: list[dict[str, Any]] = []
        for cid, (severity, clause, title) in _TITLES.items():
            if sc.name not in ONLY_IN.get(cid, (sc.name,)) and cid not in found:
                continue
            entry: dict[str, Any] = {
                "id": cid, "scenario": sc.name, "status": "passed", "severity": severity,
                "clause": clause, "title": title, "message": "", "evidence": "",
            }  # fmt: skip
            if cid in sc.skipped:
                entry["status"] = "skipped"
                entry["message"] = "not applicable: no audience configured"
            if cid in found:
                f = found[cid]
                entry["status"] = f.status
                entry["message"] = clean(f.message)
                entry["evidence"] = clean(evidence_of(f.steps, sc.exit, sc.output))
                for s in f.steps:
                    s["request"] = clean(s["request"])
                entry["diagram"] = {
                    "participants": copy.deepcopy(PARTICIPANTS),
                    "steps": f.steps,
                    "note": clean(f.note),
                }
                if f.baseline:
                    entry["baseline"] = f.baseline
            mine.append(entry)
        counts = {
            "passed": sum(c["status"] == "passed" for c in mine),
            "failed": sum(c["status"] == "failed" for c in mine),
            "warnings": sum(c["status"] == "warning" for c in mine),
            "skipped": sum(c["status"] == "skipped" for c in mine),
        }
        verdict = "FAIL" if counts["failed"] else "warn" if counts["warnings"] else "ok"
        rows.append(
            {
                "name": sc.name,
                "summary": _SUMMARIES.get(sc.name, "a scenario of the sample run"),
                "verdict": verdict,
                "counts": counts,
                "exit": sc.exit,
                "duration": sc.duration,
                "output": {
                    "lines": [clean(line) for line in sc.output],
                    "dropped_lines": sc.dropped_lines,
                    "dropped_bytes": sc.dropped_bytes,
                },
            }
        )
        checks += mine
    summary = {
        key: sum(r["counts"][key] for r in rows)
        for key in ("passed", "failed", "warnings", "skipped")
    }
    return {
        "suite": suite,
        "client": client,
        "profile": profile,
        "strict": strict,
        "verdict": "failed" if summary["failed"] else "passed",
        "summary": summary,
        "scenarios": rows,
        "checks": checks,
    }


def _form_warning(scopes: str = COMMA_SCOPES) -> Finding:
    return Finding(
        "token-request-json-body",
        "warning",
        "the token request body is application/x-www-form-urlencoded; the partner document "
        "shows a JSON body",
        [step(0.0, "C", "A", FORM % scopes, "200 token", culprit=True)],
        "token-request-json-body: the token request was sent as a form body",
    )


def failing_report() -> dict[str, Any]:
    """A partner client that sends a form body, comma-separated scopes, and an expired token."""
    raw_output = [
        "partner-client 2.3.1 starting",
        f"POST {TOKEN_URL} client_secret={SECRET}",  # the client printed its secret
        "token ok, expires_in=2",
        "GET /api/appointments -> 200",
    ]
    happy = Scenario(
        "happy-path",
        "0",
        0.41,
        raw_output,
        [
            Finding(
                "token-request-scope-format",
                "failed",
                'scope "read:appointments,write:appointments" is not a space-separated list '
                '(a comma at position 17); send "read:appointments write:appointments"',
                [
                    step(0.0, "C", "A", FORM % COMMA_SCOPES, "200 token", culprit=True),
                    step(0.05, "C", "R", API % 1, "200"),
                ],
                "token-request-scope-format: scope holds a comma, not single spaces",
            ),
            _form_warning(),
            Finding(
                "secret-not-in-output",
                "failed",
                "the client printed its client secret (output line 2, shown redacted)",
                [
                    step(0.0, "C", "A", FORM % COMMA_SCOPES, "200 token"),
                    step(0.05, "C", "R", API % 1, "200"),
                ],
                "secret-not-in-output: the secret appears in the client's output",
            ),
        ],
    )
    expiry_steps = [
        step(0.0, "C", "A", FORM % COMMA_SCOPES, "200 token"),
        step(0.02, "C", "R", API % 1, "200"),
        step(1.13, "C", "R", API % 1, "200"),
        step(2.25, "C", "R", API % 1, "200"),
        step(3.37, "C", "R", API % 1, "401 invalid_token", culprit=True),
        step(4.48, "C", "R", API % 1, "401 invalid_token", culprit=True),
    ]
    expiry = Scenario(
        "expiry",
        "1",
        4.62,
        [
            "token ok, expires_in=2",
            "GET /api/appointments -> 200",
            "GET /api/appointments -> 200",
            "GET /api/appointments -> 200",
            "GET /api/appointments -> 401",
            "Error: request failed with status 401 (invalid_token)",
            "    at fetchAppointments (partner-client.js:88:11)",
        ],
        [
            Finding(
                "api-token-not-expired",
                "failed",
                "token #1 was presented 1.37 s after it expired (expires_in 2 s, tolerance 1 s)",
                copy.deepcopy(expiry_steps),
                "api-token-not-expired: token presented 1.37 s after it expired (tolerance 1 s)",
            ),
            Finding(
                "token-refetched-after-expiry",
                "failed",
                "no new token was requested after token #1 expired at +2.00 s",
                copy.deepcopy(expiry_steps),
                "token-refetched-after-expiry: one token request in 4.5 s with 2 s tokens",
            ),
            Finding(
                "client-succeeds",
                "failed",
                "the client exited with status 1; every API call should succeed",
                copy.deepcopy(expiry_steps[-2:]),
                "client-succeeds: exit status 1 after two 401 answers",
            ),
            _form_warning(),
        ],
        dropped_lines=14,
        dropped_bytes=1187,
    )
    storm = [step(0.0, "C", "A", FORM % COMMA_SCOPES, "429 too_many_requests")]
    storm += [
        step(0.01 + 0.02 * i, "C", "A", FORM % COMMA_SCOPES, "429 too_many_requests", True)
        for i in range(9)
    ]
    storm += [
        step(1.02, "C", "A", FORM % COMMA_SCOPES, "200 token"),
        step(1.05, "C", "R", API % 11, None),
    ]
    rate = Scenario(
        "rate-limited",
        "killed at the 30 s limit",
        30.0,
        ["retrying token request", "retrying token request", "calling API"],
        [
            Finding(
                "rate-limit-retry-after",
                "failed",
                "9 token requests were sent within 0.2 s of a 429 with Retry-After: 1",
                storm,
                "rate-limit-retry-after: retried 0.01 s after a 429 (Retry-After: 1 s)",
            ),
            Finding(
                "client-finishes",
                "failed",
                "the client was still running at the 30 s limit (its API call got no answer)",
                copy.deepcopy(storm[-2:]),
                "client-finishes: killed at the 30 s limit, waiting on an API call",
                baseline="expected",
            ),
        ],
    )
    reuse = Scenario(
        "token-reuse",
        "0",
        0.52,
        ["token ok, expires_in=86400"] + ["GET /api/appointments -> 200"] * 5,
        [_form_warning()],
    )
    bad = Scenario(
        "bad-credentials",
        "1",
        0.2,
        ["Error: token request failed: 401 access_denied"],
        skipped=("token-request-audience",),
    )
    return build([happy, expiry, rate, reuse, bad])


def passing_report() -> dict[str, Any]:
    """The reference client: every scenario passes."""
    names = ["happy-path", "scope-list", "token-reuse", "expiry", "bad-credentials"]
    return build(
        [Scenario(name, "0" if name != "bad-credentials" else "1", 0.3, []) for name in names],
        client="m2m-contract reference-client",
    )


HOSTILE = (
    "<script>alert(1)</script>\"'><img src=x onerror=alert(2)> | pipe; semi # hash "
    "-->> ->> %0A\n%%{init: {'theme':'forest'}}%% ``` ~~~ </details> </code> **bold** "
    "[link](https://evil.example/x) ![i](//evil.example/i.png) @octocat \x1b[31mred\x1b[0m "
    "a<br>b<br/>c "
    "\r\n\t\x00\x07 \u202eRTL\u202c 日本語 🔑 ß ¶ß ﬂ° style:x#1; classDef \ud800 end"
)


def hostile_report() -> dict[str, Any]:
    """Every string field holds markup, Markdown, Mermaid syntax, controls and 10 kB."""
    long = "GET /" + "A" * 10_000 + HOSTILE
    steps = [
        step(0.0, "C", "A", HOSTILE, HOSTILE, culprit=True),
        step(0.5, "C", "R", long, None),
        step(1.0, "C", "C", HOSTILE, HOSTILE),  # a step to itself
    ]
    report = build(
        [
            Scenario(
                HOSTILE,
                HOSTILE,
                1.0,
                [HOSTILE, long],
                [Finding("api-token-issued", "failed", HOSTILE, steps, HOSTILE)],
            )
        ],
        client=HOSTILE,
        profile=HOSTILE,
    )
    for entry in report["checks"]:
        entry.update(title=HOSTILE, clause=HOSTILE, severity="MUST")
        entry["id"] = HOSTILE if entry["status"] == "failed" else entry["id"]
        if "diagram" in entry:
            entry["diagram"]["participants"] = [
                {"id": "C", "label": HOSTILE},
                {"id": "A", "label": "end"},
                {"id": "R", "label": long},
            ]
    report["scenarios"][0]["summary"] = HOSTILE
    return report
