"""The CI action and the CI examples of docs/conformance.md and docs/live.md: valid against the
GitHub Actions and GitLab CI schemas (check-jsonschema's vendored copies, offline), and clean
under zizmor."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
SCHEMAS = {".github/workflows": "vendor.github-workflows", ".gitlab-ci.yml": "vendor.gitlab-ci"}


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is required (the test extra installs it)")
    return found


def documented(tmp_path: Path) -> dict[str, Path]:
    """Each YAML block of docs/conformance.md and docs/live.md whose first line names its
    file, written out."""
    text = "".join(
        (ROOT / "docs" / name).read_text(encoding="utf-8") for name in ("conformance.md", "live.md")
    )
    files = {}
    for body, name in re.findall(r"```yaml\n(# (\S+)\n.*?)```", text, re.S):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
        files[name] = path
    return files


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_the_action_is_a_valid_github_action() -> None:
    done = run(
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.github-actions",
        str(ROOT / "action.yml"),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_documented_workflows_and_gitlab_job_are_valid(tmp_path: Path) -> None:
    files = documented(tmp_path)
    assert {
        ".github/workflows/oauth-contract.yml",
        ".gitlab-ci.yml",
        ".github/workflows/m2m-live.yml",
    } <= set(files)
    for name, path in files.items():
        schema = next(s for prefix, s in SCHEMAS.items() if name.startswith(prefix))
        done = run(tool("check-jsonschema"), "--builtin-schema", schema, str(path))
        assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"


def test_zizmor_finds_nothing_in_the_action_or_the_documented_workflows(tmp_path: Path) -> None:
    documented(tmp_path)
    for target in (ROOT / "action.yml", tmp_path / ".github/workflows"):
        done = run(tool("zizmor"), "--offline", "--no-progress", str(target))
        assert done.returncode == 0, f"{target}: {done.stdout}{done.stderr}"
        assert "No findings" in done.stdout + done.stderr


def test_the_action_runs_verify_with_its_inputs_never_interpolated_into_a_script() -> None:
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    scripts = re.findall(r"run: \|\n((?:        .*\n)+)", text)
    assert scripts and not any("${{" in script for script in scripts)
    assert 'm2m-contract" verify' in text or 'm2m-contract/bin/m2m-contract" verify' in text
    for name in ("client-command", "profile", "strict", "baseline", "report-dir"):
        assert f"inputs.{name}" in text
