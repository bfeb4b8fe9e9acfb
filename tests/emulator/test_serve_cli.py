"""`m2m-contract serve` end to end, in a subprocess on a free port."""

from __future__ import annotations

import argparse
import signal
import socket
import ssl
import subprocess
from pathlib import Path

import httpx
import jwt
import pytest

from m2m_contract._cli import build_parser, main

from .conftest import token_body
from .serving import STARTUP_TIMEOUT, clean_env, command, serve

EXAMPLE_TENANT = Path(__file__).resolve().parents[2] / "docs" / "tenant.example.toml"


def run_failing(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args), capture_output=True, text=True, timeout=STARTUP_TIMEOUT, env=clean_env(),
        check=False,
    )


def test_serve_prints_its_url_and_issues_tokens_on_the_builtin_tenant() -> None:
    with serve("--journal-size", "3") as served, httpx.Client(base_url=served.url) as client:
        response = client.post("/oauth/token", json=token_body())
        token = response.json()["access_token"]
        api = client.get("/api/members", headers={"authorization": f"Bearer {token}"})
        for _ in range(3):
            client.get("/healthz")
        journal = client.get("/__admin/journal").json()["exchanges"]

    assert served.url.startswith("http://127.0.0.1:")
    assert served.lines["token endpoint"] == f"{served.url}/oauth/token"
    assert served.lines["issuer"] == f"{served.url}/"
    assert "demo-client" in served.lines["tenant"]
    assert response.status_code == 200
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == f"{served.url}/"
    assert api.status_code == 200
    assert [e["kind"] for e in journal] == ["health"] * 3  # --journal-size 3 kept the last 3


def test_serve_with_config_keys_and_tls(tmp_path: Path) -> None:
    keys = tmp_path / "keys.pem"
    with serve("--config", str(EXAMPLE_TENANT), "--keys", str(keys)) as first, httpx.Client(
        base_url=first.url
    ) as client:
        response = client.post(
            "/oauth/token",
            json={"grant_type": "client_credentials"},
            auth=("reports-client", "reports-secret"),
        )
        first_jwks = client.get("/.well-known/jwks.json").json()
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert "tenant" not in first.lines  # not the built-in one
    assert first.lines["issuer"] == "https://loyaltyone-sandbox-pin.auth0.com/"
    assert keys.exists()  # written on first use

    with serve("--keys", str(keys), "--tls", "--issuer", "https://issuer.example/") as second:
        assert second.url.startswith("https://127.0.0.1:")
        assert second.ca_bundle is not None
        context = ssl.create_default_context(cafile=second.ca_bundle)
        with httpx.Client(base_url=second.url, verify=context) as client:
            second_jwks = client.get("/.well-known/jwks.json").json()
            again = client.post("/oauth/token", json=token_body())
        with pytest.raises(httpx.ConnectError), httpx.Client(base_url=second.url) as untrusting:
            untrusting.get("/healthz")

    assert second_jwks == first_jwks  # the same key file gives the same kids
    assert second.lines["issuer"] == "https://issuer.example/"
    assert jwt.decode(again.json()["access_token"], options={"verify_signature": False})[
        "iss"
    ] == "https://issuer.example/"
    # A token from the first run verifies against the second run's JWKS.
    key = jwt.PyJWKSet.from_dict(second_jwks)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience="https://sandbox.api.loyalty.com/"
    )
    assert claims["sub"] == "reports-client@clients"


def test_serve_on_a_busy_port_exits_2_with_a_clear_message() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        done = run_failing("--port", str(port))

    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_with_a_bad_tenant_file_exits_2_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('offline_access = "sometimes"\n')

    done = run_failing("--port", "0", "--config", str(bad))

    assert done.returncode == 2
    assert done.stderr == (
        f"m2m-contract serve: {bad}: offline_access must be 'ignore' or 'reject', "
        "not 'sometimes'\n"
    )
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda d: ["--config", str(d / "absent.toml")], "no such tenant file"),
        (lambda d: ["--config", str(d / "broken.toml")], "not valid TOML"),
        (lambda d: ["--keys", str(d / "no-such-dir" / "k.pem")], "cannot write the key file"),
        (lambda d: ["--keys", str(d / "broken.toml")], "no PEM private key found"),
        (lambda d: ["--keys", str(d)], "cannot read the key file"),
        (lambda d: ["--journal-size", "0"], "--journal-size must be at least 1"),
        (lambda d: ["--port", "70000"], "--port must be from 0 to 65535"),
        (lambda d: ["--host", "256.0.0.1"], "cannot listen on 256.0.0.1:0"),
    ],
    ids=["missing-config", "broken-toml", "unwritable-keys", "not-a-key", "keys-dir",
         "journal", "port-range", "bad-host"],
)
def test_serve_with_bad_setup_returns_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_args: object, message: str
) -> None:
    (tmp_path / "broken.toml").write_text("[[clients]\n")
    args = make_args(tmp_path)  # type: ignore[operator]

    status = main(["serve", "--port", "0", *args])

    out, err = capsys.readouterr()
    assert status == 2
    assert err.startswith("m2m-contract serve: ")
    assert message in err
    assert out == ""


