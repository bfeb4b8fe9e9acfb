"""The contract's numbers: every tolerance a timing check gives, and what each scenario expects.

Each tolerance is stated in the message of the check that applies it and explained in
docs/conformance.md ("Time and tolerances"). They are wide enough that a correct client, or one
whose clock has whole-second granularity, gets the same verdict on every run however loaded the
machine, and the scenarios are timed so that a client that ignores the rule is caught every run.
"""

from __future__ import annotations

# A token may be presented up to this long after its expires_in has run out, counted from when
# its request reached the emulator. Clients that keep expiry in whole seconds (rounding the
# receipt time, or `expired?` on whole seconds) are up to 1 s late; transit adds the rest.
# The emulated API accepts exactly the tokens this tolerance accepts.
EXPIRY_TOLERANCE = 2.0

# A retry after a 429 counts as honouring `Retry-After: N` when it arrives at least
# N - RETRY_AFTER_TOLERANCE seconds after the 429 was sent (a whole-second clock waits N - 1).
RETRY_AFTER_TOLERANCE = 1.0

# A retry after a 5xx that arrives sooner than this after the answer counts as no backoff.
# Tolerance: anything from 100 ms on is a backoff. A client that retries at once arrives
# within milliseconds (a few tens on a loaded machine); common backoffs are 100 ms and up
# (0.2 s, 0.25 s in this reference client, 0.3 s, 0.5 s or 1 s in google-auth and tenacity's
# exponential wait). A client that sleeps X is measured at about X or more (the wait counts
# from when the answer was sent), so the threshold sits well below every such backoff and
# well above an immediate retry: neither flips on a slow run.
MIN_BACKOFF = 0.1

# token-endpoint-stall: the client must give up by itself within this budget. It is placed away
# from common library defaults (5 s in httpx and requests-based SDKs, 30 s in openid-client,
# 60 s in httpx-auth and Ruby's Net::HTTP), so no verdict flips on a slow run.
STALL_BUDGET = 18.0

# Token requests allowed in a scenario whose token endpoint fails (5xx, reset) before it works.
MAX_TOKEN_ATTEMPTS = 5

# Scenarios in which a correct client ends with every API call answered 2xx (exit 0).
SUCCESS_SCENARIOS = (
    "happy-path",
    "scope-list",
    "no-scope",
    "offline-access",
    "token-reuse",
    "concurrent-calls",
    "expiry",
    "refresh-token-offered",
)
# Scenarios in which no usable token can be had, or the API refuses every one: exit non-zero.
FAILURE_SCENARIOS = (
    "bad-credentials",
    "not-granted-scope",
    "malformed-token-response",
    "missing-access-token",
    "wrong-token-type",
    "api-rejects-token",
    "untrusted-certificate",
    "token-redirect",
    "token-endpoint-stall",
)
# Scenarios in which no answer carries a usable token: no API call may be made at all.
NO_TOKEN_SCENARIOS = (
    "bad-credentials",
    "not-granted-scope",
    "malformed-token-response",
    "missing-access-token",
    "wrong-token-type",
    "untrusted-certificate",
    "token-redirect",
    "token-endpoint-stall",
)
# Scenarios whose tokens expire while the client still has API calls to make.
EXPIRY_SCENARIOS = ("expiry", "refresh-token-offered")
