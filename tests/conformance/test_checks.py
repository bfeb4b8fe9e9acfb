"""The check catalogue: scope grammar, verdicts on arbitrary traffic, docs in step."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from m2m_contract.contract import (
    CATALOGUE,
    Observation,
    Outcome,
    ProtocolSettings,
    checks_of,
    is_valid_scope,
    observe,
    scope_problem,
)
from m2m_contract.emulator import Exchange, Request, Response
from m2m_contract.harness import SCENARIOS
from m2m_contract.report import catalogue_markdown

NQCHAR = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"\\')
RFC_SCOPE = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*")
SETTINGS = ProtocolSettings(
    "http://127.0.0.1:1/oauth/token", "client", "s3cr3t-value", "read:members"
)


@given(st.lists(st.text(NQCHAR, min_size=1, max_size=12), min_size=1, max_size=5))
def test_scopes_built_from_the_rfc_grammar_are_valid(tokens: list[str]) -> None:
    value = " ".join(tokens)
    assert is_valid_scope(value)
    problem = scope_problem(value)
    # The contract adds two rules to the grammar: no comma separators, no repeats.
    if "," in value or len(set(tokens)) != len(tokens):
        assert problem is not None
    else:
        assert problem is None


@given(st.text(max_size=40))
def test_scope_check_agrees_with_the_rfc_grammar_on_any_string(value: str) -> None:
    grammatical = RFC_SCOPE.fullmatch(value) is not None
    assert is_valid_scope(value) == grammatical
    problem = scope_problem(value)
    if value and not grammatical:
        assert problem is not None
    if problem is None and value:
        assert grammatical


def test_scope_problems_say_what_is_wrong() -> None:
    assert "array" in (scope_problem(["a", "b"]) or "")
    assert "comma" in (scope_problem("a,b") or "")
    assert "several spaces" in (scope_problem("a  b") or "")
    assert "leading or trailing" in (scope_problem(" a") or "")
    assert scope_problem("read:members write:transactions") is None
    assert scope_problem("") is None


_headers = st.lists(
    st.tuples(
        st.sampled_from(
            ["content-type", "authorization", "x-any", "retry-after", "www-authenticate"]
        ),
        st.text(max_size=30),
    ),
    max_size=4,
)
_exchange = st.builds(
    lambda seq, kind, method, path, query, hdrs, body, status, rhdrs, rbody: Exchange(
        seq,
        kind,
        float(seq),
        Request(method, path, query, tuple(hdrs), body),
        Response(status, list(rhdrs), rbody),
    ),
    st.integers(1, 1000),
    st.sampled_from(["token", "api", "other", "jwks"]),
    st.sampled_from(["GET", "POST", "PUT", "HEAD"]),
    st.sampled_from(["/oauth/token", "/api/members", "/x"]),
    st.text(max_size=20),
    _headers,
    st.one_of(
        st.binary(max_size=80),
        st.sampled_from(
            [
                b'{"client_id":"c","client_secret":"s","grant_type":"client_credentials"}',
                b'{"scope":["a",1],"grant_type":2}',
                b"client_id=a&client_id=b",
                b"[]",
                b"{}",
            ]
        ),
    ),
    st.integers(100, 599),
    _headers,
    st.one_of(
        st.binary(max_size=60),
        st.sampled_from(
            [
                b'{"access_token":"t","token_type":"Bearer","expires_in":"x"}',
                b'{"access_token":5,"expires_in":-1}',
                b'{"error":"invalid_token"}',
            ]
        ),
    ),
)


@given(
    st.lists(_exchange, max_size=8),
    st.one_of(st.none(), st.integers(-1, 3)),
    st.booleans(),
    st.text(max_size=30),
    st.sampled_from(sorted(SCENARIOS)),
)
def test_every_check_returns_a_verdict_on_arbitrary_traffic(
    exchanges: list[Exchange], code: int | None, timed_out: bool, output: str, scenario: str
) -> None:
    obs: Observation = observe(scenario, SETTINGS, exchanges, Outcome(code, timed_out, output))
    for check in checks_of("conformance"):
        result = check.judge(obs)  # the raw judge: no safety net
        assert result.ok in (True, False, None)
        assert "s3cr3t-value" not in result.message


def test_every_check_has_a_clause_a_severity_and_known_scenarios() -> None:
    for check in CATALOGUE.values():
        assert re.fullmatch(r"[a-z0-9-]+", check.id)
        assert check.severity in ("MUST", "SHOULD")
        assert check.clause and check.title
        assert check.scenarios is None or check.scenarios <= set(SCENARIOS)


def test_docs_checks_md_is_generated_from_the_catalogue() -> None:
    docs = Path(__file__).parents[2] / "docs" / "checks.md"
    assert docs.read_text(encoding="utf-8") == catalogue_markdown(), (
        "docs/checks.md is stale: run `m2m-contract checks --markdown > docs/checks.md`"
    )


def _observation(*exchanges: Exchange, code: int | None = 0) -> Observation:
    return observe("happy-path", SETTINGS, exchanges, Outcome(code))


def _token_exchange(
    seq: int, body: bytes, response: bytes, headers: tuple[tuple[str, str], ...] = ()
) -> Exchange:
    request = Request(
        "POST", "/oauth/token", "", (("content-type", "application/json"), *headers), body
    )
    return Exchange(
        seq,
        "token",
        float(seq),
        request,
        Response(200, [("content-type", "application/json")], response),
    )


def _api_exchange(seq: int, authorization: str) -> Exchange:
    request = Request("GET", "/api/members", "", (("authorization", authorization),))
    return Exchange(seq, "api", float(seq), request, Response(401, [], b"{}"))


def test_a_credential_sent_as_the_scheme_is_never_quoted() -> None:
    obs = _observation(_api_exchange(1, "s3cr3t-value"), _api_exchange(2, "s3cr3t-value x"))
    result = CATALOGUE["api-bearer-header"].judge(obs)
    assert result.ok is False
    assert "s3cr3t" not in result.message and "a scheme other than Bearer" in result.message
    plain = CATALOGUE["api-bearer-header"].judge(_observation(_api_exchange(1, "Token abc")))
    assert "'Token' scheme" in plain.message


def test_a_basic_client_need_not_repeat_its_id_in_the_body() -> None:
    basic = ("authorization", "Basic Y2xpZW50OnMzY3IzdC12YWx1ZQ==")
    ok = _observation(_token_exchange(1, b'{"grant_type":"client_credentials"}', b"{}", (basic,)))
    assert CATALOGUE["token-request-required-params"].judge(ok).ok is True
    bare = _observation(_token_exchange(1, b'{"grant_type":"client_credentials"}', b"{}"))
    assert CATALOGUE["token-request-required-params"].judge(bare).ok is False


def test_a_token_type_other_than_bearer_issues_no_usable_token() -> None:
    body = b'{"client_id":"c","client_secret":"s3cr3t-value","grant_type":"client_credentials"}'
    mac = _token_exchange(1, body, b'{"access_token":"abc","token_type":"mac","expires_in":60}')
    obs = _observation(mac, _api_exchange(2, "Bearer abc"))
    assert obs.issued_tokens == {}
    assert CATALOGUE["api-token-issued"].judge(obs).ok is False


def test_redaction_hides_credentials_but_leaves_prose_alone() -> None:
    from m2m_contract._secrets import redact

    assert redact("expected 'Authorization: Bearer <token>'") == (
        "expected 'Authorization: Bearer <token>'"
    )
    assert redact('Bearer realm="m2m-contract"') == 'Bearer realm="m2m-contract"'
    assert redact("Authorization: Bearer abcdefgh12345") == "Authorization: Bearer REDACTED"
    assert redact("Basic ZGVtbzpzZWNyZXQ=") == "Basic REDACTED"


def test_the_secret_is_caught_in_an_api_path_or_any_api_header() -> None:
    in_path = Exchange(1, "api", 1.0, Request("GET", "/api/s3cr3t-value"), Response(404))
    in_header = Exchange(
        2,
        "api",
        2.0,
        Request("GET", "/api/members", "", (("x-client-secret", "s3cr3t-value"),)),
        Response(401),
    )
    obs = _observation(in_path, in_header)
    assert CATALOGUE["secret-not-in-url"].judge(obs).culprits == (1,)
    assert CATALOGUE["secret-not-in-api-request"].judge(obs).culprits == (2,)
