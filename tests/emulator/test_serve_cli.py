"""`m2m-contract serve` end to end, in a subprocess on a free port."""

from __future__ import annotations

import os
import queue
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest

from m2m_contract._cli import main

from .conftest import token_body

EXAMPLE_TENANT = Path(__file__).resolve().parents[2] / "docs" / "tenant.example.toml"
STARTUP_TIMEOUT = 30.0


@dataclass
class Served:
    url: str
    lines: dict[str, str]  # "token endpoint" -> value, ...
    ca_bundle: str | None


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "m2m_contract", "serve", *args]


@contextmanager
def serve(*args: str) -> Iterator[Served]:
    """Run `m2m-contract serve --port 0 ARGS`, wait for its banner, always stop it."""
    proc = subprocess.Popen(
        _command("--port", "0", *args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        banner: dict[str, str] = {}
        url = None
        # The banner's lines, as _serve prints them: CA bundle with --tls, tenant without --config.
        wanted = {"issuer"}
        wanted |= {"CA bundle"} if "--tls" in args else set()
        wanted |= set() if "--config" in args else {"tenant"}
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while url is None or not wanted <= banner.keys():
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                assert proc.stderr is not None
                pytest.fail(f"serve exited early ({proc.wait()}): {proc.stderr.read()}")
            if "listening on " in line:
                url = line.split("listening on ", 1)[1].strip()
            elif ":" in line:
                key, _, value = line.strip().partition(":")
                banner[key.strip()] = value.strip()
        yield Served(url, banner, banner.get("CA bundle"))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def run_failing(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(*args), capture_output=True, text=True, timeout=STARTUP_TIMEOUT, env=_env(),
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
