"""The live smoke test's support: settings, the run, checks, scrubbing and cassette hygiene.

`pytest --live` runs `suites/live` against the sandbox tenant; plain `pytest` replays its
scrubbed cassettes with the network blocked. See docs/live.md.
"""

from . import _token_checks as _token_checks  # registers the access-token checks
from ._cassettes import CassetteMissing, Mode, ReplayError, vcr_config
from ._checks import LIVE_CHECKS, LiveCheck
from ._hygiene import Finding, check_cassettes, check_file, check_text
from ._scrub import Scrubber, decode_body, unsign
from ._session import MAX_TOKEN_REQUESTS, Answer, Keys, LiveRun, Outcome, Verdict
from ._settings import (
    SANDBOX_TOKEN_URL,
    BadSettings,
    LiveSettings,
    MissingSettings,
    Target,
    wrong_secret_for,
)

__all__ = [
    "LIVE_CHECKS",
    "MAX_TOKEN_REQUESTS",
    "SANDBOX_TOKEN_URL",
    "Answer",
    "BadSettings",
    "CassetteMissing",
    "Finding",
    "Keys",
    "LiveCheck",
    "LiveRun",
    "LiveSettings",
    "MissingSettings",
    "Mode",
    "Outcome",
    "ReplayError",
    "Scrubber",
    "Target",
    "Verdict",
    "check_cassettes",
    "check_file",
    "check_text",
    "decode_body",
    "unsign",
    "vcr_config",
    "wrong_secret_for",
]
