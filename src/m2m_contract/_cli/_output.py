"""Writing to stdout from a command that may be piped into `head`: a closed pipe ends the
output quietly (no BrokenPipeError traceback), and the command keeps its exit status."""

from __future__ import annotations

import contextlib
import os
import sys


def emit(text: str) -> None:
    """Print `text` (a newline added); if the reader has gone, stop writing, silently."""
    try:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
