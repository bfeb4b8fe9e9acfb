"""The partner document's own sample request, run with the real curl, gets a token."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace

import pytest

from m2m_contract.emulator import Client, EmulatorServer, default_tenant

from .conftest import AUDIENCE, Door

# Verbatim from reference/client-credentials-auth-flow.md, "Sample Request".
SAMPLE_REQUEST = """\
curl --request POST \\
  --url https://loyaltyone-sandbox-pin.auth0.com/oauth/token \\
  --header 'content-type: application/json' \\
  --data '{"client_id":"YOUR_CLIENT_ID","client_secret":"YOUR_CLIENT_SECRET","grant_type":"client_credentials", "scope":"read:appointments"}'
"""  # noqa: E501 (verbatim)
SANDBOX_TOKEN_URL = "https://loyaltyone-sandbox-pin.auth0.com/oauth/token"


@pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("sh") is None, reason="needs curl and sh"
)
def test_partner_documents_curl_sample_gets_a_token(
    http_door: Door, http_server: EmulatorServer
) -> None:
    tenant = default_tenant()
    sample_client = Client(
        "YOUR_CLIENT_ID", "YOUR_CLIENT_SECRET", grants={AUDIENCE: tenant.apis[0].scopes}
    )
    http_door.use_tenant(replace(tenant, clients=(*tenant.clients, sample_client)))
    command = SAMPLE_REQUEST.replace(SANDBOX_TOKEN_URL, http_server.emulator.token_url)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}

    # Run by a POSIX shell, as a partner pastes it (the backslashes continue lines).
    done = subprocess.run(
        ["sh", "-c", command.rstrip() + " --silent --show-error"],
        capture_output=True, text=True, timeout=30, env=env, check=False,
    )

    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert body["scope"] == "read:appointments"
    assert http_door.api(body["access_token"], "/api/appointments").status_code == 200
    (exchange,) = http_door.emulator.journal.token_requests()
    assert exchange.request.content_type == "application/json"
    assert exchange.params == {
        "client_id": "YOUR_CLIENT_ID",
        "client_secret": "YOUR_CLIENT_SECRET",
        "grant_type": "client_credentials",
        "scope": "read:appointments",
    }
