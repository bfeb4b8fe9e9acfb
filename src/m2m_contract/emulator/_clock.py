"""Clocks: the wall time tokens are stamped with and the monotonic time the journal records."""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What the emulator asks of a clock."""

    def time(self) -> float:
        """Return UNIX time in seconds (used for `iat`, `exp` and expiry checks)."""

    def monotonic(self) -> float:
        """Return a monotonic reading in seconds (used for journal timings)."""


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A clock that moves only when told to, so expiry can be tested without sleeping."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self._lock = threading.Lock()
        self._now = float(start)
        self._mono = 0.0

    def time(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Move both readings forward by `seconds` (which must not be negative)."""
        if seconds < 0:
            raise ValueError("a clock only moves forward; got a negative advance")
        if not math.isfinite(seconds):
            raise ValueError("a clock advance must be a finite number of seconds")
        with self._lock:
            self._now += seconds
            self._mono += seconds

    def __repr__(self) -> str:
        return f"FakeClock(time={self.time()!r})"
