"""The live smoke test's support: settings, the run, scrubbing and cassette hygiene.

`pytest --live` (or `m2m-contract live`) runs `m2m_contract.suite.test_live` against the
tenant; without `--live` it replays scrubbed cassettes with the network blocked. The checks
themselves are in m2m_contract.contract (suite "live"). See docs/live.md.
"""

from ._cassettes import CassetteMissing, Mode, ReplayError, vcr_config
from ._codecs import ScrubError, decode, decode_body
from ._hygiene import Finding, check_cassettes, check_file, check_text
from ._scrub import Scrubber
from ._session import TOKEN_REQUESTS, LiveRun, verify_signature
from ._settings import (
    SANDBOX_TOKEN_URL,
    BadSettings,
    LiveSettings,
    MissingSettings,
    wrong_secret_for,
)

__all__ = [
    "SANDBOX_TOKEN_URL",
    "TOKEN_REQUESTS",
    "BadSettings",
    "CassetteMissing",
    "Finding",
    "LiveRun",
    "LiveSettings",
    "MissingSettings",
    "Mode",
    "ReplayError",
    "ScrubError",
    "Scrubber",
    "check_cassettes",
    "check_file",
    "check_text",
    "decode",
    "decode_body",
    "vcr_config",
    "verify_signature",
    "wrong_secret_for",
]
