"""Tenants load from TOML (docs/tenant.example.toml included) and bad files say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from m2m_contract.emulator import (
    DEFAULT_AUDIENCE,
    DEFAULT_SCOPES,
    Api,
    Client,
    RateLimit,
    TenantConfigError,
    default_tenant,
    load_tenant,
    tenant_from_mapping,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "tenant.example.toml"
REPORTS = "https://reports.api.loyalty.com/"


def test_builtin_tenant_is_the_issues_demo_tenant() -> None:
    tenant = default_tenant()

    assert tenant.default_audience == DEFAULT_AUDIENCE == "https://sandbox.api.loyalty.com/"
    assert DEFAULT_SCOPES == ("read:appointments", "read:members", "write:transactions")
    client = tenant.client("demo-client")
    assert client is not None
    assert client.client_secret == "demo-secret"
    assert client.grants == {DEFAULT_AUDIENCE: DEFAULT_SCOPES}
    assert tenant.offline_access == "ignore"
    assert tenant.rate_limit is None
    assert tenant.token_profile == "auth0"
    assert tenant.issuer is None  # derived from the served URL


def test_example_tenant_file_loads_with_every_setting() -> None:
    tenant = load_tenant(EXAMPLE)

    assert tenant.issuer == "https://loyaltyone-sandbox-pin.auth0.com/"
    assert tenant.default_audience == DEFAULT_AUDIENCE
    assert tenant.offline_access == "ignore"
    assert tenant.token_profile == "auth0"
    assert tenant.protected_audience == DEFAULT_AUDIENCE
    assert tenant.rate_limit == RateLimit(30, 30.0)
    assert tenant.api_routes["/api/members"] == ("read:members",)
    assert tenant.apis == (
        Api(DEFAULT_AUDIENCE, DEFAULT_SCOPES, 86400),
        Api(REPORTS, ("read:reports",), 3600),
    )
    reports = tenant.client("reports-client")
    assert reports == Client(
        "reports-client",
        "reports-secret",
        ("client_credentials",),
        ("client_secret_basic",),
        {DEFAULT_AUDIENCE: ("read:members",), REPORTS: ("read:reports",)},
    )
    spa = tenant.client("spa-client")
    assert spa is not None and spa.grant_types == ("authorization_code",)


def test_example_tenant_demo_client_matches_the_builtin_one() -> None:
    assert load_tenant(EXAMPLE).client("demo-client") == default_tenant().client("demo-client")


def test_empty_file_is_an_empty_tenant(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text("")

    tenant = load_tenant(path)

    assert tenant.apis == () and tenant.clients == ()


CLIENT = '[[clients]]\nclient_id = "c"\nclient_secret = "s"\n'
API = '[[apis]]\nidentifier = "https://a/"\n'


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('issuer = ""', "tenant: issuer must be a non-empty string"),
        ("isuer = 'x'", "the top level: unknown key(s) isuer"),
        ('offline_access = "maybe"', "offline_access must be 'ignore' or 'reject', not 'maybe'"),
        ('token_profile = "jwe"', "token_profile must be 'auth0' or 'rfc9068', not 'jwe'"),
        ("rate_limit = 5", "[rate_limit] must be a table"),
        ("[rate_limit]\ncapacity = 0\nper_second = 1", "[rate_limit] capacity must be a positive"),
        ("[rate_limit]\ncapacity = true\nper_second = 1", "[rate_limit] capacity must be"),
        ("[rate_limit]\ncapacity = 1\nper_second = 0", "[rate_limit] per_second must be"),
        ("[rate_limit]\ncapacity = 1\nper_second = inf", "[rate_limit] per_second must be"),
        ("[rate_limit]\ncapacity = 1\nper_second = 1\nburst = 2", "[rate_limit]: unknown key"),
        ('apis = "x"', "apis must be an array of tables ([[apis]])"),
        ("[[apis]]\nscopes = []", "[[apis]] #1: identifier must be a non-empty string"),
        (API + "token_lifetime = 2592001", "[[apis]] #1 token_lifetime must be an integer"),
        (API + "scopes = ['a', 1]", "[[apis]] #1 scopes must be a list of non-empty strings"),
        (API + API, "[[apis]] identifier 'https://a/' appears more than once"),
        ('[[clients]]\nclient_id = "c"', "client 'c': client_secret must be a non-empty string"),
        (CLIENT + 'auth_methods = ["private_key_jwt"]',
         "client 'c' auth_methods: 'private_key_jwt' is not one of"),
        (CLIENT + 'grants = ["x"]', "client 'c' grants must map audiences to lists of scopes"),
        (CLIENT + "secret = 'typo'", "[[clients]] #1: unknown key(s) secret"),
        (CLIENT + CLIENT, "[[clients]] client_id 'c' appears more than once"),
        (CLIENT + '[clients.grants]\n"https://nowhere/" = ["a"]',
         "client 'c' grants: 'https://nowhere/' is not the identifier of any [[apis]] entry"),
        ('api_routes = ["/api"]', "[api_routes] must map path prefixes"),
        ('[api_routes]\n"/api/x" = "read:x"', "api_routes./api/x must be a list"),
    ],
)
def test_bad_tenant_file_raises_a_clear_error(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "tenant.toml"
    path.write_text(toml)

    with pytest.raises(TenantConfigError) as info:
        load_tenant(path)

    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_invalid_toml_names_the_file_and_the_position(tmp_path: Path) -> None:
    path = tmp_path / "tenant.toml"
    path.write_text('issuer = "unterminated\n')

    with pytest.raises(TenantConfigError, match=r"not valid TOML \(.*line 1"):
        load_tenant(path)


def test_missing_tenant_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(TenantConfigError, match="no such tenant file"):
        load_tenant(tmp_path / "absent.toml")


def test_error_messages_never_show_a_client_secret(tmp_path: Path) -> None:
    path = tmp_path / "tenant.toml"
    for bad in ("grants = 7", "grant_types = 7", "auth_methods = ['x']", "unknown = 1"):
        path.write_text(f'[[clients]]\nclient_id = "c"\nclient_secret = "hunter2-xyz"\n{bad}\n')

        with pytest.raises(TenantConfigError) as info:
            load_tenant(path)

        assert "hunter2" not in str(info.value)


def test_tenant_from_mapping_builds_the_same_tenant_as_python() -> None:
    tenant = tenant_from_mapping(
        {
            "default_audience": "https://a/",
            "apis": [{"identifier": "https://a/", "scopes": ["r"]}],
            "clients": [
                {"client_id": "c", "client_secret": "s", "grants": {"https://a/": ["r"]}}
            ],
        }
    )

    assert tenant.apis == (Api("https://a/", ("r",)),)
    assert tenant.clients == (Client("c", "s", grants={"https://a/": ("r",)}),)
