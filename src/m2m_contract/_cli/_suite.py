"""Running a packaged suite (`m2m_contract.suite`) under pytest for `verify` and `live`:
isolated from the user's pytest configuration, PYTEST_ADDOPTS, PYTEST_PLUGINS and other
installed plugins, with pytest's own terminal output off (the command prints its verdict)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import pytest

T = TypeVar("T")

SUITE_DIR = Path(__file__).parents[1] / "suite"
ISOLATION = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")


def _preset(key: pytest.StashKey[T], state: T) -> object:
    """A plugin that puts the command's ready state where the suite's plugin looks for it
    (under `key`), before that plugin configures itself."""
    import pytest

    class Preset:
        @pytest.hookimpl(tryfirst=True)
        def pytest_configure(self, config: pytest.Config) -> None:
            config.stash[key] = state

    return Preset()


def run_suite(test_file: str, plugin: str, key: pytest.StashKey[T], state: T) -> int:
    """pytest's exit status for SUITE_DIR/`test_file` with the plugin module `plugin`, whose
    state (under `key`) is the command's `state`."""
    import pytest

    argv = [
        str(SUITE_DIR / test_file),
        "-c", str(SUITE_DIR / "pytest.ini"),
        "--rootdir", str(SUITE_DIR),
        "--confcutdir", str(SUITE_DIR),  # no conftest.py of the user's (or ours) above it
        "--import-mode=importlib",
        "-p", "no:terminal",
        "-p", "no:cacheprovider",
        "-p", "no:unraisableexception",  # its gc.collect() passes cost 0.2 s, for no verdict
        "-p", plugin,
        "-W", "ignore",  # a partner's warnings are not the verdict
    ]  # fmt: skip
    with _isolated(), _no_missing_streams():
        return int(pytest.main(argv, plugins=[_preset(key, state)]))


@contextlib.contextmanager
def _isolated() -> Iterator[None]:
    """No PYTEST_ADDOPTS, PYTEST_PLUGINS or autoloaded plugins while the suite runs."""
    saved = {name: os.environ.pop(name) for name in ISOLATION if name in os.environ}
    autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        os.environ.update(saved)
        if autoload is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = autoload


@contextlib.contextmanager
def _no_missing_streams() -> Iterator[None]:
    """pytest needs sys.stdout and sys.stderr: with a descriptor closed (`2>&-`) Python has
    None there, so lend it /dev/null for the run; None is back for the verdict."""
    missing = [name for name in ("stdout", "stderr") if getattr(sys, name) is None]
    with contextlib.ExitStack() as stack:
        for name in missing:
            setattr(sys, name, stack.enter_context(open(os.devnull, "w")))
        try:
            yield
        finally:
            for name in missing:
                setattr(sys, name, None)
