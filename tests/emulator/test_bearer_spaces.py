"""RFC 6750 §2.1: `credentials = "Bearer" 1*SP b64token`, the scheme case-insensitive. One
space or several between them is the same header."""

from __future__ import annotations

import httpx
import pytest

from .conftest import Door


def api_with(door: Door, header: str) -> httpx.Response:
    return door.client.get("/api/members", headers={"authorization": header})


@pytest.mark.parametrize("spelling", ["Bearer  {}", "Bearer     {}", "BEARER  {}", "bearer {}"])
def test_one_or_more_spaces_after_the_scheme_are_a_valid_bearer_header(
    door: Door, spelling: str
) -> None:
    response = api_with(door, spelling.format(door.token()))

    assert response.status_code == 200
    assert response.json()["ok"] is True


@pytest.mark.parametrize(
    ("spelling", "status"),
    [("Bearer  a b", 400), ("Bearer  a{}", 401), ("Bearer\t{}", 401), ("Bearer{}", 401)],
)
def test_what_is_not_scheme_spaces_b64token_is_still_refused(
    door: Door, spelling: str, status: int
) -> None:
    response = api_with(door, spelling.format(door.token()))

    assert response.status_code == status
