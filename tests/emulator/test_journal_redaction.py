"""A client secret reaches no journal view in any spelling a client may send it in, through
either door: the secrets vocabulary (`m2m_contract._secrets`) does the redacting."""

from __future__ import annotations

import json
from dataclasses import replace

from m2m_contract._secrets import Known
from m2m_contract.emulator import Client, default_tenant

from .conftest import AUDIENCE, Door

SECRET = "Sup3r-Secret_value.9"
CLIENT = "spelling-client"


def percent_every(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode())


def json_u(text: str) -> str:
    return "".join(f"\\u{ord(ch):04x}" for ch in text)


def send_spelled(door: Door) -> list[int]:
    """The secret percent-encoded character by character in a form (its key too), and
    \\u-escaped in JSON: Auth0 decodes both; so does the emulator."""
    base = default_tenant()
    door.use_tenant(
        replace(base, clients=(*base.clients, Client(CLIENT, SECRET, grants={AUDIENCE: ()})))
    )
    form = (f"client_id={CLIENT}&client%5Fsecret={percent_every(SECRET)}"
            "&grant_type=client_credentials")  # fmt: skip
    escaped = '{"client_id":"CLIENT","client_secret":"SECRET","grant_type":"client_credentials"}'
    escaped = escaped.replace("CLIENT", CLIENT).replace("SECRET", json_u(SECRET))
    answers = [
        door.client.post("/oauth/token", content=form,
                         headers={"content-type": "application/x-www-form-urlencoded"}),
        door.client.post("/oauth/token", content=escaped,
                         headers={"content-type": "application/json"}),
    ]  # fmt: skip
    assert percent_every(SECRET) in door.emulator.journal.snapshot()[0].request.body.decode()
    return [a.status_code for a in answers]


def assert_no_spelling(text: str) -> None:
    assert Known(secrets=[("the client secret", SECRET)]).find(text) == []
    for spelled in (SECRET, percent_every(SECRET), json_u(SECRET), SECRET[:12], SECRET[-12:]):
        assert spelled not in text


def test_a_spelled_secret_is_accepted_yet_in_no_printed_exchange_or_repr(door: Door) -> None:
    statuses = send_spelled(door)
    journal = door.emulator.journal

    printed = json.dumps(journal.printable())
    reprs = "\n".join(repr(e) for e in journal)

    assert statuses == [200, 200]
    assert_no_spelling(printed)
    assert_no_spelling(reprs)
    assert printed.count("REDACTED") >= 2
    assert CLIENT in printed  # the client id is not a secret


def test_a_spelled_secret_is_in_no_page_of_the_admin_journal(door: Door) -> None:
    statuses = send_spelled(door)

    pages = [door.client.get("/__admin/journal", params={"since": n, "limit": 1}).text
             for n in range(3)]  # fmt: skip

    assert statuses == [200, 200]
    for page in pages:
        assert_no_spelling(page)
    assert "client%5Fsecret=REDACTED" in pages[0]
