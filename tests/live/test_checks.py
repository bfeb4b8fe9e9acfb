"""The server-contract checks as pure judgements, and the settings they run on."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from m2m_contract.contract import Answer, Keys, Target, Verdict, checks_of, token_digest
from m2m_contract.contract import LiveOutcome as Outcome
from m2m_contract.emulator import Emulator
from m2m_contract.live import (
    BadSettings,
    LiveSettings,
    MissingSettings,
    verify_signature,
    wrong_secret_for,
)

LIVE_CHECKS = {c.id: c for c in checks_of("live")}

TARGET = Target("https://tenant.example/oauth/token", "c1", "read:a", "https://api/", None)
ISSUER = "https://tenant.example/"
HTML = {"content-type": "text/html"}


def b64(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def token(claims: dict[str, Any] | None = None, **header: Any) -> str:
    base = {"iss": ISSUER, "sub": "c1@clients", "azp": "c1", "aud": "https://api/", "iat": 100,
            "exp": 200, "scope": "read:a"}  # fmt: skip
    return f"{b64({'alg': 'RS256', 'kid': 'k1', **header})}.{b64({**base, **(claims or {})})}.sig"


def answer(status: int, body: Any, **headers: str) -> Outcome:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    pairs = {"content-type": "application/json", "cache-control": "no-store", **headers}
    return Outcome(TARGET, Answer(status, tuple(pairs.items()), raw))


@dataclass
class Facts:
    """A run's exchanges, made up for one judgement."""

    body: dict[str, Any] = field(default_factory=dict)
    token_outcome: Outcome | None = None
    offline: Outcome = field(default_factory=lambda: answer(403, {"error": "access_denied"}))
    wrong: Outcome = field(default_factory=lambda: answer(401, {"error": "access_denied"}))
    verdict: Verdict | None = None
    api: Outcome | None = None
    mode: str = "live"
    now: float | None = 150.0

    def token(self) -> Outcome:
        if self.token_outcome is not None:
            return self.token_outcome
        good = {"access_token": token(), "token_type": "Bearer", "expires_in": 100}
        return answer(200, {**good, **self.body})

    def offline_access(self) -> Outcome:
        return self.offline

    def wrong_secret(self) -> Outcome:
        return self.wrong

    def keys(self) -> Keys:
        discovery = answer(200, {"issuer": ISSUER, "jwks_uri": f"{ISSUER}jwks"})
        return Keys(discovery, answer(200, {"keys": []}), self.verdict)

    def api_call(self) -> Outcome | None:
        return self.api

    def access_token(self) -> str | None:
        found = self.token().answer
        value = found.json().get("access_token") if found else None
        return value if isinstance(value, str) else None


def judge(check_id: str, facts: Facts) -> tuple[bool | None, str]:
    result = LIVE_CHECKS[check_id].judge(facts)
    return result.ok, result.message


def test_every_check_passes_on_a_conforming_tenant() -> None:
    facts = Facts(verdict=Verdict(True, "verifies", token_digest(token()), "t"))
    facts.api = answer(200, {"ok": True})
    assert {c: judge(c, facts)[0] for c in LIVE_CHECKS} == {c: True for c in LIVE_CHECKS}


@pytest.mark.parametrize(
    ("check_id", "facts", "message"),
    [
        ("server-token-response", Facts(token_outcome=answer(401, {"error": "access_denied"})),
         "the documented token request got 401 access_denied"),
        ("server-token-response", Facts(token_outcome=answer(200, b"<p>", **HTML)),
         "the 200 answer is not a JSON object (Content-Type 'text/html')"),
        ("server-access-token", Facts(body={"access_token": ""}), "access_token is empty"),
        ("server-token-type", Facts(body={"token_type": "mac"}), 'token_type is "mac"'),
        ("server-expires-in", Facts(body={"expires_in": "86400"}), 'expires_in is "86400"'),
        ("server-expires-in", Facts(body={"expires_in": 0}), "expires_in is 0"),
        ("server-no-refresh-token", Facts(body={"refresh_token": "r"}), "carries a refresh_token"),
        ("server-offline-access", Facts(offline=answer(400, {"error": "invalid_scope"})),
         "asking for offline_access got 400 invalid_scope"),
        ("server-rejects-wrong-secret", Facts(wrong=answer(500, {"error": "x"})),
         "a wrong client_secret got 500 x, expected a 4xx OAuth error"),
        ("server-rejects-wrong-secret", Facts(wrong=answer(401, b"nope")),
         "without an OAuth error body"),
        ("server-token-jwt", Facts(body={"access_token": token(alg="HS256")}),
         'the token\'s alg is "HS256"'),
        ("server-token-jwt", Facts(body={"access_token": "opaque"}), "not a JWS compact JWT"),
        ("server-token-issuer", Facts(body={"access_token": token({"iss": "https://evil/"})}),
         "iss is \"https://evil/\", but discovery names 'https://tenant.example/'"),
        ("server-token-subject", Facts(body={"access_token": token({"sub": "c1"})}),
         "sub is \"c1\", expected 'c1@clients'"),
        ("server-token-subject", Facts(body={"access_token": token({"azp": "c2"})}),
         "azp is \"c2\""),
        ("server-token-audience", Facts(body={"access_token": token({"aud": "https://other/"})}),
         "expected 'https://api/'"),
        ("server-token-lifetime", Facts(body={"expires_in": 86400}),
         "exp - iat is 100 s, but expires_in says 86400"),
        ("server-token-lifetime", Facts(now=300.0), "the token is not valid now"),
        ("server-token-scope", Facts(body={"access_token": token({"scope": "read:a write:b"})}),
         "scope(s) never asked for: write:b"),
        ("server-token-signature", Facts(), "no signature verdict was recorded"),
        ("server-api-accepts-token", Facts(api=answer(403, {"error": "insufficient_scope"})),
         "the API rejected the token: 403 insufficient_scope"),
    ],
)  # fmt: skip
def test_a_broken_answer_fails_its_check_saying_what_was_seen(
    check_id: str, facts: Facts, message: str
) -> None:
    ok, said = judge(check_id, facts)
    assert ok is False and message in said


