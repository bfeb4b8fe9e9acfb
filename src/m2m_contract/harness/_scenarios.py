"""The named scenarios of DESIGN.md: how each configures the emulator and the client."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from ..emulator import DEFAULT_AUDIENCE, Emulator, Fault, Tenant, default_tenant

ALL_SCOPES = "read:members read:appointments write:transactions"
_RATE_LIMITED = {
    "error": "too_many_requests",
    "error_description": "Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining "
    "and X-RateLimit-Reset headers.",
}


def _short_lived(seconds: int) -> Callable[[Tenant], Tenant]:
    def tweak(tenant: Tenant) -> Tenant:
        apis = tuple(dataclasses.replace(api, token_lifetime=seconds) for api in tenant.apis)
        return dataclasses.replace(tenant, apis=apis)

    return tweak


def _same(tenant: Tenant) -> Tenant:
    return tenant


@dataclass(frozen=True)
class Scenario:
    """One run of the client against an emulator set up for it."""

    name: str
    summary: str
    scope: str = "read:members"
    audience: str = ""
    api_calls: int = 1
    api_interval_ms: int = 0
    secret_override: str | None = None  # the client is given this secret instead of the real one
    tenant: Callable[[Tenant], Tenant] = _same
    faults: Callable[[Emulator], list[Fault]] = field(default=lambda emu: [])

    def build_tenant(self, client_id: str, secret: str) -> Tenant:
        """The built-in tenant with this run's own secret, tweaked for the scenario."""
        base = default_tenant()
        client = dataclasses.replace(base.clients[0], client_id=client_id, client_secret=secret)
        # The API honours a token for its whole expires_in, whatever the fraction of the
        # second it was issued in, so a correct client is never rejected by chance.
        tenant = dataclasses.replace(base, clients=(client,), api_leeway=1.0)
        return self.tenant(tenant)


def _rate_limited(emu: Emulator) -> list[Fault]:
    reset = int(emu.clock.time()) + 1
    headers = {
        "Retry-After": "1",
        "X-RateLimit-Limit": "30",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(reset),
    }
    return [Fault.respond("token", 429, json=_RATE_LIMITED, headers=headers)]


def _server_error(emu: Emulator) -> list[Fault]:
    return [
        Fault.respond(
            "token",
            503,
            json={"error": "temporarily_unavailable", "error_description": "Service Unavailable"},
        ),
        Fault.html("token", 500),
    ]


def _malformed(emu: Emulator) -> list[Fault]:
    return [
        Fault.malformed("non_json"),
        Fault.malformed("no_access_token"),
        Fault.malformed("wrong_token_type", times=None),
    ]


def _invalid_token(times: int | None) -> Callable[[Emulator], list[Fault]]:
    def faults(emu: Emulator) -> list[Fault]:
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
            "expiry",
            "2 s tokens, API calls spread past expiry",
            api_calls=3,
            api_interval_ms=1100,
            tenant=_short_lived(2),
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
            "429 with Retry-After and X-RateLimit-*, then success",
            faults=_rate_limited,
        ),
        Scenario("server-error", "503 then 500 (HTML), then success", faults=_server_error),
        Scenario(
            "malformed-token-response",
            "200 answers that are not JSON, lack access_token or say token_type mac",
            faults=_malformed,
        ),
        Scenario(
            "refresh-token-offered",
            "2 s tokens that carry a spurious refresh_token; calls spread past expiry",
            api_calls=3,
            api_interval_ms=1100,
            tenant=_short_lived(2),
            faults=lambda emu: [Fault.refresh_token(times=None)],
        ),
        Scenario(
            "revoked-token",
            "the API answers 401 invalid_token once, then accepts a new token",
            faults=_invalid_token(1),
        ),
        Scenario(
            "api-rejects-token",
            "the API answers 401 invalid_token to every request",
            faults=_invalid_token(None),
        ),
    )
}
