"""A token bucket per client, timed on the emulator's clock."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from ._clock import Clock
from ._config import RateLimit


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # UNIX time (s) when the bucket is full again
    retry_after: int  # seconds until one request is allowed (0 when allowed)

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("x-ratelimit-limit", str(self.limit)),
            ("x-ratelimit-remaining", str(self.remaining)),
            ("x-ratelimit-reset", str(self.reset)),
        ]


class RateLimiter:
    """Buckets keyed by client id; bounded to `max_clients` (least recently seen evicted)."""

    def __init__(self, policy: RateLimit, clock: Clock, max_clients: int = 10_000) -> None:
        self._policy = policy
        self._clock = clock
        self._max = max_clients
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)

    def take(self, key: str) -> Decision:
        cap, rate = self._policy.capacity, self._policy.per_second
        with self._lock:
            now = self._clock.monotonic()
            tokens, last = self._buckets.pop(key, (float(cap), now))
            tokens = min(float(cap), tokens + (now - last) * rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self._max:
                del self._buckets[next(iter(self._buckets))]
        wall = self._clock.time()
        reset = math.ceil(wall + (cap - tokens) / rate)
        retry = 0 if allowed else max(1, math.ceil((1.0 - tokens) / rate))
        return Decision(allowed, cap, int(tokens), reset, retry)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
