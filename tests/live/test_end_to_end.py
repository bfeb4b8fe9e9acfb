"""The live suite end to end: live against served emulators, recorded, replayed offline."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from m2m_contract.emulator import Emulator, EmulatorServer
from m2m_contract.live import (
    TOKEN_REQUESTS,
    LiveRun,
    LiveSettings,
    check_cassettes,
    wrong_secret_for,
)

from .conftest import CHECKS, SECRET, Suite, serve, server_env

EXCHANGES = ["api-call.yaml", "jwks.yaml", "offline-access.yaml", "token.yaml", "wrong-secret.yaml"]


def test_suite_passes_live_over_http_records_and_replays_offline(
    suite: Suite, served: EmulatorServer
) -> None:
    recorded = suite.record(served)
    recorded.assert_outcomes(passed=CHECKS + 1)
    recorded.stdout.fnmatch_lines(["*live against http://127.0.0.1:*: 3 of 3 token requests*"])
    # Frugal: three token requests in all, and the one token served every check.
    token_requests = served.emulator.journal.token_requests()
    assert len(token_requests) == 3
    assert len(served.emulator.journal.api_requests()) == 1
    assert sorted(p.name for p in suite.cassettes.iterdir()) == EXCHANGES
    assert check_cassettes(suite.cassettes) == []
    text = suite.cassette_text()
    assert SECRET not in text and wrong_secret_for(SECRET) not in text
    served.stop()  # offline from here on

    replayed = suite.replay()
    replayed.assert_outcomes(passed=CHECKS + 1)
    replayed.stdout.fnmatch_lines(
        [
            "*replayed from * with the network blocked; the signature verdict is the one reached "
            "at recording time*",
            "*ok   server-token-signature (MUST, RFC7515-5.2): checked at recording time (*): the "
            "RS256 signature verifies*; the replayed token's signature was scrubbed*",
            "*ok   server-token-lifetime*replayed: exp is not compared with the current time*",
        ]
    )
    report = suite.report()
    assert report["mode"] == "replay" and report["summary"]["passed"] == CHECKS + 1
    assert report["token_url"] == served.emulator.token_url and report["recorded_at"]
    assert report["suite"] == "live" and report["checks"][-1]["id"] == "cassettes-clean"


def test_suite_passes_over_tls_with_the_ca_bundle_of_M2M_LIVE_CA_BUNDLE(suite: Suite) -> None:
    with serve(Emulator(), tls=True) as server:
        result = suite.record(server)
    result.assert_outcomes(passed=CHECKS + 1)
    assert suite.report()["token_url"].startswith("https://127.0.0.1:")
    suite.replay().assert_outcomes(passed=CHECKS + 1)


def test_an_untrusted_certificate_ends_the_run_with_one_error_before_any_token_request(
    suite: Suite,
) -> None:
    with serve(Emulator(), tls=True) as server:
        env = server_env(server)
        del env["M2M_LIVE_CA_BUNDLE"]
        result = suite.run("--live", env=env)
        assert server.emulator.journal.token_requests() == []
    assert result.ret == 1
    output = result.stdout.str()
    assert output.count("CERTIFICATE_VERIFY_FAILED") == 1, output  # one error, not sixteen
    assert "--live: the tenant cannot be reached" in output
    assert "During handling of the above exception" not in output


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:1/oauth/token", "https://no-such-tenant.invalid/oauth/token"],
    ids=["refused", "dns"],
)
def test_an_unreachable_tenant_is_one_error_for_the_whole_run(suite: Suite, url: str) -> None:
    env = {"M2M_LIVE_TOKEN_URL": url, "M2M_LIVE_CLIENT_ID": "c",
           "M2M_LIVE_CLIENT_SECRET": "never-shown-secret"}
    result = suite.run("--live", env=env)
    assert result.ret == 1
    output = result.stdout.str() + result.stderr.str()
    assert output.count("the tenant cannot be reached") == 1, output
    assert "never-shown-secret" not in output and "Traceback" not in output


def test_plain_http_to_a_remote_host_is_a_usage_error_naming_the_variable(suite: Suite) -> None:
    env = {
        "M2M_LIVE_TOKEN_URL": "http://sandbox.example.invalid/oauth/token",
        "M2M_LIVE_CLIENT_ID": "c",
        "M2M_LIVE_CLIENT_SECRET": "never-sent-secret",
    }
    result = suite.run("--live", "--block-network", env=env)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*M2M_LIVE_TOKEN_URL=* is plain HTTP to a remote host*"])
    assert "never-sent-secret" not in result.stdout.str() + result.stderr.str()


def test_live_without_credentials_fails_the_run_naming_the_variables(suite: Suite) -> None:
    result = suite.run("--live")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--live: set M2M_LIVE_CLIENT_ID, M2M_LIVE_CLIENT_SECRET to run the live smoke test*"
         "--m2m-live-optional*"]
    )


@pytest.mark.parametrize("how", ["option", "environment"])
def test_an_optional_live_run_without_credentials_skips_saying_why(suite: Suite, how: str) -> None:
    if how == "option":
        result = suite.run("--live", "--m2m-live-optional")
    else:
        result = suite.run("--live", env={"M2M_LIVE_OPTIONAL": "1"})
    result.assert_outcomes(skipped=CHECKS + 1)
    result.stdout.fnmatch_lines(
        ["*--live skipped: set M2M_LIVE_CLIENT_ID, M2M_LIVE_CLIENT_SECRET*"]
    )


def test_without_cassettes_replay_skips_saying_how_to_record(suite: Suite) -> None:
    result = suite.replay()
    result.assert_outcomes(skipped=CHECKS + 1)
    result.stdout.fnmatch_lines(
        [
            "*no cassette */cassettes/token.yaml: record it against the sandbox with `pytest "
            "suites/live --live --record-mode=rewrite`*"
        ]
    )


def test_record_mode_without_live_replays_and_never_asks_the_network(
    suite: Suite, served: EmulatorServer
) -> None:
    suite.record(served)
    result = suite.run("--record-mode=rewrite", env=server_env(served))
    result.assert_outcomes(passed=CHECKS + 1)
    result.stdout.fnmatch_lines(["*--record-mode=rewrite is ignored without --live*"])
    assert len(served.emulator.journal.token_requests()) == 3  # the recording's, no more


def test_live_under_xdist_is_a_usage_error(suite: Suite) -> None:
    result = suite.run("--live", "-n", "2")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--live talks to the real tenant: run it without -n*"])


def test_a_failed_replay_match_names_the_cassette_never_a_body(
    suite: Suite, served: EmulatorServer
) -> None:
    suite.record(served)
    token_cassette = suite.cassettes / "token.yaml"
    text = token_cassette.read_text(encoding="utf-8")
    token_cassette.write_text(text.replace("uri: http", "uri: https"), encoding="utf-8")
    result = suite.run(env={"M2M_LIVE_CLIENT_SECRET": SECRET})
    result.stdout.fnmatch_lines(
        ["*FAIL server-token-response*token.yaml has no recorded answer for a request of this "
         "run (*); the suite and the cassette disagree: re-record*"]
    )  # fmt: skip
    output = result.stdout.str() + result.stderr.str()
    assert '"client_id"' not in output and SECRET not in output


def test_replay_blocks_the_network(tmp_path: Path, served: EmulatorServer) -> None:
    from m2m_contract.live._cassettes import Recorder
    from m2m_contract.live._scrub import Scrubber

    (tmp_path / "token.yaml").write_text("interactions: []\nversion: 1\n", encoding="utf-8")
    address = ("127.0.0.1", served.port)
    with (
        Recorder("replay", tmp_path, Scrubber()).cassette("token"),
        socket.socket() as sock,
        pytest.raises(RuntimeError, match="Network is disabled"),
    ):
        sock.connect(address)
    with socket.socket() as sock:
        sock.connect(address)  # the guard is lifted once the replay is over


PARTNER_CONFTEST = """
import os

