"""Every example in docs/emulator.md runs and is true to the code."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from m2m_contract._cli import build_parser
from m2m_contract.emulator import load_tenant

from .conftest import Door

DOC = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"
DOC_URL = "http://127.0.0.1:8080"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks(language: str) -> list[str]:
    return [code for lang, code in _BLOCK.findall(DOC.read_text()) if lang == language]


PYTHON = [code for code in blocks("python") if "def test_" not in code]
PYTEST = [code for code in blocks("python") if "def test_" in code]


@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{i + 1}" for i in range(len(PYTHON))])
def test_python_example_runs(code: str) -> None:
    exec(compile(code, f"{DOC.name}:python", "exec"), {"__name__": "docs_example"})


def test_pytest_examples_pass(tmp_path: Path) -> None:
    assert PYTEST
    (tmp_path / "test_doc_examples.py").write_text("\n\n".join(PYTEST))
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
         "test_doc_examples.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env, check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{sum(code.count('def test_') for code in PYTEST)} passed" in done.stdout


@pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("sh") is None, reason="needs curl and sh"
)
def test_shell_examples_run_against_a_served_emulator(http_door: Door) -> None:
    url = str(http_door.client.base_url).rstrip("/")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    outputs = []
    for code in blocks("sh"):
        http_door.emulator.reset()
        done = subprocess.run(
            ["sh", "-ec", code.replace(DOC_URL, url)],
            capture_output=True, text=True, timeout=30, env=env, check=False,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)

    token_answer, quota_fault, admin_walkthrough = outputs
    assert json.loads(token_answer)["scope"] == "read:appointments"
    assert json.loads(quota_fault)["armed"][0]["status"] == 429
    assert '{"revoked":true}401\n' in admin_walkthrough
    assert "demo-secret" not in admin_walkthrough and "eyJ" not in admin_walkthrough
    assert admin_walkthrough.endswith('{"reset":true}')


def test_console_examples_use_real_flags() -> None:
    commands = [
        shlex.split(line[2:])
        for code in blocks("console")
        for line in code.splitlines()
        if line.startswith("$ m2m-contract ")
    ]

    assert commands
    for argv in commands:
        build_parser().parse_args(argv[1:])  # exits (fails the test) on an unknown flag


def test_toml_examples_are_valid_tenants(tmp_path: Path) -> None:
    for code in blocks("toml"):
        path = tmp_path / "tenant.toml"
        path.write_text(code)
        assert load_tenant(path).clients


def test_json_examples_are_json() -> None:
    for code in blocks("json"):
        json.loads(code)


def test_every_flag_of_serve_is_documented() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    serve = sub.choices["serve"]
    flags = {opt for action in serve._actions for opt in action.option_strings}
    text = DOC.read_text()

    missing = [f for f in flags if f.startswith("--") and f not in ("--help",) and f not in text]
    assert missing == []
