"""`m2m-contract verify` given awkward input and outputs: a clear one-line error (exit 2) for
what cannot work, and a verdict once printed is never lost.

Device nodes are clones made in tmp_path, never /dev/null or /dev/full themselves.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from ..report.test_write_targets import FULL, NULL, device
from .test_verify_cli import CURL, ROOT, verify

HAPPY = ("--scenario", "happy-path")


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


# -- usage errors, before any scenario runs --------------------------------------------------


def test_nothing_after_dashes_is_a_usage_error_not_the_reference_client() -> None:
    done = verify(*HAPPY, "--")
    assert done.returncode == 2 and done.stdout == ""
    assert one_line(done.stderr) == (
        "m2m-contract verify: nothing after '--': put the client command and its arguments "
        "there (e.g. -- ./my-client --its-flag), or leave '--' out to test the reference client"
    )


def test_two_reports_to_one_file_are_refused_naming_both_options(tmp_path: Path) -> None:
    same = tmp_path / "same.x"
    done = verify(*HAPPY, "--report-json", str(same), "--junitxml", str(same), "--", *CURL)
    assert done.returncode == 2
    assert one_line(done.stderr) == (
        f"m2m-contract verify: --report-json {same} and --junitxml {same} are one file: the "
        "second report would replace the first; give each report a path of its own"
    )
    assert not same.exists()


def test_a_report_over_the_baseline_or_the_client_is_refused(tmp_path: Path) -> None:
    baseline = tmp_path / "b.txt"
    baseline.write_text("happy-path:client-succeeds\n")
    client = tmp_path / "client.sh"
    client.write_text((ROOT / "tests/conformance/programs/curl_client.sh").read_text())
    client.chmod(0o755)
    link = tmp_path / "link"
    link.symlink_to(client)
    cases = [
        (["--report-json", str(baseline), "--baseline", str(baseline), "--", *CURL],
         f"--report-json {baseline} is the --baseline file"),
        (["--report-html", str(client), "--", str(client)],
         f"--report-html {client} is the client command's program ({client})"),
        (["--report-markdown", str(link), "--", "sh", str(client)],
         f"--report-markdown {link} is a file the client command names ({client})"),
    ]
    for args, message in cases:
        done = verify(*HAPPY, *args)
        assert done.returncode == 2, done.stdout
        assert one_line(done.stderr).startswith(f"m2m-contract verify: {message}")
    assert baseline.read_text() == "happy-path:client-succeeds\n"
    assert client.read_text().startswith("#!")


def test_a_report_over_the_client_py_module_is_refused(tmp_path: Path) -> None:
    module = ROOT / "tests/conformance/clients.py"
    done = verify(*HAPPY, "--client-py", "tests.conformance.clients:good",
                  "--report-json", str(module))
    assert done.returncode == 2
    assert f"is the --client-py module's file ({module})" in one_line(done.stderr)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--report-json", "a" * 300], "the name is too long (at most 255 bytes"),
        (["--report-json", "/".join(["b" * 200] * 25)], "the name is too long"),
        (["--junitxml", "/"], "--junitxml /: is a directory; give a file name, e.g. /report"),
        (["--junitxml", f"{ROOT}/README.md/j.xml"], f"{ROOT}/README.md is a file, not a folder"),
        (["--baseline", "/dev/zero"], "/dev/zero: more than 1 MiB"),
        (["--scenario-timeout", "abc"], "error: argument --scenario-timeout: invalid float "
         "value: 'abc' (see m2m-contract verify --help)"),
    ],
)
def test_bad_paths_and_options_are_one_line_exit_2(args: list[str], message: str) -> None:
    done = verify(*HAPPY, *args, "--", *CURL)
    assert done.returncode == 2
    assert message in one_line(done.stderr)


def test_a_non_utf8_baseline_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "bin.baseline"
    path.write_bytes(b"\xff\xfe garbage\n")
    done = verify(*HAPPY, "--baseline", str(path), "--", *CURL)
    assert done.returncode == 2
    assert one_line(done.stderr) == (
        f"m2m-contract verify: {path}:1: not UTF-8 text (byte 0xff at offset 0); a baseline "
        "is a text file of scenario:check-id lines"
    )


# -- a client that never runs ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_line", "message"),
    [
        ("#!/nonexistent/python9", "the client could not start in any scenario: cannot start "
         "'{path}': the interpreter on its #! line, '/nonexistent/python9', does not exist"),
        ("#!/usr/bin/env m2m-no-such-interpreter", "the client exited with status 127 in every "
         "scenario before any request"),
    ],
)
def test_a_client_that_runs_in_no_scenario_is_a_setup_error(
    tmp_path: Path, first_line: str, message: str
) -> None:
    path = tmp_path / "client.sh"
    path.write_text(f"{first_line}\nprint(1)\n")
    path.chmod(0o755)
    done = verify(*HAPPY, "--scenario", "token-reuse", "--", str(path))
    assert done.returncode == 2, done.stdout
    assert done.stdout == ""
    assert one_line(done.stderr).startswith(
        "m2m-contract verify: " + message.format(path=path)
    )


# -- outputs that fail or are not plain files ------------------------------------------------


def test_reports_to_devices_a_fifo_and_a_symlink_are_written_in_place(tmp_path: Path) -> None:
    full, null = device(tmp_path / "full", FULL), device(tmp_path / "null", NULL)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    target = tmp_path / "target.html"
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "link.html"
    link.symlink_to(target.name)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    done = verify(*HAPPY, "--report-json", str(full), "--junitxml", str(null),
                  "--report-markdown", str(fifo), "--report-html", str(link), "--", *CURL)
    reader.join(30)
    assert done.returncode == 2  # /dev/full takes nothing
    assert done.stdout.strip().splitlines()[-1].startswith("m2m-contract conformance: PASS")
    assert done.stderr.splitlines() == [
        f"m2m-contract verify: --report-json {full}: cannot write the report (No space left "
        "on device); the verdict stands",
        f"report written to {null}",
        f"report written to {fifo}",
        f"report written to {link}",
    ]
    for node, number in ((full, FULL), (null, NULL)):
        st = os.lstat(node)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == number
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and got[0].startswith(b"## ")
    assert link.is_symlink() and target.read_text().startswith("<!DOCTYPE html>")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_report_to_dev_stdout_is_all_stdout_carries(tmp_path: Path) -> None:
    odd = tmp_path / "a\nb.xml"
    done = verify(*HAPPY, "--report-json", "/dev/stdout", "--junitxml", str(odd), "--", *CURL)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "passed"
    lines = done.stderr.strip().splitlines()
    assert lines[-3].startswith("m2m-contract conformance: PASS")  # the verdict, on stderr
    assert lines[-2:] == ["report written to /dev/stdout",
                          f"report written to {tmp_path}/a\\nb.xml"]
    assert odd.read_text().startswith("<?xml")


def test_a_report_folder_that_became_a_file_keeps_the_verdict(tmp_path: Path) -> None:
    folder = tmp_path / "rdir"
    client = tmp_path / "swap.py"
    client.write_text(textwrap.dedent(f"""
        import shutil
        shutil.rmtree({str(folder)!r}, ignore_errors=True)
        open({str(folder)!r}, "w").write("x")
    """))
    done = verify(*HAPPY, "--report-json", str(folder / "r.json"), "--",
                  sys.executable, str(client))
    assert done.returncode == 2
    assert done.stdout.strip().splitlines()[-1].startswith("m2m-contract conformance: FAIL")
    assert one_line(done.stderr) == (
        f"m2m-contract verify: --report-json {folder}/r.json: cannot write the report "
        f"({folder} is a file, not a folder); the verdict stands"
    )


@pytest.mark.parametrize("stdout", ["closed", "full"])
def test_a_closed_or_full_stdout_puts_the_verdict_on_stderr_and_exits_2(
    tmp_path: Path, stdout: str
) -> None:
    redirect = ">&-" if stdout == "closed" else f"> {device(tmp_path / 'full', FULL)}"
    command = f"exec {sys.executable} -m m2m_contract verify --scenario happy-path -- " \
        f"sh tests/conformance/programs/curl_client.sh {redirect}"
    done = subprocess.run(["sh", "-c", command], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2
    why = "stdout is closed" if stdout == "closed" else "No space left on device"
    line = one_line(done.stderr)
    assert line.startswith(f"m2m-contract verify: cannot print the verdict ({why}); it is: "
                           "m2m-contract conformance: PASS")


def test_a_closed_stderr_still_gives_the_verdict_on_stdout() -> None:
    command = f"exec {sys.executable} -m m2m_contract verify --scenario happy-path -- " \
        "sh tests/conformance/programs/curl_client.sh 2>&-"
    done = subprocess.run(["sh", "-c", command], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0
    assert done.stdout.strip().splitlines()[-1].startswith("m2m-contract conformance: PASS")
