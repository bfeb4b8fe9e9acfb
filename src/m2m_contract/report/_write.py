"""Where reports go: paths checked before any scenario runs, then each format written.

A bad path is a usage error with one line naming the path and the problem; missing parent
folders are created. What a path names decides how a report is written:

- a regular file, or nothing yet: a temporary file beside it, then renamed over it, so the
  report is whole or absent; an existing file keeps its mode (and, for root, its owner). A
  symlink is followed: its target is replaced and the link kept.
- an open descriptor (`/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`): written
  to that descriptor, at its current offset, as `>>` would.
- a character device (`/dev/null`, a terminal) or a FIFO: opened and written in place, never
  replaced (a FIFO needs a reader already, or the write fails rather than hang).
- a directory, a block device or a socket: refused.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ._html import render_html
from ._junit import render_junit
from ._markdown import render_markdown
from ._text import visible

NAME_MAX, PATH_MAX = 255, 4096  # bytes, when the file system does not say
_MAX_LINKS = 40  # symlinks followed before giving up, as the kernel does
_FD_PATH = re.compile(r"/(?:dev/fd|proc/(?:self|thread-self|(?P<pid>\d+))/fd)/(?P<fd>\d+)")
_STD = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
_NEW_MODE = 0o644  # a new report: readable by all, as a CI artifact is


class ReportPathError(ValueError):
    """A report path that cannot be written; the message names the option and the path."""


class ReportWriteError(OSError):
    """A report that could not be written at the end; `reason` says why, in a few words."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{shown_path(path)}: {reason}")
        self.path = path
        self.reason = reason


def _json(model: Mapping[str, Any]) -> str:
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


RENDERERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "json": _json,
    "junit": render_junit,
    "markdown": render_markdown,
    "html": render_html,
}


def shown_path(value: str | os.PathLike[str]) -> str:
    """A path as part of one message line: control characters (a newline) made visible,
    and a very long one cut in the middle."""
    text = visible(os.fspath(value))
    return text if len(text) <= 160 else f"{text[:100]}…{text[-59:]}"


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return (f"the name is too long (at most {NAME_MAX} bytes for one name, {PATH_MAX} "
                "for the whole path)")
    if exc.errno == errno.ENXIO:
        return "nothing is reading from it (a FIFO needs its reader started first)"
    return exc.strerror or str(exc)


def descriptor_of(path: str | os.PathLike[str]) -> int | None:
    """The open descriptor of this process that `path` names (/dev/stdout, /dev/fd/1,
    /proc/self/fd/1, or a symlink to one of them), or None."""
    current = os.fspath(path)
    for _ in range(_MAX_LINKS):
        current = os.path.normpath(current)
        if current in _STD:
            return _STD[current]
        match = _FD_PATH.fullmatch(current)
        if match and match["pid"] in (None, str(os.getpid())):
            return int(match["fd"])
        try:
            link = os.readlink(current)
        except (OSError, ValueError):  # not a symlink, gone, or not a path at all
            return None
        current = os.path.join(os.path.dirname(current), link)
    return None


