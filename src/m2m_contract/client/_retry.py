"""When to try the token endpoint again, and after how long. Pure code.

Retried: 429 (after Retry-After / X-RateLimit-Reset), 5xx, 408 and no answer at all, with
jittered exponential backoff. Never retried: other 4xx (a wrong secret stays wrong, and
Auth0 counts every attempt) and malformed 2xx answers. Every wait must fit in the deadline:
a wait that would not is not started, so the caller gets its error in time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ._errors import ClientCredentialsError
from ._token import Failure

_RANDOM = random.Random()


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded, jittered exponential backoff under an overall deadline."""

    max_attempts: int = 5
    deadline: float = 30.0
    backoff_base: float = 0.25
    backoff_cap: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not self.deadline > 0:
            raise ValueError("deadline must be a positive number of seconds")
        if self.backoff_base < 0 or self.backoff_cap < self.backoff_base:
            raise ValueError("backoff_base must be >= 0 and no more than backoff_cap")

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Wait after failed attempt number `attempt` (1-based): between half and all of
        base * 2**(attempt-1), capped. Half is fixed so a retry never fires at once."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** (attempt - 1))
        return ceiling / 2 + (rng or _RANDOM).uniform(0, ceiling / 2)

    def next_wait(
        self,
        failure: Failure,
        attempt: int,
        remaining: float,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now.

        `remaining` is how much of the deadline is left after this attempt.
        """
        if not failure.retryable or attempt >= self.max_attempts:
            return None
        wait = self.backoff(attempt, rng)
        if failure.wait is not None:
            # The server said when; a little extra keeps clients from arriving in a herd.
            wait = max(wait, failure.wait + (rng or _RANDOM).uniform(0, 0.1))
        if wait >= remaining:
            return None
        return wait


def give_up(failure: Failure, attempts: int, elapsed: float) -> ClientCredentialsError:
    """The error to raise once retrying stops, saying how hard the client tried."""
    error = failure.error.clone()
    error.attempts = attempts
    if attempts > 1:
        error.args = (f"{error.args[0]} (gave up after {attempts} attempts in {elapsed:.1f} s)",)
    return error
