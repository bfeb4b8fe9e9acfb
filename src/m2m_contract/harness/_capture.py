"""Per-thread capture of stdout/stderr, so in-process clients can run side by side."""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from collections.abc import Iterator
from typing import TextIO


class _Router(io.TextIOBase):
    """Writes from registered threads go to their buffer; the rest to the original stream."""

    def __init__(self, original: TextIO, buffers: dict[int, io.StringIO]) -> None:
        self._original = original
        self._buffers = buffers

    def write(self, text: str) -> int:
        buffer = self._buffers.get(threading.get_ident())
        if buffer is not None:
            return buffer.write(text)
        return self._original.write(text)

    def flush(self) -> None:
        self._original.flush()


class ThreadCapture:
    """Install once around a batch of runs; `capture()` inside each worker thread."""

    def __init__(self) -> None:
        self._buffers: dict[int, io.StringIO] = {}
        self._saved: tuple[TextIO, TextIO] | None = None

    def __enter__(self) -> ThreadCapture:
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = _Router(sys.stdout, self._buffers)
        sys.stderr = _Router(sys.stderr, self._buffers)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            sys.stdout, sys.stderr = self._saved

    @contextlib.contextmanager
    def capture(self) -> Iterator[io.StringIO]:
        buffer = io.StringIO()
        self._buffers[threading.get_ident()] = buffer
        try:
            yield buffer
        finally:
            self._buffers.pop(threading.get_ident(), None)
