"""Run the shipped live suite (suites/live/test_live.py) in pytester against served emulators."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jwt  # noqa: F401
import pytest
import pytest_recording.network  # noqa: F401
import trustme  # noqa: F401
import vcr.serializers.yamlserializer  # noqa: F401

from m2m_contract.emulator import (
    DEFAULT_AUDIENCE,
    Emulator,
    EmulatorServer,
    KeySet,
    Request,
    Response,
)
from m2m_contract.live import wrong_secret_for

# vcr, yaml, jwt and trustme are imported above, before any in-process pytester run: pytester
# drops the modules a run imported, and importing PyYAML's or cryptography's Python layer a
# second time over their already-loaded C extensions breaks them.
ROOT = Path(__file__).parents[2]
SUITE = (ROOT / "suites" / "live" / "test_live.py").read_text(encoding="utf-8")
SECRET = "demo-secret"
ENV_NAMES = (
    "M2M_LIVE_TOKEN_URL",
    "M2M_LIVE_CLIENT_ID",
    "M2M_LIVE_CLIENT_SECRET",
    "M2M_LIVE_SCOPE",
    "M2M_LIVE_AUDIENCE",
    "M2M_LIVE_API_URL",
    "M2M_LIVE_CA_BUNDLE",
)
CHECKS = 16  # server-contract checks, one test each; plus the cassette hygiene test


def server_env(server: EmulatorServer) -> dict[str, str]:
    """The M2M_LIVE_* variables for the emulator's default client, as a partner sets them."""
    emulator = server.emulator
    env = {
        "M2M_LIVE_TOKEN_URL": emulator.token_url,
        "M2M_LIVE_CLIENT_ID": "demo-client",
        "M2M_LIVE_CLIENT_SECRET": SECRET,
        "M2M_LIVE_SCOPE": "read:members",
        "M2M_LIVE_AUDIENCE": DEFAULT_AUDIENCE,
        "M2M_LIVE_API_URL": emulator.api_url,
    }
    if server.ca_bundle is not None:
        env["M2M_LIVE_CA_BUNDLE"] = str(server.ca_bundle)
    return env


@dataclass
class Suite:
    """The live suite in a partner's checkout: run it live, recording, or replaying."""

    pytester: pytest.Pytester
    monkeypatch: pytest.MonkeyPatch

    @property
    def cassettes(self) -> Path:
        return self.pytester.path / "cassettes"

    def run(self, *args: str, env: dict[str, str] | None = None) -> pytest.RunResult:
        for name in ENV_NAMES:
            self.monkeypatch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            self.monkeypatch.setenv(name, value)
        return self.pytester.runpytest_inprocess(
            "-p",
            "no:cacheprovider",
            "-ra",
            "-W",
            "error",
            "--m2m-live-report-json",
            "report.json",
            *args,
        )

    def record(self, server: EmulatorServer, *args: str) -> pytest.RunResult:
        return self.run("--live", "--record-mode=rewrite", *args, env=server_env(server))

    def replay(self, *args: str) -> pytest.RunResult:
        return self.run(*args)

    def report(self) -> dict[str, Any]:
        data = json.loads((self.pytester.path / "report.json").read_text(encoding="utf-8"))
        assert isinstance(data, dict)
        return data

    def statuses(self) -> dict[str, str]:
        return {c["id"]: c["status"] for c in self.report()["checks"]}

    def cassette_text(self) -> str:
        return "".join(p.read_text(encoding="utf-8") for p in sorted(self.cassettes.iterdir()))


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Suite:
    pytester.makepyfile(test_sandbox=SUITE)  # not test_live: suites/live has that name
    return Suite(pytester, monkeypatch)


@pytest.fixture
def served() -> Iterator[EmulatorServer]:
    with EmulatorServer(Emulator()) as server:
        yield server


def serve(emulator: Emulator, *, tls: bool = False) -> EmulatorServer:
    return EmulatorServer(emulator, tls=tls)


class AcceptsWrongSecret(Emulator):
    """A broken tenant: its secret check is bypassed for the suite's wrong secret."""

    def handle(self, request: Request) -> Response:
        wrong = wrong_secret_for(SECRET).encode()
        if wrong in request.body:
            request = replace(request, body=request.body.replace(wrong, SECRET.encode()))
        return super().handle(request)


class PublishesOtherKeys(Emulator):
    """A broken tenant: its JWKS lacks the key that signs its tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.other = KeySet.generate()

    def handle(self, request: Request) -> Response:
        if request.path == "/.well-known/jwks.json":
            body = json.dumps(self.other.jwks()).encode()
            return Response(200, [("content-type", "application/json")], body)
        return super().handle(request)


class NoCacheControl(Emulator):
    """A tenant whose token responses lack Cache-Control (a SHOULD: a warning, not a failure)."""

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        if request.path == "/oauth/token":
            response.headers = [(k, v) for k, v in response.headers if k != "cache-control"]
        return response