import pytest

from m2m_contract.live import vcr_config as m2m_vcr_config


@pytest.fixture(scope="module")
def vcr_config():
    return m2m_vcr_config(secrets=[os.environ.get("M2M_LIVE_CLIENT_SECRET", "")])
"""
PARTNER_TEST = """
import os

import httpx
import pytest


@pytest.mark.vcr
def test_token():
    response = httpx.post(
        os.environ["M2M_LIVE_TOKEN_URL"],
        content=(
            '{"client_id": "demo-client", "client_secret": "%s",'
            ' "grant_type": "client_credentials"}' % os.environ["M2M_LIVE_CLIENT_SECRET"]
        ),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200 and response.json()["access_token"]
"""


def test_partners_own_pytest_recording_tests_can_use_the_same_scrubbing(
    suite: Suite, served: EmulatorServer
) -> None:
    suite.pytester.makeconftest(PARTNER_CONFTEST)
    suite.pytester.makepyfile(test_partner=PARTNER_TEST)
    env = server_env(served)
    suite.run("test_partner.py", "--record-mode=once", env=env).assert_outcomes(passed=1)
    written = suite.pytester.path / "cassettes" / "test_partner" / "test_token.yaml"
    assert SECRET not in written.read_text(encoding="utf-8")
    assert check_cassettes(written.parent) == []
    served.stop()
    replayed = suite.run("test_partner.py", "--block-network", env=env)
    replayed.assert_outcomes(passed=1)


def test_a_run_refuses_a_token_request_past_its_budget_of_three(
    tmp_path: Path, served: EmulatorServer
) -> None:
    run = LiveRun("live", tmp_path, LiveSettings.from_env(server_env(served)))
    for _ in range(TOKEN_REQUESTS):
        run._token_exchange("token")
    with pytest.raises(RuntimeError, match="more than 3 token requests in one run"):
        run._token_exchange("token")
    assert len(served.emulator.journal.token_requests()) == TOKEN_REQUESTS
