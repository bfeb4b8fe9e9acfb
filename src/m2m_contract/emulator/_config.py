"""The tenant model: APIs, clients, grants and policies, from Python or from a TOML file."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

SANDBOX_ISSUER = "https://loyaltyone-sandbox-pin.auth0.com/"
SANDBOX_BASE_URL = "https://loyaltyone-sandbox-pin.auth0.com"
DEFAULT_AUDIENCE = "https://sandbox.api.loyalty.com/"
DEFAULT_SCOPES = ("read:appointments", "read:members", "write:transactions")

OfflineAccess = Literal["ignore", "reject"]
ApiExpiry = Literal["exp", "issued"]
TokenProfile = Literal["auth0", "rfc9068"]
AuthMethod = Literal["client_secret_post", "client_secret_basic"]
AUTH_METHODS: tuple[AuthMethod, ...] = ("client_secret_post", "client_secret_basic")


class TenantConfigError(ValueError):
    """A tenant file or value that cannot be used; the message says where and what."""


@dataclass(frozen=True)
class Api:
    """A resource server (an Auth0 API)."""

    identifier: str
    scopes: tuple[str, ...] = ()
    token_lifetime: int = 86400


@dataclass(frozen=True)
class Client:
    """A machine-to-machine application."""

    client_id: str
    client_secret: str = field(repr=False)
    grant_types: tuple[str, ...] = ("client_credentials",)
    auth_methods: tuple[AuthMethod, ...] = AUTH_METHODS
    grants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RateLimit:
    """A token bucket per client: `capacity` requests at once, refilled at `per_second`."""

    capacity: int
    per_second: float


# The limit of a tenant that sets none: Auth0's highest published Authentication API tier
# (Private Cloud Performance, 10,000 requests per second), far above anything a correct
# client, a test suite or a benchmark on one machine sends.
DEFAULT_RATE_LIMIT = RateLimit(capacity=10_000, per_second=10_000.0)


@dataclass(frozen=True)
class Tenant:
    """Everything the emulator needs to answer like one Auth0 tenant."""

    apis: tuple[Api, ...] = ()
    clients: tuple[Client, ...] = ()
    issuer: str | None = None
    default_audience: str | None = None
    offline_access: OfflineAccess = "ignore"
    rate_limit: RateLimit | None = None
    token_profile: TokenProfile = "auth0"
    api_audience: str | None = None
    api_routes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Seconds past its expiry the protected API still honours a token. `iat` is whole seconds,
    # so `exp` can fall up to 1 s before `expires_in` has run out from the client's point of view.
    api_leeway: float = 0.0
    # How the protected API dates a token it issued: by its `exp` claim, as an Auth0-protected
    # API does ("exp"), or from the instant it was issued, to the millisecond ("issued"; the
    # conformance runner's choice, so that the API and the expiry checks count alike).
    api_expiry: ApiExpiry = "exp"

    def client(self, client_id: str) -> Client | None:
        for candidate in self.clients:
            if candidate.client_id == client_id:
                return candidate
        return None

    def api(self, identifier: str) -> Api | None:
        for candidate in self.apis:
            if candidate.identifier == identifier:
                return candidate
        return None

    @property
    def effective_rate_limit(self) -> RateLimit:
        """The token endpoint's limit: the tenant's, else `DEFAULT_RATE_LIMIT`."""
        return self.rate_limit or DEFAULT_RATE_LIMIT

    @property
    def protected_audience(self) -> str | None:
        """The audience the emulated protected API accepts."""
        if self.api_audience:
            return self.api_audience
        if self.default_audience:
            return self.default_audience
        return self.apis[0].identifier if self.apis else None


def default_tenant() -> Tenant:
    """The built-in tenant: `demo-client` / `demo-secret` on the sandbox API."""
    return Tenant(
        apis=(Api(DEFAULT_AUDIENCE, DEFAULT_SCOPES),),
        clients=(
            Client("demo-client", "demo-secret", grants={DEFAULT_AUDIENCE: DEFAULT_SCOPES}),
        ),
        default_audience=DEFAULT_AUDIENCE,
        api_routes={
            "/api/members": ("read:members",),
            "/api/appointments": ("read:appointments",),
            "/api/transactions": ("write:transactions",),
        },
    )


def load_tenant(path: str | Path) -> Tenant:
    """Read a tenant from a TOML file; errors name the file and the field."""
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TenantConfigError(f"{source}: no such tenant file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TenantConfigError(f"{source}: cannot read the tenant file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise TenantConfigError(f"{source}: not valid TOML ({exc})") from None
    try:
        return tenant_from_mapping(data)
    except TenantConfigError as exc:
        raise TenantConfigError(f"{source}: {exc}") from None


def tenant_from_mapping(data: Mapping[str, Any]) -> Tenant:
    """Build a tenant from parsed TOML (or any mapping of the same shape)."""
    known = {
        "issuer", "default_audience", "offline_access", "token_profile", "rate_limit",
        "apis", "clients", "api_audience", "api_routes", "api_leeway", "api_expiry",
    }
    _no_unknown(data, known, "the top level")
    apis = tuple(_api(item, i) for i, item in enumerate(_list(data, "apis")))
    clients = tuple(_client(item, i) for i, item in enumerate(_list(data, "clients")))
    _no_duplicates([a.identifier for a in apis], "[[apis]] identifier")
    _no_duplicates([c.client_id for c in clients], "[[clients]] client_id")
    known_apis = {a.identifier for a in apis}
    for client in clients:
        for audience in client.grants:
            if audience not in known_apis:
                raise TenantConfigError(
                    f"client {client.client_id!r} grants: {audience!r} is not the identifier "
                    f"of any [[apis]] entry"
                )
    offline = _str(data, "offline_access", "tenant", "ignore")
    if offline not in ("ignore", "reject"):
        raise TenantConfigError(f"offline_access must be 'ignore' or 'reject', not {offline!r}")
    profile = _str(data, "token_profile", "tenant", "auth0")
    if profile not in ("auth0", "rfc9068"):
        raise TenantConfigError(f"token_profile must be 'auth0' or 'rfc9068', not {profile!r}")
    rate_limit = None
    if "rate_limit" in data:
        raw = data["rate_limit"]
        if not isinstance(raw, Mapping):
            raise TenantConfigError("[rate_limit] must be a table with capacity and per_second")
        _no_unknown(raw, {"capacity", "per_second"}, "[rate_limit]")
        capacity, per_second = raw.get("capacity"), raw.get("per_second")
        # bool is an int to Python, but `capacity = true` is a mistake in a TOML file.
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise TenantConfigError("[rate_limit] capacity must be a positive integer")
        if (
            not isinstance(per_second, (int, float))
            or isinstance(per_second, bool)
            or not 0 < per_second < float("inf")
        ):
            raise TenantConfigError("[rate_limit] per_second must be a positive number")
        rate_limit = RateLimit(capacity, float(per_second))
    routes_raw = data.get("api_routes", {})
    if not isinstance(routes_raw, Mapping):
        raise TenantConfigError("[api_routes] must map path prefixes to lists of scopes")
    routes = {str(k): _scopes(v, f"api_routes.{k!s}") for k, v in routes_raw.items()}
    leeway = data.get("api_leeway", 0)
    if not isinstance(leeway, (int, float)) or isinstance(leeway, bool) or not 0 <= leeway <= 300:
        raise TenantConfigError("api_leeway must be a number of seconds from 0 to 300")
    expiry = _str(data, "api_expiry", "tenant", "exp")
    if expiry not in ("exp", "issued"):
        raise TenantConfigError(f"api_expiry must be 'exp' or 'issued', not {expiry!r}")
    return Tenant(
        apis=apis,
        clients=clients,
        issuer=_opt_str(data, "issuer", "tenant"),
        default_audience=_opt_str(data, "default_audience", "tenant"),
        offline_access=offline,  # type: ignore[arg-type]
        rate_limit=rate_limit,
        token_profile=profile,  # type: ignore[arg-type]
        api_audience=_opt_str(data, "api_audience", "tenant"),
        api_routes=routes,
        api_leeway=float(leeway),
        api_expiry=expiry,  # type: ignore[arg-type]
    )


def _api(raw: Any, index: int) -> Api:
    where = f"[[apis]] #{index + 1}"
    if not isinstance(raw, Mapping):
        raise TenantConfigError(f"{where} must be a table")
    _no_unknown(raw, {"identifier", "scopes", "token_lifetime"}, where)
    identifier = _str(raw, "identifier", where)
    lifetime = raw.get("token_lifetime", 86400)
    if not isinstance(lifetime, int) or isinstance(lifetime, bool) or not 1 <= lifetime <= 2592000:
        raise TenantConfigError(f"{where} token_lifetime must be an integer from 1 to 2592000")
    return Api(identifier, _scopes(raw.get("scopes", []), f"{where} scopes"), lifetime)


def _client(raw: Any, index: int) -> Client:
    where = f"[[clients]] #{index + 1}"
    if not isinstance(raw, Mapping):
        raise TenantConfigError(f"{where} must be a table")
    _no_unknown(
        raw, {"client_id", "client_secret", "grant_types", "auth_methods", "grants"}, where
    )
    client_id = _str(raw, "client_id", where)
    where = f"client {client_id!r}"
    secret = _str(raw, "client_secret", where)
    grant_types = _scopes(raw.get("grant_types", ["client_credentials"]), f"{where} grant_types")
    methods = _scopes(raw.get("auth_methods", list(AUTH_METHODS)), f"{where} auth_methods")
    for method in methods:
        if method not in AUTH_METHODS:
            raise TenantConfigError(
                f"{where} auth_methods: {method!r} is not one of {', '.join(AUTH_METHODS)}"
            )
    grants_raw = raw.get("grants", {})
    if not isinstance(grants_raw, Mapping):
        raise TenantConfigError(f"{where} grants must map audiences to lists of scopes")
    grants = {str(aud): _scopes(s, f"{where} grants.{aud!s}") for aud, s in grants_raw.items()}
    return Client(client_id, secret, grant_types, methods, grants)  # type: ignore[arg-type]


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise TenantConfigError(f"{key} must be an array of tables ([[{key}]])")
    return value


def _str(data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise TenantConfigError(f"{where}: {key} must be a non-empty string")
    return value


def _opt_str(data: Mapping[str, Any], key: str, where: str) -> str | None:
    return _str(data, key, where) if key in data else None


def _scopes(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TenantConfigError(f"{where} must be a list of non-empty strings")
    return tuple(value)


def _no_duplicates(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise TenantConfigError(f"{what} {value!r} appears more than once")
        seen.add(value)


def _no_unknown(data: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise TenantConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; "
            f"expected some of {', '.join(sorted(known))}"
        )