@pytest.mark.parametrize(("host", "loopback"), [("0.0.0.0", "127.0.0.1"), ("::", "[::1]")])
def test_serve_on_a_wildcard_address_prints_a_loopback_url_the_reference_client_uses(
    host: str, loopback: str
) -> None:
    from m2m_contract.client import ClientCredentials

    with serve("--host", host) as served:
        port = served.url.rsplit(":", 1)[1]
        auth = ClientCredentials(served.lines["token endpoint"], "demo-client", "demo-secret")
        with httpx.Client(auth=auth) as client:
            api = client.get(f"{served.url}/api/members")

    assert served.url == f"http://{loopback}:{port}"
    shown = f"[{host}]" if ":" in host else host
    assert served.lines["bound to"] == f"{shown}:{port}"
    assert served.lines["token endpoint"] == f"{served.url}/oauth/token"
    assert served.lines["issuer"] == f"{served.url}/"
    assert api.status_code == 200


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_serve_stops_on_a_signal_with_status_0_and_removes_its_temporary_files(
    signal_name: str,
) -> None:
    with serve("--tls") as served:
        assert served.ca_bundle is not None
        folder = Path(served.ca_bundle).parent
        assert (folder / "server.key").stat().st_mode & 0o777 == 0o600
        served.proc.send_signal(getattr(signal, signal_name))
        status = served.proc.wait(timeout=15)
        assert served.proc.stderr is not None
        errors = served.proc.stderr.read()

    assert status == 0
    assert not folder.exists()
    assert "Traceback" not in errors


def test_serve_writes_a_new_key_file_readable_by_its_owner_only(tmp_path: Path) -> None:
    keys = tmp_path / "keys.pem"

    with serve("--keys", str(keys)) as served, httpx.Client(base_url=served.url) as client:
        jwks = client.get("/.well-known/jwks.json").json()

    assert keys.stat().st_mode & 0o777 == 0o600
    assert keys.read_bytes().count(b"BEGIN PRIVATE KEY") == 2  # signing and next, as Auth0
    assert len(jwks["keys"]) == 2


def test_serve_help_describes_every_option_and_the_exit_statuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])

    text = capsys.readouterr().out
    assert done.value.code == 0
    parser = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    ).choices["serve"]
    for action in parser._actions:
        assert action.help, f"{action.option_strings} has no help text"
        for flag in action.option_strings:
            assert flag in text
    assert "exit status:" in text
    assert "  0  stopped by SIGINT (Ctrl+C) or SIGTERM" in text
    assert "  2  usage or setup error" in text


def test_serve_beyond_loopback_turns_the_admin_api_off_without_a_token() -> None:
    with serve("--host", "0.0.0.0") as served, httpx.Client(base_url=served.url) as client:
        refused = client.get("/__admin/faults")
        token = client.post("/oauth/token", json=token_body())

    assert served.lines["admin API"].startswith("off")
    assert refused.status_code == 403
    assert "admin token" in refused.json()["error_description"]
    assert token.status_code == 200  # the emulator itself serves everyone


def test_serve_beyond_loopback_with_an_admin_token_from_the_environment() -> None:
    secret = "an-admin-token-of-some-length"
    env = clean_env(M2M_ADMIN_TOKEN=secret)
    with serve("--host", "0.0.0.0", env=env) as served, httpx.Client(base_url=served.url) as c:
        without = c.get("/__admin/faults")
        wrong = c.get("/__admin/faults", headers={"authorization": "Bearer not-the-token"})
        right = c.get("/__admin/faults", headers={"authorization": f"Bearer {secret}"})
        assert served.proc.stdout is not None

    assert served.lines["admin API"] == "needs Authorization: Bearer <admin token>"
    assert (without.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert without.headers["www-authenticate"] == 'Bearer realm="m2m-contract admin"'
    assert secret not in " ".join(served.lines.values())


def test_serve_refuses_a_short_admin_token() -> None:
    done = run_failing("--admin-token", "short")

    assert done.returncode == 2
    assert "the admin token must be 16 to 512 printable ASCII characters" in done.stderr
    assert "short" not in done.stderr