def _stat(path: Path, shown: str) -> os.stat_result | None:
    """What `path` names (symlinks followed), None if nothing yet; a path that cannot even be
    looked up (too long, a symlink loop, no permission) is a ReportPathError."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):  # the folder checks below say which
        return None
    except OSError as exc:
        raise ReportPathError(f"{shown}: {_reason(exc)}") from None
    except ValueError:  # an embedded NUL
        raise ReportPathError(f"{shown}: a path cannot contain a NUL character") from None


def _refused(st: os.stat_result) -> str | None:
    """Why a report is never written onto what `st` describes, or None."""
    if stat.S_ISBLK(st.st_mode):
        return "is a block device; a report is never written onto a disk"
    if stat.S_ISSOCK(st.st_mode):
        return "is a socket; give a file, a FIFO or /dev/stdout"
    return None


def _folder_problem(parent: Path) -> str | None:
    """Why `parent` cannot hold the report file: an ancestor that is a file, not a folder."""
    for folder in (parent, *parent.parents):
        try:
            st = os.stat(folder)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            return f"cannot look at the folder {shown_path(folder)} ({_reason(exc)})"
        if not stat.S_ISDIR(st.st_mode):
            return f"{shown_path(folder)} is a file, not a folder"
        return None
    return None


def _too_long(path: Path) -> bool:
    name_max, path_max = NAME_MAX, PATH_MAX
    with contextlib.suppress(OSError, ValueError):
        name_max = os.pathconf(path.parent, "PC_NAME_MAX")
        path_max = os.pathconf(path.parent, "PC_PATH_MAX")
    return len(os.fsencode(path.name)) > name_max or len(os.fsencode(path)) >= path_max


def checked_path(option: str, value: str, base: Path | None = None) -> Path:
    """`value` as an absolute path that can be written, its parent folders created."""
    path = Path(value)
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    shown = f"{option} {shown_path(value)}"
    fd = descriptor_of(path)
    if fd is not None:
        try:
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        except OSError:
            raise ReportPathError(f"{shown}: descriptor {fd} is not open") from None
        if flags & os.O_ACCMODE == os.O_RDONLY:
            raise ReportPathError(f"{shown}: descriptor {fd} is open for reading only")
        return path
    st = _stat(path, shown)
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise ReportPathError(
                f"{shown}: is a directory; give a file name, e.g. {shown_path(path / 'report')}"
            )
        refused = _refused(st)
        if refused is not None:
            raise ReportPathError(f"{shown}: {refused}")
        if not stat.S_ISREG(st.st_mode):  # a device or a FIFO: written in place
            if not os.access(path, os.W_OK):
                raise ReportPathError(f"{shown}: cannot be written (permission denied)")
            return path
    real = Path(os.path.realpath(path))  # a symlink's target is what gets replaced
    problem = _folder_problem(real.parent)
    if problem is not None:
        raise ReportPathError(f"{shown}: {problem}")
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportPathError(
            f"{shown}: cannot create the folder {shown_path(real.parent)} ({_reason(exc)})"
        ) from None
    if _too_long(real):
        raise ReportPathError(f"{shown}: {_reason(OSError(errno.ENAMETOOLONG, ''))}")
    try:  # the one sure test: a file can be created there (access() lies to root)
        fd, probe = tempfile.mkstemp(dir=real.parent, prefix=".m2m-", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ReportPathError(
            f"{shown}: cannot write in {shown_path(real.parent)} ({_reason(exc)})"
        ) from None
    if st is not None and not os.access(real, os.W_OK):
        raise ReportPathError(f"{shown}: the file exists and cannot be overwritten")
    return path


def destination(path: Path) -> tuple[object, ...]:
    """What `path` writes to, comparable between two paths: the descriptor, else the file
    (device and inode), else the path with symlinks followed (a file not made yet)."""
    fd = descriptor_of(path)
    if fd is not None:
        return ("descriptor", fd)
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return ("path", os.path.realpath(path))
    return ("file", st.st_dev, st.st_ino)


def write_report(path: Path, text: str) -> None:
    """Write `text` to `path` as the module docstring says; ReportWriteError if it fails."""
    data = text.encode("utf-8")
    try:
        fd = descriptor_of(path)
        if fd is not None:
            _write_all(fd, data)
            return
        try:
            st: os.stat_result | None = os.stat(path)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise ReportWriteError(path, "is a directory")
        if st is not None and not stat.S_ISREG(st.st_mode):
            _write_in_place(path, data, st)
        else:
            _replace(Path(os.path.realpath(path)), data, st)
    except ReportWriteError:
        raise
    except OSError as exc:
        problem = None
        if exc.errno == errno.ENOTDIR:  # a folder on the way became a file
            problem = _folder_problem(Path(os.path.realpath(path)).parent)
        raise ReportWriteError(path, problem or _reason(exc)) from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_in_place(path: Path, data: bytes, st: os.stat_result) -> None:
    refused = _refused(st)
    if refused is not None:
        raise ReportWriteError(path, refused)
    flags = os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC
    if stat.S_ISFIFO(st.st_mode):
        flags |= os.O_NONBLOCK  # no reader: ENXIO now, rather than waiting for ever
    fd = os.open(path, flags)
    try:
        os.set_blocking(fd, True)
        _write_all(fd, data)
    finally:
        os.close(fd)


def _replace(real: Path, data: bytes, st: os.stat_result | None) -> None:
    problem = _folder_problem(real.parent)
    if problem is not None:
        raise ReportWriteError(real, problem)
    real.parent.mkdir(parents=True, exist_ok=True)  # removed since the check: made again
    fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=".m2m-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        if st is not None and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
            with contextlib.suppress(OSError):  # only root may give a file away
                os.chown(tmp, st.st_uid, st.st_gid)
        os.chmod(tmp, stat.S_IMODE(st.st_mode) if st is not None else _NEW_MODE)
        os.replace(tmp, real)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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

    def named(self) -> list[tuple[str, Path]]:
        """(format, path) of every report asked for; the format is a key of RENDERERS."""
        return [(f.name, p) for f in fields(self) if (p := getattr(self, f.name)) is not None]

    def write(self, model: Mapping[str, Any]) -> list[Path]:
        """Write every asked-for format; return the paths written (ReportWriteError stops)."""
        written = []
        for name, path in self.named():
            write_report(path, RENDERERS[name](model))
            written.append(path)
        return written
