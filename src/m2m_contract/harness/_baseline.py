"""Expected failures: a file of `scenario:check-id` lines ('#' starts a comment)."""

from __future__ import annotations

from pathlib import Path

from ..contract import CATALOGUE
from ._scenarios import SCENARIOS


class BaselineError(ValueError):
    """A baseline file that cannot be used."""


def load_baseline(path: str | Path) -> frozenset[tuple[str, str]]:
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"{source}: cannot read the baseline ({exc.strerror})") from None
    entries = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        scenario, sep, check_id = line.partition(":")
        if not sep:
            raise BaselineError(f"{source}:{number}: expected scenario:check-id, got {line!r}")
        if scenario not in SCENARIOS:
            raise BaselineError(f"{source}:{number}: unknown scenario {scenario!r}")
        if check_id not in CATALOGUE:
            raise BaselineError(f"{source}:{number}: unknown check {check_id!r}")
        entries.add((scenario, check_id))
    return frozenset(entries)