def test_a_missing_cache_control_is_a_should_so_a_warning() -> None:
    facts = Facts(token_outcome=answer(200, {"access_token": "t"}, **{"cache-control": "private"}))
    ok, message = judge("server-no-store", facts)
    check = LIVE_CHECKS["server-no-store"]
    assert (
        ok is False and check.severity == "SHOULD" and check.status(check.judge(facts)) == "warning"
    )
    assert "Cache-Control is 'private'" in message


def test_replay_reads_the_recorded_verdict_and_says_so() -> None:
    good = Verdict(True, "the RS256 signature verifies", token_digest(token()), "2025-01-01")
    ok, message = judge("server-token-signature", Facts(mode="replay", now=None, verdict=good))
    assert ok is True and message.startswith("checked at recording time (2025-01-01)")
    bad = Verdict(False, "kid not in the JWKS", token_digest(token()), "2025-01-01")
    ok, message = judge("server-token-signature", Facts(mode="replay", now=None, verdict=bad))
    assert ok is False and "failed at recording time" in message
    other = Verdict(True, "verifies", token_digest(token({"sub": "x"})), "2025-01-01")
    ok, message = judge("server-token-signature", Facts(mode="replay", now=None, verdict=other))
    assert ok is False and "about another token" in message


def test_replay_never_compares_expiry_with_the_clock() -> None:
    ok, message = judge("server-token-lifetime", Facts(mode="replay", now=None))
    assert ok is True and "not compared with the current time" in message


def test_without_an_api_url_the_api_check_is_skipped() -> None:
    ok, message = judge("server-api-accepts-token", Facts(api=None))
    assert ok is None and "M2M_LIVE_API_URL is not set" in message


def test_signatures_are_verified_with_pyjwt_against_the_jwks() -> None:
    emulator = Emulator()
    good = emulator.issue_token()
    jwks = emulator.keys.jwks()
    assert verify_signature(good, jwks)[0] is True
    head, _, signature = good.split(".")
    tampered = f"{head}.{b64({'sub': 'someone-else@clients'})}.{signature}"
    kid = emulator.keys.signing_kid[:12]
    assert verify_signature(tampered, jwks) == (
        False, f"the RS256 signature does not verify with the JWKS key {kid}"
    )  # fmt: skip
    other = {"keys": [{**jwks["keys"][0], "kid": "another-key"}]}
    assert "is not in the JWKS (kids: another-key)" in verify_signature(good, other)[1]
    assert "did not contain any keys" in verify_signature(good, {"keys": []})[1]


def test_settings_name_what_is_missing_or_unsafe(tmp_path: Path) -> None:
    with pytest.raises(MissingSettings) as missing:
        LiveSettings.from_env({"M2M_LIVE_CLIENT_ID": "c"})
    assert missing.value.names == ["M2M_LIVE_CLIENT_SECRET"]
    base = {"M2M_LIVE_CLIENT_ID": "c", "M2M_LIVE_CLIENT_SECRET": "s3cr3t"}
    with pytest.raises(
        BadSettings, match=r"M2M_LIVE_API_URL='http://api\.example/x' is plain HTTP"
    ):
        LiveSettings.from_env({**base, "M2M_LIVE_API_URL": "http://api.example/x"})
    with pytest.raises(BadSettings, match=r"M2M_LIVE_CA_BUNDLE='nope\.pem' is not a readable file"):
        LiveSettings.from_env({**base, "M2M_LIVE_CA_BUNDLE": "nope.pem"})
    settings = LiveSettings.from_env({**base, "M2M_LIVE_SCOPE": " a  b ", "M2M_LIVE_TOKEN_URL": ""})
    assert settings.target.token_url == "https://loyaltyone-sandbox-pin.auth0.com/oauth/token"
    assert settings.target.scope == "a b" and "s3cr3t" not in repr(settings)
    local = LiveSettings.from_env(
        {**base, "M2M_LIVE_TOKEN_URL": "http://localhost:8080/oauth/token"}
    )
    assert local.target.discovery_url == "http://localhost:8080/.well-known/openid-configuration"


def test_the_wrong_secret_is_never_the_secret_and_does_not_reveal_it() -> None:
    wrong = wrong_secret_for("s3cr3t-value")
    assert wrong != "s3cr3t-value" and "s3cr3t" not in wrong
    assert wrong == wrong_secret_for("s3cr3t-value")  # so a broken tenant can be built in tests
