"""The named scenarios of DESIGN.md: how each sets up the emulator and what the client is told.

One fault per scenario, so that every fault meets a fresh client. Timings are chosen with the
tolerances of `contract._rules`: see docs/conformance.md, "Time and tolerances".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from ..contract import STALL_BUDGET
from ..emulator import DEFAULT_AUDIENCE, Emulator, Fault, Tenant, default_tenant

ALL_SCOPES = "read:members read:appointments write:transactions"
# Expiry-type scenarios: 2 s tokens and five calls 1.5 s apart. The fourth call comes at least
# 4.5 s after the token was issued (a slow run only makes it later): 2.5 s past expiry, beyond
# the 2 s tolerance, so a client that ignores expiry is caught on every run, and is refused by
# the API by its fourth call at the latest, so the fifth shows, on every run, what it does with
# a refused token. No correct client is judged in between.
SHORT_LIFETIME = 2
EXPIRY_CALLS, EXPIRY_INTERVAL_MS = 5, 1500
# concurrent-calls: the token endpoint answers after this long, so the 8 calls overlap it.
SLOW_TOKEN = 0.2
RATE_LIMIT_RETRY_AFTER = 2
_ACCESS_DENIED = {"error": "access_denied", "error_description": "Unauthorized"}


@dataclass(frozen=True)
class Stage:
    """What a scenario's faults may need to know about the run being set up."""

    emulator: Emulator
    other_origin: str | None = None  # base URL of the other origin, when the scenario has one


Faults = Callable[[Stage], list[Fault]]


def _short_lived(seconds: int) -> Callable[[Tenant], Tenant]:
    def tweak(tenant: Tenant) -> Tenant:
        apis = tuple(dataclasses.replace(api, token_lifetime=seconds) for api in tenant.apis)
        return dataclasses.replace(tenant, apis=apis)

    return tweak


def _same(tenant: Tenant) -> Tenant:
    return tenant


def _none(stage: Stage) -> list[Fault]:
    return []


@dataclass(frozen=True)
class Scenario:
    """One run of the client against an emulator set up for it."""

    name: str
    summary: str
    scope: str = "read:members"
    audience: str = ""
    api_calls: int = 1
    api_interval_ms: int = 0
    api_concurrency: int = 1
    secret_override: str | None = None  # the client is given this secret instead of the real one
    tenant: Callable[[Tenant], Tenant] = _same
    faults: Faults = field(default=_none)
    untrusted_tls: bool = False  # served over HTTPS with a CA the client is not given
    other_origin: bool = False  # a second listener the faults may point to

    def build_tenant(self, client_id: str, secret: str, leeway: float) -> Tenant:
        """The built-in tenant with this run's own secret, tweaked for the scenario."""
        base = default_tenant()
        client = dataclasses.replace(base.clients[0], client_id=client_id, client_secret=secret)
        # The API honours a token for `leeway` past its expires_in, counted from when it was
        # issued: the expiry checks' own tolerance and clock, so the two never disagree.
        tenant = dataclasses.replace(
            base, clients=(client,), api_leeway=leeway, api_expiry="issued"
        )
        return self.tenant(tenant)


def _server_error(stage: Stage) -> list[Fault]:
    return [
        Fault.respond(
            "token",
            503,
            json={"error": "temporarily_unavailable", "error_description": "Service Unavailable"},
        ),
        Fault.html("token", 500),
    ]


def _redirect(stage: Stage) -> list[Fault]:
    location = f"{stage.other_origin}/oauth/token"
    return [Fault.respond("token", 307, headers={"Location": location}, times=None)]


def _invalid_token(times: int | None) -> Faults:
    def faults(stage: Stage) -> list[Fault]:
        return [
            Fault.respond(
                "api",
                401,
                json={"error": "invalid_token", "error_description": "The access token is invalid"},
                headers={"WWW-Authenticate": 'Bearer realm="m2m-contract", error="invalid_token"'},
                times=times,
            )
        ]

    return faults


