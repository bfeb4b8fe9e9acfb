"""The runnable examples of docs/client.md run, offline, as they are written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "client.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
# The first example talks to the real sandbox with your own credentials: it is shown, not run.
RUNNABLE = [block for block in BLOCKS if "YOUR_CLIENT_ID" not in block]


def test_the_guide_has_runnable_examples() -> None:
    assert len(RUNNABLE) >= 3


@pytest.mark.parametrize("number", range(len(RUNNABLE)))
def test_guide_example_runs(number: int, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(RUNNABLE[number], f"{DOC.name} example {number + 1}", "exec"), {})
    assert "demo-secret" not in capsys.readouterr().out
