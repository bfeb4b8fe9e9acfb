"""Writing a command's output where it may fail: stdout piped into `head`, closed (`>&-`) or
full (`> /dev/full`), and stderr likewise.

A closed pipe ends the output quietly (no BrokenPipeError traceback) and the command keeps
its exit status: the reader chose to stop. Any other failure is returned as a reason, so the
command can say so in one line on stderr and exit 2: output that was asked for was lost.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TextIO


def emit(text: str, to: TextIO | None = None) -> str | None:
    """Print `text` (a newline added) on `to` (default stdout); None if it was written, or
    if the reader has gone (a closed pipe: silently); else why it could not be written."""
    stream = sys.stdout if to is None else to
    if stream is None:  # the descriptor was closed before Python started
        return "stdout is closed" if to is None else "the stream is closed"
    try:
        stream.write(text if text.endswith("\n") else text + "\n")
        stream.flush()
    except BrokenPipeError:
        _silence(stream)
        return None
    except (OSError, ValueError) as exc:  # ENOSPC, EIO, EBADF; ValueError: a closed file
        _silence(stream)
        return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return None


def warn(text: str) -> None:
    """One line on stderr, if stderr can take it (a closed or full stderr is not a crash)."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(text if text.endswith("\n") else text + "\n")
        stream.flush()
    except (OSError, ValueError):
        _silence(stream)


def _silence(stream: TextIO) -> None:
    """Point the stream's descriptor at /dev/null, so the interpreter's final flush of what
    is still buffered does not fail again (a second traceback, exit status 120)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