def other_origin_faults() -> list[Fault]:
    """The other origin answers every token and API request with 401 access_denied."""
    return [
        Fault.respond(target, 401, json=_ACCESS_DENIED, times=None) for target in ("token", "api")
    ]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("happy-path", "issues a token; one API call with it"),
        Scenario(
            "scope-list",
            "several scopes and an audience are configured",
            scope=ALL_SCOPES,
            audience=DEFAULT_AUDIENCE,
        ),
        Scenario("no-scope", "no scope configured: scope should be omitted", scope=""),
        Scenario(
            "offline-access",
            "scope includes offline_access; no refresh_token is issued",
            scope="read:members offline_access",
        ),
        Scenario("token-reuse", "a long-lived token and five API calls", api_calls=5),
        Scenario(
            "concurrent-calls",
            f"8 API calls, 8 at once; the token endpoint takes {SLOW_TOKEN:g} s to answer",
            api_calls=8,
            api_concurrency=8,
            faults=lambda stage: [Fault.delayed("token", SLOW_TOKEN, times=None)],
        ),
        Scenario(
            "expiry",
            f"{SHORT_LIFETIME} s tokens, {EXPIRY_CALLS} API calls {EXPIRY_INTERVAL_MS} ms apart; "
            "an audience is configured",
            audience=DEFAULT_AUDIENCE,
            api_calls=EXPIRY_CALLS,
            api_interval_ms=EXPIRY_INTERVAL_MS,
            tenant=_short_lived(SHORT_LIFETIME),
        ),
        Scenario(
            "bad-credentials",
            "401 access_denied Unauthorized (wrong secret)",
            secret_override="wrong-secret-for-this-scenario",
        ),
        Scenario(
            "not-granted-scope",
            "403 Client has not been granted scopes",
            scope="read:members admin:everything",
        ),
        Scenario(
            "rate-limited",
            f"429 with Retry-After: {RATE_LIMIT_RETRY_AFTER} and X-RateLimit-*, then success",
            faults=lambda stage: [Fault.rate_limited(retry_after=RATE_LIMIT_RETRY_AFTER)],
        ),
        Scenario("server-error", "503 then 500 (HTML), then success", faults=_server_error),
        Scenario(
            "connection-reset",
            "the first token request's connection is reset before any answer, then success",
            faults=lambda stage: [Fault.reset("token")],
        ),
        Scenario(
            "token-endpoint-stall",
            f"the token endpoint reads the request and never answers ({STALL_BUDGET:g} s budget)",
            faults=lambda stage: [Fault.stall("token", times=None)],
        ),
        Scenario(
            "malformed-token-response",
            "200 with a body that is not JSON",
            faults=lambda stage: [Fault.malformed("non_json", times=None)],
        ),
        Scenario(
            "missing-access-token",
            "200 JSON without access_token",
            faults=lambda stage: [Fault.malformed("no_access_token", times=None)],
        ),
        Scenario(
            "wrong-token-type",
            'a real token, but token_type "mac"',
            faults=lambda stage: [Fault.malformed("wrong_token_type", times=None)],
        ),
        Scenario(
            "refresh-token-offered",
            f"{SHORT_LIFETIME} s tokens with a spurious refresh_token; calls spread past expiry; "
            "an audience is configured",
            audience=DEFAULT_AUDIENCE,
            api_calls=EXPIRY_CALLS,
            api_interval_ms=EXPIRY_INTERVAL_MS,
            tenant=_short_lived(SHORT_LIFETIME),
            faults=lambda stage: [Fault.refresh_token(times=None)],
        ),
        Scenario(
            "revoked-token",
            "the API answers 401 invalid_token once, then accepts a new token; an audience "
            "is configured",
            audience=DEFAULT_AUDIENCE,
            faults=_invalid_token(1),
        ),
        Scenario(
            "api-rejects-token",
            "the API answers 401 invalid_token to every request",
            faults=_invalid_token(None),
        ),
        Scenario(
            "untrusted-certificate",
            "the token URL is https, with a certificate from a CA in no bundle the client is given",
            untrusted_tls=True,
        ),
        Scenario(
            "token-redirect",
            "the token endpoint answers 307 to another origin, which answers 401 to everything",
            faults=_redirect,
            other_origin=True,
        ),
    )
}
