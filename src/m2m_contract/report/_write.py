"""Where reports go: paths checked before any scenario runs, then each format written.

A bad path is a usage error with one line naming the path and the problem; missing parent
folders are created. Writing goes through a temporary file, so a report is whole or absent.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ._html import render_html
from ._junit import render_junit
from ._markdown import render_markdown


class ReportPathError(ValueError):
    """A report path that cannot be written; the message names the option and the path."""


def _json(model: Mapping[str, Any]) -> str:
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


RENDERERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "json": _json,
    "junit": render_junit,
    "markdown": render_markdown,
    "html": render_html,
}


def checked_path(option: str, value: str, base: Path | None = None) -> Path:
    """`value` as an absolute path that can be written, its parent folders created."""
    path = Path(value)
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    shown = f"{option} {value}"
    if path.is_dir():
        raise ReportPathError(f"{shown}: is a directory; give a file name, e.g. {path}/report")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportPathError(
            f"{shown}: cannot create the folder {path.parent} ({exc.strerror})"
        ) from None
    try:  # the one sure test: a file can be created there (access() lies to root)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ReportPathError(
            f"{shown}: cannot write in {path.parent} ({exc.strerror})"
        ) from None
    if path.exists() and not os.access(path, os.W_OK):
        raise ReportPathError(f"{shown}: the file exists and cannot be overwritten")
    return path


@dataclass(frozen=True)
class Outputs:
    """The report files asked for (None: not asked for)."""

    json: Path | None = None
    junit: Path | None = None
    markdown: Path | None = None
    html: Path | None = None

    def __bool__(self) -> bool:
        return any(self.paths())

    def paths(self) -> list[Path]:
        return [p for f in fields(self) if (p := getattr(self, f.name)) is not None]

    def write(self, model: Mapping[str, Any]) -> list[Path]:
        """Write every asked-for format; return the paths written."""
        written = []
        for f in fields(self):
            path: Path | None = getattr(self, f.name)
            if path is not None:
                _atomic_write(path, RENDERERS[f.name](model))
                written.append(path)
        return written


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
