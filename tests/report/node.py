"""Mermaid's parser and a GFM renderer (marked), run by Node.js from tests/report/mermaid/.

The packages are pinned in mermaid/package-lock.json and installed there by `npm ci` on
first use (node_modules is git-ignored); a missing Node.js or npm fails the test.
"""

from __future__ import annotations

import fcntl
import html
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent / "mermaid"


def _installed() -> bool:
    wanted = json.loads((HERE / "package.json").read_text(encoding="utf-8"))["dependencies"]
    for name, version in wanted.items():
        manifest = HERE / "node_modules" / name / "package.json"
        if not manifest.exists():
            return False
        if json.loads(manifest.read_text(encoding="utf-8")).get("version") != version:
            return False
    return True


def ensure_installed() -> str:
    """The node executable, with the pinned packages installed (once, under a lock)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("Node.js and npm are needed to run Mermaid's parser (apt-get install npm)")
    lock = Path(tempfile.gettempdir()) / "m2m-contract-report-npm.lock"
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two xdist workers install once
        if not _installed():
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0 or not _installed():
                pytest.fail(f"npm ci in {HERE} failed: {done.stderr[-2000:]}")
    return node


def run(mode: str, texts: list[str]) -> list[dict[str, Any]]:
    """`node check.mjs MODE` over `texts`: one result per text (see check.mjs)."""
    node = ensure_installed()
    with tempfile.TemporaryDirectory(prefix="m2m-node-") as tmp:
        source, target = Path(tmp) / "in.json", Path(tmp) / "out.json"
        source.write_text(json.dumps(texts), encoding="utf-8")
        done = subprocess.run(
            [node, str(HERE / "check.mjs"), mode, str(source), str(target)],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"check.mjs {mode} failed: {done.stderr[-2000:]}")
        results: list[dict[str, Any]] = json.loads(target.read_text(encoding="utf-8"))
    return results


def shown(label: str) -> str:
    """A label as Mermaid displays it: its placeholders back to entities, then decoded."""
    entities = label.replace("ﬂ°°", "&#").replace("ﬂ°", "&").replace("¶ß", ";")
    return html.unescape(entities)
