"""The pytest route given a client that never runs, or a report that cannot be written at
the end: a usage error (exit 4) naming why, the verdict kept."""

from __future__ import annotations

import sys
import textwrap

import pytest

SUITE = "from m2m_contract.suite import test_conformance\n"


def test_a_client_that_starts_in_no_scenario_ends_the_session_naming_why(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_m2m_conformance=SUITE)
    client = pytester.path / "client.sh"
    client.write_text("#!/nonexistent/python9\n")
    client.chmod(0o755)
    result = pytester.runpytest_subprocess(
        "--m2m-client-cmd", str(client), "--m2m-scenario", "happy-path"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines([
        "*the client could not start in any scenario: cannot start*the interpreter on its "
        "#! line, '/nonexistent/python9', does not exist*"
    ])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_a_report_that_cannot_be_written_at_the_end_keeps_the_verdict(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_m2m_conformance=SUITE)
    folder = pytester.path / "rdir"
    swap = pytester.path / "swap.py"
    swap.write_text(textwrap.dedent(f"""
        import shutil
        shutil.rmtree({str(folder)!r}, ignore_errors=True)
        open({str(folder)!r}, "w").write("x")
    """))
    result = pytester.runpytest_subprocess(
        "--m2m-client-cmd", f"{sys.executable} {swap}", "--m2m-scenario", "happy-path",
        "--m2m-report-json", "rdir/r.json", "--m2m-junitxml", "j.xml",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the client failed: that comes first
    result.stdout.fnmatch_lines([
        "*m2m-contract conformance: FAIL*",
        f"report written to {pytester.path / 'j.xml'}",
        f"--m2m-report-json {folder}/r.json: cannot write the report ({folder} is a file, "
        "not a folder)",
    ])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
