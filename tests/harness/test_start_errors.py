"""A client that cannot start says why in words that point at the real cause: a missing #!
interpreter is not a missing file."""

from __future__ import annotations

import os
from pathlib import Path

from m2m_contract.harness._process import STOPPED_BEFORE_START, run_bounded


def script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o755)
    return path


def start(argv: list[str], cwd: str | None = None) -> str | None:
    result = run_bounded(argv, env=dict(os.environ), timeout=10, cwd=cwd)
    assert result.exit_code is None and not result.timed_out
    return result.error


def test_a_missing_shebang_interpreter_is_named(tmp_path: Path) -> None:
    path = script(tmp_path, "bad.sh", "#!/nonexistent/python9 -u\nprint(1)\n")
    assert start([str(path)]) == (
        f"cannot start {str(path)!r}: the interpreter on its #! line, '/nonexistent/python9', "
        "does not exist"
    )


def test_a_relative_program_is_looked_up_in_the_working_directory(tmp_path: Path) -> None:
    script(tmp_path, "bad.sh", "#!/nonexistent/python9\n")
    assert start(["./bad.sh"], cwd=str(tmp_path)) == (
        "cannot start './bad.sh': the interpreter on its #! line, '/nonexistent/python9', "
        "does not exist"
    )


def test_a_shebang_interpreter_that_is_not_executable_is_named(tmp_path: Path) -> None:
    interpreter = tmp_path / "interp"
    interpreter.write_text("")
    interpreter.chmod(0o644)
    path = script(tmp_path, "bad.sh", f"#!{interpreter}\n")
    assert start([str(path)]) == (
        f"cannot start {str(path)!r}: the interpreter on its #! line, {str(interpreter)!r}, "
        "is not executable"
    )


def test_a_script_without_a_shebang_is_told_it_needs_one(tmp_path: Path) -> None:
    path = script(tmp_path, "plain.sh", "echo hi\n")
    error = start([str(path)])
    assert error is not None and "no #! line (a script needs one, e.g. #!/bin/sh)" in error
    assert error.startswith(f"cannot start {str(path)!r}: Exec format error")


def test_a_missing_program_is_still_a_missing_file() -> None:
    assert start(["m2m-no-such-command-here"]) == (
        "cannot start 'm2m-no-such-command-here': No such file or directory"
    )


def test_a_stop_already_set_starts_nothing(tmp_path: Path) -> None:
    import threading

    stop = threading.Event()
    stop.set()
    marker = tmp_path / "ran"
    result = run_bounded(
        ["sh", "-c", f"touch {marker}"], env=dict(os.environ), timeout=10, stop=stop
    )
    assert result.error == STOPPED_BEFORE_START and result.exit_code is None
    assert not marker.exists()
