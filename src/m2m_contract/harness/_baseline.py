"""Expected failures: a file of `scenario:check-id` lines ('#' starts a comment).

A baseline is a short text file: it is read up to MAX_BYTES (so `/dev/zero` or a log file
given by mistake is refused, not read into memory) and must be UTF-8.
"""

from __future__ import annotations

from pathlib import Path

from ..contract import CATALOGUE
from ..report import visible
from ._scenarios import SCENARIOS

MAX_BYTES = 1 << 20  # 1 MiB: tens of thousands of entries, far more than the catalogue has
_SHOWN = 80  # characters of a bad line quoted in an error


class BaselineError(ValueError):
    """A baseline file that cannot be used."""


def _shown(text: str) -> str:
    cut = text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
    return repr(cut)


def _read(source: Path, where: str) -> str:
    try:
        with source.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise BaselineError(f"{where}: cannot read the baseline ({exc.strerror})") from None
    except ValueError:  # a NUL in the path
        raise BaselineError(f"{where}: cannot read the baseline (a NUL in its name)") from None
    if len(data) > MAX_BYTES:
        raise BaselineError(
            f"{where}: more than {MAX_BYTES >> 20} MiB; a baseline is a short list of "
            "scenario:check-id lines"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BaselineError(
            f"{where}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); a baseline is a text file of scenario:check-id lines"
        ) from None


def load_baseline(path: str | Path) -> frozenset[tuple[str, str]]:
    source = Path(path)
    where = visible(str(source))
    text = _read(source, where)
    entries = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        scenario, sep, check_id = line.partition(":")
        if not sep:
            raise BaselineError(f"{where}:{number}: expected scenario:check-id, got {_shown(line)}")
        if scenario not in SCENARIOS:
            raise BaselineError(f"{where}:{number}: unknown scenario {_shown(scenario)}")
        if check_id not in CATALOGUE:
            raise BaselineError(f"{where}:{number}: unknown check {_shown(check_id)}")
        entries.add((scenario, check_id))
    return frozenset(entries)
