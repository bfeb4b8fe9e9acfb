"""The secret and the token never show: not in logs (any level), repr, str, exceptions,
tracebacks or API requests."""

from __future__ import annotations

import dataclasses
import functools
import logging
import pickle
import string
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from m2m_contract.client import ClientCredentials, ClientCredentialsError, InvalidClientError
from m2m_contract.client._request import Secret
from m2m_contract.emulator import (
    Emulator,
    FakeClock,
    Fault,
    default_tenant,
    respx_router,
)

from .conftest import SSL, Rig, run

# Long enough that a chance match with a URL, an id or a message is not a worry.
secrets_ = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=12, max_size=48,
)
tokens_ = st.text(string.ascii_letters + string.digits + "-._~+/", min_size=16, max_size=64)


class Records(logging.Handler):
    """Every log record, formatted with its arguments and any exception text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def all_logs() -> Iterator[Records]:
    """Capture every logger at DEBUG (a handler, not caplog: hypothesis reruns the body)."""
    root, handler = logging.getLogger(), Records()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _tenant(secret: str) -> Any:
    base = default_tenant()
    client = dataclasses.replace(base.clients[0], client_secret=secret)
    return dataclasses.replace(base, clients=(client,))


def _texts(*objects: object) -> str:
    return "\n".join(f"{o!r}\n{o!s}" for o in objects)


def _exception_texts(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + _texts(exc, exc.args)


def _everything_shown(
    secret: str, token: str, auth_method: Any, encoding: Any, asynchronous: bool
) -> tuple[str, str, Emulator]:
    """All the client lets out in one life (logs, repr, str, vars, errors), the token it
    fetched on the refetch, and the emulator that saw its requests."""
    clock = FakeClock()
    emu = Emulator(_tenant(secret), clock=clock)
    # The first "token" is the generated one; the API rejects it, so the client refetches.
    emu.add_fault(Fault.respond("token", 200, json={
        "access_token": token, "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": token[::-1]}))
    shown: list[str] = []
    with all_logs() as logs, respx_router(emu):
        auth = ClientCredentials(emu.token_url, "demo-client", secret, scope="read:members",
                                 auth_method=auth_method, body_encoding=encoding,
                                 clock=clock, sleep=clock.advance)
        if asynchronous:
            async def call() -> httpx.Response:
                async with httpx.AsyncClient(auth=auth, verify=SSL) as http:
                    return await http.get(emu.api_url)

            response = run(call())
        else:
            response = httpx.get(emu.api_url, auth=auth, verify=SSL)
        assert response.status_code == 200
        real = auth.get_token()
        shown.append(_texts(auth, real, vars(auth), vars(auth._fetcher), auth._request,
                            response.request.headers))
        wrong = ClientCredentials(emu.token_url, "demo-client", secret + "x",
                                  auth_method=auth_method, clock=clock)
        with pytest.raises(InvalidClientError) as caught:
            wrong.get_token()
        shown.append(_exception_texts(caught.value))
    shown.extend(logs.lines)
    return "\n".join(shown), real.access_token, emu


@functools.cache
def _shown_anyway(auth_method: str, encoding: str, asynchronous: bool) -> str:
    """What a life shows whatever the secret and token are (names, URLs, messages): hypothesis
    also tries the string literals of the code, and one of those (`client_secre`, a class
    name) is in this text because it is the code's, not because a value leaked."""
    return _everything_shown("Cq7#control-secret", "ctl0token0", auth_method, encoding,
                             asynchronous)[0]


@given(secret=secrets_, token=tokens_,
       auth_method=st.sampled_from(["client_secret_post", "client_secret_basic"]),
       encoding=st.sampled_from(["json", "form"]), asynchronous=st.booleans())
def test_secret_and_token_never_show(
    secret: str, token: str, auth_method: Any, encoding: Any, asynchronous: bool
) -> None:
    assume(secret not in token)  # the token is in API requests by design; the secret never
    anyway = _shown_anyway(auth_method, encoding, asynchronous)
    assume(secret not in anyway and token not in anyway)
    everything, real_token, emu = _everything_shown(
        secret, token, auth_method, encoding, asynchronous
    )
    assert secret not in everything
    assert token not in everything and real_token not in everything
    for exchange in emu.journal.api_requests():
        request = exchange.request
        assert secret not in repr(request.headers) and secret not in request.query_string
        assert secret.encode() not in request.body


def test_logs_say_what_happened_without_secrets(rig: Rig, caplog: pytest.LogCaptureFixture
                                                ) -> None:
    caplog.set_level(logging.DEBUG)
    rig.emu.add_fault(Fault.respond("token", 503, json={"error": "temporarily_unavailable"}))
    rig.emu.add_fault(Fault.respond("api", 401, json={"error": "invalid_token"},
                                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}))
    auth = rig.auth()
    rig.get(auth, "sync")
    ours = [r for r in caplog.records if r.name == "m2m_contract.client"]
    text = "\n".join(r.getMessage() for r in ours)
    assert "retrying in" in text and "got a token" in text and "invalid_token" in text
    assert "demo-secret" not in caplog.text
    assert not any(token in caplog.text for token in rig.issued())


def test_secret_wrapper_never_reveals_itself() -> None:
    secret = Secret("hunter2-but-longer")
    assert "hunter2" not in repr(secret) + str(secret) + f"{secret}" + repr([secret])
    assert secret.reveal() == "hunter2-but-longer"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_client_credentials_cannot_be_pickled_with_its_secret() -> None:
    auth = ClientCredentials("https://t.example/oauth/token", "id", "s3cret-value-123")
    with pytest.raises(TypeError):
        pickle.dumps(auth)


def test_transport_errors_quoted_in_exceptions_hold_no_secret() -> None:
    secret = "leaky-secret-value"

    class Leaky(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError(f"boom {request.content.decode()}", request=request)

    auth = ClientCredentials("https://t.example/oauth/token", "id", secret,
                             transport=Leaky(), max_attempts=1)
    with pytest.raises(ClientCredentialsError) as caught:
        auth.get_token()
    assert "boom" in str(caught.value)
    assert secret not in _exception_texts(caught.value)
