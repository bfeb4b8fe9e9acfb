"""The doors and fixtures: respx router, EmulatorServer (HTTP, HTTPS, any event loop), plugin."""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any

import httpx
import pytest
import respx

from m2m_contract.emulator import (
    SANDBOX_BASE_URL,
    Emulator,
    EmulatorServer,
    FakeClock,
    ServerError,
    respx_router,
)

from .conftest import CLIENT_ID, token_body


def test_respx_router_sends_sandbox_traffic_to_the_emulator() -> None:
    emulator = Emulator(clock=FakeClock())

    with respx_router(emulator):
        response = httpx.post(f"{SANDBOX_BASE_URL}/oauth/token", json=token_body())
        token = response.json()["access_token"]
        api = httpx.get(
            f"{SANDBOX_BASE_URL}/api/members", headers={"authorization": f"Bearer {token}"}
        )

    assert response.status_code == 200
    assert api.json()["sub"] == f"{CLIENT_ID}@clients"
    assert [e.kind for e in emulator.journal] == ["token", "api"]


def test_respx_router_leaves_other_hosts_to_respx() -> None:
    emulator = Emulator(clock=FakeClock())

    with respx_router(emulator) as router:
        other = router.get("https://elsewhere.example/x").respond(418)
        assert httpx.get("https://elsewhere.example/x").status_code == 418

    assert other.called
    assert len(emulator.journal) == 0


def test_respx_router_accepts_another_base_url() -> None:
    emulator = Emulator(clock=FakeClock())

    with respx_router(emulator, base_url="https://tenant.example"):
        response = httpx.post("https://tenant.example/oauth/token", json=token_body())

    assert response.status_code == 200


def test_fixture_m2m_respx_routes_the_sandbox_url(
    m2m_respx: Emulator, m2m_clock: FakeClock
) -> None:
    response = httpx.post(m2m_respx.token_url, json=token_body())
    token = response.json()["access_token"]
    m2m_clock.advance(86400)

    expired = httpx.get(m2m_respx.api_url, headers={"authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert m2m_respx.clock is m2m_clock
    assert expired.status_code == 401


def test_fixture_m2m_server_serves_m2m_emulator_over_http(
    m2m_server: EmulatorServer, m2m_emulator: Emulator
) -> None:
    response = httpx.post(f"{m2m_server.base_url}/oauth/token", json=token_body())

    assert m2m_server.emulator is m2m_emulator
    assert m2m_emulator.token_url == f"{m2m_server.base_url}/oauth/token"
    assert response.status_code == 200
    assert m2m_emulator.journal.token_requests()[0].response.status == 200


def test_fixture_m2m_tls_server_serves_https_with_its_ca_bundle(
    m2m_tls_server: EmulatorServer,
) -> None:
    assert m2m_tls_server.ca_bundle is not None
    context = ssl.create_default_context(cafile=str(m2m_tls_server.ca_bundle))

    with httpx.Client(base_url=m2m_tls_server.base_url, verify=context) as client:
        response = client.post("/oauth/token", json=token_body())
        discovery = client.get("/.well-known/openid-configuration").json()

    assert m2m_tls_server.base_url.startswith("https://127.0.0.1:")
    assert response.status_code == 200
    assert discovery["issuer"] == f"{m2m_tls_server.base_url}/"


def test_server_works_on_the_plain_asyncio_event_loop_and_the_pure_python_parser() -> None:
    # The README's plain install may lack uvloop and httptools. Without uvloop uvicorn serves
    # the listening socket itself rather than a duplicate: the server must keep it open.
    emulator = Emulator(clock=FakeClock())
    with (
        EmulatorServer(emulator, http="h11", loop="asyncio") as server,
        httpx.Client(base_url=server.base_url) as client,  # one keep-alive connection
    ):
        statuses = [client.get("/healthz").status_code for _ in range(3)]
        token = client.post("/oauth/token", json=token_body())

    assert statuses == [200, 200, 200]
    assert token.status_code == 200


def test_serve_forever_serves_in_the_calling_thread_until_stopped() -> None:
    server = EmulatorServer(Emulator(clock=FakeClock()), tls=True)
    seen: dict[str, Any] = {}

    def ready(served: EmulatorServer) -> None:
        def use_then_stop() -> None:
            context = ssl.create_default_context(cafile=str(served.ca_bundle))
            seen["status"] = httpx.get(f"{served.base_url}/healthz", verify=context).status_code
            seen["folder"] = served.ca_bundle.parent if served.ca_bundle else None
            served.stop()

        threading.Thread(target=use_then_stop, daemon=True).start()

    server.serve_forever(ready=ready)  # returns once stop() is called

    assert seen["status"] == 200
    assert seen["folder"] is not None and not seen["folder"].exists()  # TLS files removed


def test_server_on_a_busy_port_raises_server_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        with pytest.raises(ServerError, match=f"127.0.0.1:{port}: the port is in use"):
            EmulatorServer(Emulator(), port=port).start()


def test_stopped_server_frees_its_port() -> None:
    server = EmulatorServer(Emulator(clock=FakeClock())).start()
    port = server.port
    assert repr(server) == f"EmulatorServer(http://127.0.0.1:{port})"

    server.stop()

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))  # would raise if the server still held it


def test_in_process_door_answers_any_host() -> None:
    from m2m_contract.emulator import EmulatorTransport

    emulator = Emulator(clock=FakeClock())
    with httpx.Client(transport=EmulatorTransport(emulator)) as client:
        response = client.post("http://anything.invalid/oauth/token", json=token_body())

    assert response.status_code == 200


def test_health_and_head_requests(inprocess_door: Any) -> None:
    client: httpx.Client = inprocess_door.client

    assert client.get("/healthz").json() == {"status": "ok"}
    head = client.head("/healthz")
    assert head.status_code == 200 and head.content == b""
    assert client.post("/healthz").status_code == 405
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


def test_respx_is_the_mocking_library_behind_respx_router() -> None:
    assert isinstance(respx_router(Emulator()), respx.MockRouter)


def test_http_door_signs_on_a_bounded_pool_that_stops_with_the_server() -> None:
    import os
    import threading

    def signers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("m2m-sign")]

    before = len(signers())
    with EmulatorServer(Emulator()) as server, httpx.Client() as client:
        body = {"client_id": "demo-client", "client_secret": "demo-secret",
                "grant_type": "client_credentials"}
        for _ in range(8):
            assert client.post(server.emulator.token_url, json=body).status_code == 200
        assert 1 <= len(signers()) - before <= (os.cpu_count() or 1)
    assert len(signers()) == before


def test_a_tls_client_hello_is_journaled_even_when_the_certificate_is_refused() -> None:
    from m2m_contract.emulator import Emulator, EmulatorServer

    emulator = Emulator()
    with EmulatorServer(emulator, tls=True) as server:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.base_url}/healthz")  # the throwaway CA is in no bundle
        ok = httpx.get(f"{server.base_url}/healthz", verify=ssl.create_default_context(
            cafile=str(server.ca_bundle)))

    assert ok.status_code == 200
    kinds = [e.kind for e in emulator.journal]
    assert kinds.count("handshake") == 2 and kinds[-1] == "health"


def test_every_accepted_connection_has_tcp_nodelay() -> None:
    import socket

    from m2m_contract.emulator import Emulator, EmulatorServer

    emulator = Emulator()
    with EmulatorServer(emulator) as server, httpx.Client() as client:
        assert client.get(f"{server.base_url}/healthz").status_code == 200
        assert server.connections == 1
        transports = server._server.app.connections.values()  # type: ignore[union-attr]
        assert transports
        sock = transports[0].get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
