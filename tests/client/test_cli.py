"""`m2m-contract token` and `m2m-contract reference-client` end to end: subprocesses against
the emulator served over HTTP and HTTPS, as a partner's shell or the conformance runner runs them.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from m2m_contract._cli import main
from m2m_contract.client import run_protocol
from m2m_contract.emulator import DEFAULT_AUDIENCE, Emulator, EmulatorServer, Fault

SECRET = "demo-secret"


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(Emulator()) as served:
        yield served


@pytest.fixture(scope="module")
def tls_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(Emulator(), tls=True) as served:
        yield served


@pytest.fixture
def emu(server: EmulatorServer) -> Emulator:
    server.emulator.reset()
    return server.emulator


def _env(**values: str) -> dict[str, str]:
    """The parent environment without any M2M_* or CA variables, plus `values`."""
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith("M2M_") and k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
    return {**keep, **values}


def m2m(*args: str, env: dict[str, str], stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "m2m_contract", *args],
        env=env, input=stdin, capture_output=True, text=True, timeout=60,
    )


def _protocol_env(emu: Emulator, **values: str) -> dict[str, str]:
    return _env(**{"M2M_TOKEN_URL": emu.token_url, "M2M_CLIENT_ID": "demo-client",
                   "M2M_CLIENT_SECRET": SECRET, "M2M_SCOPE": "read:members",
                   "M2M_AUDIENCE": "", "M2M_API_URL": emu.api_url, **values})


# -- m2m-contract token -----------------------------------------------------------------------

def test_token_prints_a_token_the_emulator_accepts(emu: Emulator) -> None:
    done = m2m("token", "--token-url", emu.token_url, "--client-id", "demo-client",
               "--scope", "read:members", "--scope", "read:appointments",
               "--audience", DEFAULT_AUDIENCE, env=_env(M2M_CLIENT_SECRET=SECRET))
    assert (done.returncode, done.stderr) == (0, "")
    token = done.stdout.strip()
    assert done.stdout == token + "\n"
    assert emu.verify(token).scopes == ("read:members", "read:appointments")
    params = emu.journal.token_requests()[0].params
    assert params is not None and params["audience"] == DEFAULT_AUDIENCE


def test_token_error_is_one_line_on_stderr_and_exit_1(emu: Emulator) -> None:
    done = m2m("token", env=_env(M2M_TOKEN_URL=emu.token_url, M2M_CLIENT_ID="demo-client",
                                 M2M_CLIENT_SECRET="wrong-secret-value"))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("m2m-contract token: error:")
    assert "rejected the client credentials" in done.stderr and "Traceback" not in done.stderr
    assert "wrong-secret-value" not in done.stderr


def test_token_over_tls_trusts_the_given_ca_bundle_only(tls_server: EmulatorServer) -> None:
    emu = tls_server.emulator
    base = _env(M2M_TOKEN_URL=emu.token_url, M2M_CLIENT_ID="demo-client",
                M2M_CLIENT_SECRET=SECRET)
    trusted = m2m("token", env={**base, "M2M_CA_BUNDLE": str(tls_server.ca_bundle)})
    assert trusted.returncode == 0, trusted.stderr
    emu.verify(trusted.stdout.strip())


# -- m2m-contract reference-client ------------------------------------------------------------

def test_reference_client_makes_every_call_with_one_token_and_exits_0(emu: Emulator) -> None:
    done = m2m("reference-client", env=_protocol_env(emu, M2M_API_CALLS="3"))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "API call 1/3", "API call 2/3", "API call 3/3"]
    assert all(" 200 OK " in line for line in lines) and done.stdout == ""
    assert len(emu.journal.token_requests()) == 1 and len(emu.journal.api_requests()) == 3
    token = emu.journal.token_requests()[0].response.json()["access_token"]
    assert token not in done.stderr and SECRET not in done.stderr


def test_reference_client_over_tls_uses_m2m_ca_bundle(tls_server: EmulatorServer) -> None:
    emu = tls_server.emulator
    done = m2m("reference-client",
               env=_protocol_env(emu, M2M_CA_BUNDLE=str(tls_server.ca_bundle)))
    assert done.returncode == 0, done.stderr
    assert emu.journal.api_requests()[-1].response.status == 200


# -- the protocol in-process (the conformance suite's default client) ------------------------

def test_protocol_reads_empty_scope_and_audience_as_none(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    env = _protocol_env(emu, M2M_SCOPE="", M2M_AUDIENCE="", M2M_API_CALLS="3",
                        M2M_API_INTERVAL_MS="250")
    sleeps: list[float] = []
    assert run_protocol(env, sleep=sleeps.append) == 0
    params = emu.journal.token_requests()[0].params
    assert params is not None and "scope" not in params and "audience" not in params
    assert sleeps == [0.25, 0.25]
    assert capsys.readouterr().err.count("200 OK") == 3


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"M2M_TOKEN_URL": ""}, "set M2M_TOKEN_URL"),
        ({"M2M_API_CALLS": "many"}, "M2M_API_CALLS must be a whole number"),
        ({"M2M_TOKEN_URL": "http://auth.example/oauth/token"}, "plain HTTP"),
        ({"M2M_CA_BUNDLE": "/nonexistent/ca.pem"}, "does not exist"),
    ],
)
def test_protocol_setting_errors_are_one_line_and_exit_1(
    emu: Emulator, capsys: pytest.CaptureFixture[str], changes: dict[str, str], says: str
) -> None:
    assert run_protocol({**_protocol_env(emu), **changes}) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err
    assert emu.journal.token_requests() == []


def test_protocol_exits_1_when_the_api_keeps_rejecting_the_token(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.add_fault(Fault.respond("api", 401, json={"error": "invalid_token"},
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                                times=None))
    assert run_protocol(_protocol_env(emu, M2M_API_CALLS="2")) == 1
    err = capsys.readouterr().err
    assert "API call 1/2: 401 Unauthorized" in err and "giving up" in err
    assert len(emu.journal.api_requests()) == 2  # one replay, then it stops


def test_protocol_exits_1_with_no_api_call_on_bad_credentials(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_protocol(_protocol_env(emu, M2M_CLIENT_SECRET="wrong-one-here")) == 1
    err = capsys.readouterr().err
    assert "no token" in err and "rejected the client credentials" in err
    assert "wrong-one-here" not in err and err.count("\n") == 1
    assert emu.journal.api_requests() == []


def test_protocol_over_tls_without_the_ca_bundle_fails_with_a_hint(
    tls_server: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_protocol(_protocol_env(tls_server.emulator)) == 1
    assert "ca_bundle" in capsys.readouterr().err


def test_protocol_with_zero_calls_gets_no_token_and_exits_0(emu: Emulator) -> None:
    assert run_protocol(_protocol_env(emu, M2M_API_CALLS="0")) == 0
    assert emu.journal.token_requests() == []


# -- in-process: the same `main`, without a Python start-up per case --------------------------

@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, emu: Emulator) -> pytest.MonkeyPatch:
    for name in [n for n in os.environ if n.startswith("M2M_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("M2M_TOKEN_URL", emu.token_url)
    monkeypatch.setenv("M2M_CLIENT_ID", "demo-client")
    return monkeypatch


@pytest.mark.parametrize("source", ["stdin", "file"])
def test_token_reads_the_secret_from_stdin_or_a_file(
    emu: Emulator, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path, source: str
) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    clean_env.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    assert main(["token", "--client-secret-file", "-" if source == "stdin" else str(path)]) == 0
    emu.verify(capsys.readouterr().out.strip())


def test_token_takes_its_settings_from_the_m2m_environment(
    emu: Emulator, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("M2M_CLIENT_SECRET", SECRET)
    clean_env.setenv("M2M_SCOPE", "read:members")
    clean_env.setenv("M2M_AUDIENCE", DEFAULT_AUDIENCE)
    assert main(["token"]) == 0
    assert emu.journal.token_requests()[0].params == {
        "client_id": "demo-client", "client_secret": SECRET, "grant_type": "client_credentials",
        "scope": "read:members", "audience": DEFAULT_AUDIENCE,
    }


@pytest.mark.parametrize("argv", [["--client-secret", SECRET], [f"--client-secret={SECRET}"]])
def test_token_refuses_a_secret_on_the_command_line_without_echoing_it(
    emu: Emulator, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["token", *argv])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "never taken from the command line" in err
    assert SECRET not in err and emu.journal.token_requests() == []


@pytest.mark.parametrize(
    ("argv", "env", "says"),
    [
        (["--client-secret-file", SECRET], {}, "cannot read --client-secret-file"),
        ([], {}, "set M2M_CLIENT_SECRET or give --client-secret-file"),
        ([], {"M2M_CLIENT_SECRET": SECRET, "M2M_SCOPE": "admin:all"}, "not granted"),
        (["--token-url", "http://auth.example/oauth/token"], {"M2M_CLIENT_SECRET": SECRET},
         "plain HTTP"),
    ],
    ids=["secret-where-a-path-belongs", "no-secret", "scope-not-granted", "plain-http"],
)
def test_token_errors_say_what_to_do_in_one_line(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    argv: list[str], env: dict[str, str], says: str
) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert main(["token", *argv]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and says in err
    assert SECRET not in err


def test_token_refuses_a_url_with_credentials_without_echoing_them(
    emu: Emulator, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("M2M_CLIENT_SECRET", SECRET)
    url = emu.token_url.replace("://", "://user:pa55word-in-url@", 1)
    assert main(["token", "--token-url", url]) == 1
    err = capsys.readouterr().err
    assert "must not carry credentials" in err and "pa55word-in-url" not in err
