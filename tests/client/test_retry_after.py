"""Retry-After and X-RateLimit-Reset are read safely and capped: a server cannot lock us out.

The parsers never raise and return None or 0..MAX_RETRY_AFTER; after a 429 the client gave up
on, it asks again at the latest MAX_RETRY_AFTER later (on the rig's fake clock), whatever the
server asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from m2m_contract.client import MAX_RETRY_AFTER, RateLimitedError, Token
from m2m_contract.client._cache import TokenCache
from m2m_contract.client._token import (
    failure_for,
    rate_limit_reset_seconds,
    retry_after_seconds,
)
from m2m_contract.emulator import Fault

from .conftest import Mode, Rig

LIMITED = {"error": "too_many_requests", "error_description": "Too many requests."}
NOW = 1_445_412_420.0  # Wed, 21 Oct 2015 07:27:00 GMT
TEN_YEARS = 10 * 365.25 * 86400


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1000000000", MAX_RETRY_AFTER),                 # 10**9
        ("1" + "0" * 400, MAX_RETRY_AFTER),              # 10**400: inf as a float
        ("9" * 5000, MAX_RETRY_AFTER),                   # past int()'s digit limit
        ("300.5", MAX_RETRY_AFTER),
        ("1e400", None),                                 # not delta-seconds
        ("-5", None),
        ("+5", None),
        ("NaN", None),
        ("inf", None),
        ("Infinity", None),
        ("0x10", None),
        ("5 s", None),
        ("1,5", None),
        ("  7 ", 7.0),
        ("3.5", 3.5),
        ("0", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),         # IMF-fixdate
        ("Wednesday, 21-Oct-15 07:28:00 GMT", 60.0),     # obsolete RFC 850
        ("Wed Oct 21 07:28:00 2015", 60.0),              # obsolete asctime
        (formatdate(NOW + TEN_YEARS, usegmt=True), MAX_RETRY_AFTER),
        (formatdate(NOW - 3600, usegmt=True), 0.0),      # in the past: no wait
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
        ("Wed, 32 Oct 2015 07:28:00 GMT", None),
        ("garbage", None),
        ("", None),
        ("   ", None),
        ("\uff13", None),                                # fullwidth 3: float() would read it
        ("\u0663", None),                                # Arabic-Indic 3
        ("7\u00a0", None),                               # no-break space
        (None, None),
    ],
)
def test_retry_after_is_parsed_safely_and_capped(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, wall_now=NOW) == seconds


def test_the_rfc_example_date_is_in_the_past_so_no_wait() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", wall_now=1.8e9) == 0.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (str(int(NOW) + 5), 5.0),                        # a UNIX time, as Auth0 sends it
        (f"{NOW + 2.5}", 2.5),
        (str(int(NOW) - 100), 0.0),                      # already past
        ("30", 30.0),                                    # small: a number of seconds
        (str(int(NOW + TEN_YEARS)), MAX_RETRY_AFTER),
        ("1" + "0" * 400, MAX_RETRY_AFTER),
        ("1e400", None),
        ("-1", None),
        ("NaN", None),
        ("garbage", None),
        ("", None),
        (None, None),
    ],
)
def test_rate_limit_reset_is_parsed_safely_and_capped(
    header: str | None, seconds: float | None
) -> None:
    assert rate_limit_reset_seconds(header, wall_now=NOW) == seconds


@given(st.text(max_size=60) | st.from_regex(r"\A\s*[0-9.e+-]{1,500}\s*\Z"))
def test_no_header_value_makes_the_parsers_raise_or_go_out_of_range(header: str) -> None:
    for parse in (retry_after_seconds, rate_limit_reset_seconds):
        seconds = parse(header, NOW)
        assert seconds is None or 0.0 <= seconds <= MAX_RETRY_AFTER


def test_a_429_asking_too_much_says_so_and_is_capped() -> None:
    failure = failure_for(429, {"retry-after": "1" + "0" * 400,
                                "x-ratelimit-reset": "9" * 400}, b"", wall_now=NOW)
    error = failure.error
    assert isinstance(error, RateLimitedError)
    assert failure.wait == MAX_RETRY_AFTER and error.retry_after == MAX_RETRY_AFTER
    assert error.reset is None  # not a finite number
    assert "longer than 300 s, the most this client waits" in str(error)


# -- the cache asks again after at most the cap --------------------------------------------

ABSURD: dict[str, Callable[[float], str]] = {
    "10**9": lambda now: "1000000000",
    "10**400": lambda now: "1" + "0" * 400,
    "1e400": lambda now: "1e400",
    "-5": lambda now: "-5",
    "NaN": lambda now: "NaN",
    "inf": lambda now: "inf",
    "spaced 7": lambda now: "  7 ",
    "3.5": lambda now: "3.5",
    "10 years ahead": lambda now: formatdate(now + TEN_YEARS, usegmt=True),
    "in the past": lambda now: formatdate(now - 3600, usegmt=True),
    "RFC example": lambda now: "Wed, 21 Oct 2015 07:28:00 GMT",
    "garbage": lambda now: "garbage",
    "empty": lambda now: "",
}


@pytest.mark.parametrize("value", ABSURD.values(), ids=ABSURD.keys())
def test_no_retry_after_locks_the_client_out_past_the_cap(
    rig: Rig, mode: Mode, value: Callable[[float], str]
) -> None:
    header = value(rig.clock.time())
    rig.emu.add_fault(Fault.respond("token", 429, json=LIMITED, headers={"Retry-After": header}))
    auth = rig.auth()
    try:
        rig.token(auth, mode)  # a wait that fits in the deadline is waited out in this call
    except RateLimitedError as exc:
        assert exc.retry_after is not None and 0 <= exc.retry_after <= MAX_RETRY_AFTER
    assert all(0 < wait <= MAX_RETRY_AFTER + 0.1 for wait in rig.sleeps)
    rig.clock.advance(MAX_RETRY_AFTER)
    assert rig.token(auth, mode).access_token in rig.issued()
    assert len(rig.tokens()) == 2


def test_a_billion_second_retry_after_keeps_the_client_quiet_for_the_cap_only(
    rig: Rig, mode: Mode
) -> None:
    rig.emu.add_fault(Fault.respond("token", 429, json=LIMITED,
                                    headers={"Retry-After": "1000000000"}))
    auth = rig.auth()
    with pytest.raises(RateLimitedError, match="longer than 300 s") as caught:
        rig.token(auth, mode)
    assert caught.value.retry_after == MAX_RETRY_AFTER
    rig.clock.advance(MAX_RETRY_AFTER - 1)
    with pytest.raises(RateLimitedError) as still:
        rig.token(auth, mode)
    assert still.value.retry_after == pytest.approx(1.0)
    assert len(rig.tokens()) == 1  # nobody was asked while quiet
    rig.clock.advance(1)
    assert rig.token(auth, mode).access_token in rig.issued()


@pytest.mark.parametrize("header", ["Retry-After", "X-RateLimit-Reset"])
def test_a_wait_far_ahead_is_waited_for_the_cap_when_the_deadline_allows(
    rig: Rig, mode: Mode, header: str
) -> None:
    far = str(int(rig.clock.time() + TEN_YEARS))
    rig.emu.add_fault(Fault.respond("token", 429, json=LIMITED, headers={header: far}))
    assert rig.token(rig.auth(deadline=MAX_RETRY_AFTER + 60), mode).access_token
    assert MAX_RETRY_AFTER <= rig.sleeps[0] <= MAX_RETRY_AFTER + 0.1
    assert len(rig.tokens()) == 2


@pytest.mark.parametrize(
    ("retry_after", "quiet"),
    [(math.inf, MAX_RETRY_AFTER), (1e9, MAX_RETRY_AFTER), (42.0, 42.0),
     (math.nan, 0.0), (-5.0, 0.0), (None, 0.0)],
)
def test_the_cache_never_stays_quiet_longer_than_the_cap_whatever_the_error_says(
    retry_after: float | None, quiet: float
) -> None:
    now = [0.0]
    cache = TokenCache(lambda: now[0], margin=60)

    def limited(left: float | None) -> Token:
        raise RateLimitedError("429", retry_after=retry_after)

    def granted(left: float | None) -> Token:
        return Token("t", "Bearer", 3600, None, now[0])

    with pytest.raises(RateLimitedError):
        cache.get(limited)
    if quiet:
        now[0] = quiet - 0.5
        with pytest.raises(RateLimitedError, match="not asking again"):
            cache.get(granted)
    now[0] = quiet
    assert cache.get(granted).token.access_token == "t"
