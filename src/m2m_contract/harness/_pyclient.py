"""A `--client-py module:function` client as a process of its own, like any other client.

In the client's process (stdlib only, so it also runs by path without importing m2m_contract):

    python -m m2m_contract.harness._pyclient module:function
    python .../harness/_pyclient.py module:function     # what pyclient_argv() gives: faster

Like `python -m`, the current directory goes first on sys.path. The function is called with
`os.environ` and its return value becomes the exit status as `sys.exit(value)` makes it:
None -> 0, an int -> that, anything else is printed on stderr -> 1. A SystemExit raised by
the function is the interpreter's to handle, as usual. Any other exception prints its last
traceback line (`ValueError: boom`) on stderr and exits 1. A target that cannot be imported
prints one line on stderr and exits IMPORT_FAILED (3); a malformed target exits USAGE (2).
`--check module:function` stops after the import and the lookup.

In the runner: `pyclient_argv(target)` and `check_importable(target)`, which tries the
import in a child process so an unimportable target is a usage error before any scenario.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["IMPORT_FAILED", "USAGE", "check_importable", "main", "pyclient_argv"]

USAGE = 2
IMPORT_FAILED = 3
CHECK_TIMEOUT = 30.0


def _put_cwd_first() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or os.curdir) == here:
        del sys.path[0]  # run by path: this directory is no place to import the client from
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def _load(target: str) -> Callable[[Mapping[str, str]], Any] | tuple[int, str]:
    """The function `target` names, or (exit status, one-line reason)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        return USAGE, f"the target must be module:function, not {target!r}"
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        return IMPORT_FAILED, f"cannot import {module_name!r} ({reason})"
    function = getattr(module, attr, None)
    if not callable(function):
        return IMPORT_FAILED, f"{module_name!r} has no callable {attr!r}"
    loaded: Callable[[Mapping[str, str]], Any] = function
    return loaded


def main(args: list[str]) -> object:
    """Run the target; the value returned is for `sys.exit`."""
    check = args[:1] == ["--check"]
    if check:
        args = args[1:]
    if len(args) != 1:
        print("usage: _pyclient [--check] module:function", file=sys.stderr)
        return USAGE
    _put_cwd_first()
    found = _load(args[0])
    if isinstance(found, tuple):
        print(found[1], file=sys.stderr)
        return found[0]
    if check:
        return 0
    try:
        return found(os.environ)
    except Exception as exc:
        print(traceback.format_exception_only(exc)[-1], end="", file=sys.stderr)
        return 1


def pyclient_argv(target: str, *, check: bool = False) -> list[str]:
    """The command that runs `target` as a client (by path: no m2m_contract import)."""
    return [sys.executable, os.path.abspath(__file__), *(["--check"] if check else []), target]


def check_importable(
    target: str,
    cwd: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = CHECK_TIMEOUT,
) -> str | None:
    """Why `target` cannot be run as a client (a one-line message), or None if it can."""
    from ._process import run_bounded  # runner side only: the client side is stdlib alone

    result = run_bounded(
        pyclient_argv(target, check=True),
        env=os.environ if env is None else env,
        timeout=timeout,
        cap=1 << 16,
        cwd=cwd,
    )
    if result.error is not None:
        return result.error
    if result.timed_out:
        return f"importing {target!r} took longer than {timeout:g} s"
    if result.exit_code == 0:
        return None
    lines = result.stderr.text().strip().splitlines()
    return lines[-1] if lines else f"checking {target!r} exited with status {result.exit_code}"


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
