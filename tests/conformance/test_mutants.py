"""Mutation proof: each deliberately broken client is caught by the check meant for it,
and by no unrelated MUST check."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from m2m_contract.harness import (
    ClientRunner,
    CommandRunner,
    ConformanceSession,
    Options,
)

from . import clients

PROGRAMS = Path(__file__).parent / "programs"
CURL = f"sh {PROGRAMS / 'curl_client.sh'}"
SHORT_STALL = 3.0  # the stall budget for these tests (verify's is 18 s)
NODE = f"node {PROGRAMS / 'node_client.mjs'}"


@dataclass(frozen=True)
class Mutant:
    name: str
    client: str  # "py:<knob>=<value>,..." or a command
    scenarios: tuple[str, ...]
    caught_by: str
    consequences: frozenset[str] = field(default_factory=frozenset)

    def runner(self) -> ClientRunner:
        return runner_for(self.name, self.client)


def runner_for(name: str, client: str) -> ClientRunner:
    """A runner for "py:<knob>=<value>,..." (the Python client) or a command."""
    if client.startswith("py:"):
        return clients.runner(f"mutant:{name}", client[3:])
    return CommandRunner.from_string(client)


FAILS = frozenset({"client-succeeds"})
# Presenting a junk token twice (after the API rejected it) is part of the same mistake.
JUNK = frozenset({"no-api-call-without-token", "api-rejected-token-not-reused"})

MUTANTS = [
    Mutant(
        "comma-scope", "py:body=comma-scope", ("scope-list",), "token-request-scope-format", FAILS
    ),
    Mutant("array-scope", "py:body=array-scope", ("scope-list",), "token-request-scope-format"),
    Mutant(
        "double-space-scope",
        "py:scope_override=read:members  read:appointments",
        ("happy-path",),
        "token-request-scope-format",
        frozenset({"token-request-scope-as-configured"}),
    ),
    Mutant(
        "wrong-grant-type",
        "py:grant_type=client-credentials",
        ("happy-path",),
        "token-request-grant-type",
        FAILS,
    ),
    Mutant(
        "missing-grant-type",
        "py:grant_type=None",
        ("happy-path",),
        "token-request-required-params",
        FAILS,
    ),
    Mutant("secret-in-query", "py:body=query-secret", ("happy-path",), "secret-not-in-url"),
    Mutant("no-caching", "py:cache=False", ("token-reuse",), "token-reused"),
    Mutant(
        "refresh-grant-after-expiry",
        "py:refresh_grant_after_expiry=True",
        ("refresh-token-offered",),
        "token-request-no-refresh-grant",
        FAILS | {"token-request-grant-type", "token-refetched-after-expiry"},
    ),
    Mutant(
        "uses-expired-token",
        "py:refetch_on_expiry=False,retry_api_401=none",
        ("expiry",),
        "api-token-not-expired",
        FAILS | {"token-refetched-after-expiry", "api-rejected-token-not-reused"},
    ),
    Mutant(
        "ignores-401-reuses-token",
        "py:retry_api_401=same-token",
        ("revoked-token", "api-rejects-token"),
        "api-rejected-token-not-reused",
    ),
    Mutant(
        "retry-storm-on-api-401",
        "py:retry_api_401=storm",
        ("api-rejects-token",),
        "api-rejection-bounded",
    ),
    Mutant(
        "retry-storm-on-token-401",
        "py:retry_on_401_token=5",
        ("bad-credentials",),
        "no-retry-storm-on-rejection",
    ),
    Mutant(
        "ignores-retry-after",
        "py:honour_retry_after=False",
        ("rate-limited",),
        "rate-limit-retry-after",
    ),
    Mutant(
        "bearer-none-after-malformed",
        "py:bearer_junk_on_bad_response=True",
        ("malformed-token-response",),
        "api-token-issued",
        JUNK,
    ),
    Mutant(
        "api-call-despite-401",
        "py:api_call_despite_failure=True",
        ("bad-credentials",),
        "no-api-call-without-token",
        JUNK | {"api-token-issued"},
    ),
    Mutant("prints-secret", "py:print_secret=True", ("happy-path",), "secret-not-in-output"),
    Mutant("prints-token", "py:print_token=True", ("happy-path",), "token-not-in-output"),
    Mutant("wrong-auth-scheme", "py:scheme=Token", ("happy-path",), "api-bearer-header", FAILS),
    Mutant("form-body", "py:body=form", ("happy-path",), "token-request-json-body"),
    Mutant(
        "basic-and-body-secret",
        "py:basic_and_body=True",
        ("happy-path",),
        "token-request-single-auth-method",
        FAILS | {"token-request-secret-in-body"},
    ),
    Mutant(
        "sends-password",
        "py:extra_params=password",
        ("happy-path",),
        "token-request-no-user-credentials",
    ),
    Mutant("ignores-audience", "py:send_audience=False", ("scope-list",), "token-request-audience"),
    Mutant(
        "hard-coded-scope",
        "py:scope_override=read:members",
        ("scope-list",),
        "token-request-scope-as-configured",
    ),
    Mutant(
        "wrong-token-path",
        "py:wrong_path=True",
        ("happy-path",),
        "token-request-path",
        FAILS | {"client-requests-token"},
    ),
    # The scenarios of the deterministic-verdicts issue, each broken once in Python...
    Mutant(
        "never-requests-a-token",
        "py:no_request=True",
        ("happy-path", "untrusted-certificate"),
        "client-requests-token",
        FAILS,
    ),
    Mutant(
        "token-per-thread",
        "py:concurrency=per-thread",
        ("concurrent-calls",),
        "token-single-flight",
    ),
    Mutant(
        "tls-verification-off",
        "py:verify_tls=False",
        ("untrusted-certificate",),
        "certificate-verified",
        frozenset({"client-fails-cleanly", "no-api-call-without-token"}),
    ),
    Mutant(
        "follows-token-redirect",
        "py:follow_redirects=True",
        ("token-redirect",),
        "secret-not-sent-to-other-origin",
    ),
    Mutant(
        "no-timeout",
        "py:timeout=None",
        ("token-endpoint-stall",),
        "token-endpoint-stall-gives-up",
    ),
    Mutant(
        "bearer-none-after-reset",
        "py:network_error=junk",
        ("connection-reset",),
        "api-token-issued",
        frozenset({"client-succeeds"}),
    ),
    Mutant(
        "exit-0-after-reset",
        "py:network_error=exit0",
        ("connection-reset",),
        "connection-reset-outcome",
    ),
    Mutant(
        "bearer-none-without-access-token",
        "py:bearer_junk_on_bad_response=True",
        ("missing-access-token",),
        "api-token-issued",
        JUNK,
    ),
    Mutant(
        "mac-token-as-bearer",
        "py:accept_any_token_type=True",
        ("wrong-token-type",),
        "api-token-issued",
        frozenset({"client-fails-cleanly", "no-api-call-without-token"}),
    ),
    Mutant(
        "mac-token-as-mac",
        "py:accept_any_token_type=True,scheme=token_type",
        ("wrong-token-type",),
        "no-api-call-without-token",
        frozenset({"api-bearer-header"}),
    ),
    Mutant(
        "drops-audience-on-refetch",
        "py:audience_on_refetch=False",
        ("expiry", "refresh-token-offered", "revoked-token"),
        "token-request-audience",
        FAILS | {"invalid-token-refetched", "api-rejected-token-not-reused"},
    ),
    # Programs in other languages, broken through M2M_MUTATION.
    Mutant(
        "curl-comma-scope",
        f"env M2M_MUTATION=comma-scope {CURL}",
        ("scope-list",),
        "token-request-scope-format",
        FAILS,
    ),
    Mutant(
        "curl-secret-in-query",
        f"env M2M_MUTATION=query-secret {CURL}",
        ("happy-path",),
        "secret-not-in-url",
    ),
    Mutant(
        "curl-prints-secret",
        f"env M2M_MUTATION=print-secret {CURL}",
        ("happy-path",),
        "secret-not-in-output",
    ),
    Mutant(
        "curl-bearer-none",
        f"env M2M_MUTATION=no-token-check {CURL}",
        ("malformed-token-response",),
        "api-token-issued",
        JUNK,
    ),
    Mutant(
        "node-array-scope",
        f"env M2M_MUTATION=array-scope {NODE}",
        ("scope-list",),
        "token-request-scope-format",
    ),
    Mutant("node-no-cache", f"env M2M_MUTATION=no-cache {NODE}", ("token-reuse",), "token-reused"),
    Mutant(
        "node-refresh-grant",
        f"env M2M_MUTATION=refresh-grant {NODE}",
        ("refresh-token-offered",),
        "token-request-no-refresh-grant",
        FAILS | {"token-request-grant-type", "token-refetched-after-expiry"},
    ),
    Mutant(
        "node-token-scheme",
        f"env M2M_MUTATION=token-scheme {NODE}",
        ("happy-path",),
        "api-bearer-header",
        FAILS,
    ),
    Mutant(
        "node-bearer-undefined",
        f"env M2M_MUTATION=bearer-undefined {NODE}",
        ("malformed-token-response", "missing-access-token"),
        "api-token-issued",
        JUNK,
    ),
    # ...and in curl or Node.
    Mutant(
        "curl-never-requests-a-token",
        f"env M2M_MUTATION=no-request {CURL}",
        ("happy-path",),
        "client-requests-token",
        FAILS,
    ),
    Mutant(
        "node-no-single-flight",
        f"env M2M_MUTATION=no-single-flight {NODE}",
        ("concurrent-calls",),
        "token-single-flight",
    ),
    Mutant(
        "curl-insecure",
        f"env M2M_MUTATION=insecure {CURL}",
        ("untrusted-certificate",),
        "certificate-verified",
        frozenset({"client-fails-cleanly", "no-api-call-without-token"}),
    ),
    Mutant(
        "node-tls-reject-unauthorized-0",
        f"env NODE_TLS_REJECT_UNAUTHORIZED=0 {NODE}",
        ("untrusted-certificate",),
        "certificate-verified",
        frozenset({"client-fails-cleanly", "no-api-call-without-token"}),
    ),
    Mutant(
        "curl-follows-redirect",
        f"env M2M_MUTATION=follow-redirect {CURL}",
        ("token-redirect",),
        "secret-not-sent-to-other-origin",
    ),
    Mutant(
        "node-follows-redirect",
        f"env M2M_MUTATION=follow-redirect {NODE}",
        ("token-redirect",),
        "secret-not-sent-to-other-origin",
    ),
    Mutant(
        "curl-no-timeout",
        f"env M2M_MUTATION=no-timeout {CURL}",
        ("token-endpoint-stall",),
        "token-endpoint-stall-gives-up",
    ),
]


def _needs(client: str) -> str | None:
    for tool in ("node", "curl"):
        if tool in client and shutil.which(tool) is None:
            return tool
    return None


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_broken_client_is_caught_by_its_check_and_no_unrelated_must(mutant: Mutant) -> None:
    missing = _needs(mutant.client)
    if missing:
        pytest.fail(f"{missing} is required for this test (the CI installs it)")
    session = ConformanceSession(mutant.runner(), Options(stall_budget=SHORT_STALL))
    results = session.results(mutant.scenarios)
    caught = [r for r in results if r.id == mutant.caught_by and r.status in ("failed", "warning")]
    assert caught, f"{mutant.caught_by} did not catch {mutant.name}: " + "; ".join(
        f"{r.scenario}:{r.id}={r.status} {r.message}" for r in results if r.id == mutant.caught_by
    )
    unrelated = {
        f"{r.scenario}:{r.id}"
        for r in results
        if r.status == "failed" and r.id != mutant.caught_by and r.id not in mutant.consequences
    }
    assert not unrelated, f"{mutant.name} also tripped unrelated MUST checks: {sorted(unrelated)}"


def test_the_corpus_covers_many_checks_and_several_languages() -> None:
    assert len(MUTANTS) >= 20
    assert len({m.caught_by for m in MUTANTS}) >= 18
    assert any(m.client.startswith("env") and "curl_client" in m.client for m in MUTANTS)
    assert any("node_client" in m.client for m in MUTANTS)


def test_reports_of_a_leaky_client_never_hold_its_secret_or_tokens() -> None:
    leaky = clients.runner("leaky", "print_secret=True,print_token=True,body=query-secret")
    session = ConformanceSession(leaky, Options())
    results = session.results(["happy-path", "token-reuse"])
    observations = [session.observation(s) for s in ("happy-path", "token-reuse")]
    secrets = {s for obs in observations for s in obs.secrets}
    assert len(secrets) >= 3  # two secrets and at least one token
    failing = [r for r in results if r.status in ("failed", "warning")]
    assert {"secret-not-in-url", "secret-not-in-output", "token-not-in-output"} <= {
        r.id for r in failing
    }
    for result in results:
        text = json.dumps(result.to_json())
        assert not any(secret in text for secret in secrets), result.id
