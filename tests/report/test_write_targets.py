"""Where a report lands: regular files replaced whole, devices, FIFOs and descriptors written
in place, symlinks followed, and every bad path one line (no OSError).

Device nodes are clones made in tmp_path (never /dev/null or /dev/full themselves), so a
regression that replaced them would replace only the clone.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from m2m_contract.report._write import (
    ReportPathError,
    ReportWriteError,
    checked_path,
    descriptor_of,
    destination,
    write_report,
)

NULL, FULL = os.makedev(1, 3), os.makedev(1, 7)


def device(path: Path, number: int) -> Path:
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, number)
    except PermissionError:
        pytest.skip("making a device node needs CAP_MKNOD (root)")
    return path


def is_device(path: Path, number: int) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == number


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[tuple[Path, list[bytes], threading.Thread]]:
    """A FIFO with a reader already waiting on it; what it read goes in the list."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as file:
            got.append(file.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    yield fifo, got, thread
    if thread.is_alive():  # the test failed before writing: let the reader go
        with open(fifo, "wb"):
            pass
    thread.join(10)


def test_a_new_report_is_a_regular_file_of_mode_644(tmp_path: Path) -> None:
    path = checked_path("--report-json", str(tmp_path / "sub" / "r.json"))
    write_report(path, "{}\n")
    assert path.read_text() == "{}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temporary file left


def test_an_existing_report_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("old")
    path.chmod(0o600)
    write_report(checked_path("--report-json", str(path)), "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_symlink_to_a_file_keeps_the_link_and_replaces_the_target(tmp_path: Path) -> None:
    target = tmp_path / "target.json"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to("target.json")
    write_report(checked_path("--report-json", str(link)), "new")
    assert link.is_symlink() and os.readlink(link) == "target.json"
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "made" / "there.json")
    write_report(checked_path("--report-json", str(link)), "new")
    assert link.is_symlink() and (tmp_path / "made" / "there.json").read_text() == "new"


def test_a_null_device_is_written_in_place_and_stays_a_device(tmp_path: Path) -> None:
    null = device(tmp_path / "null", NULL)
    write_report(checked_path("--junitxml", str(null)), "<xml/>")
    assert is_device(null, NULL)


def test_a_full_device_is_a_write_error_and_stays_a_device(tmp_path: Path) -> None:
    full = device(tmp_path / "full", FULL)
    path = checked_path("--report-json", str(full))  # writable, as far as can be told
    with pytest.raises(ReportWriteError) as caught:
        write_report(path, "x" * 10_000)
    assert caught.value.reason == "No space left on device"
    assert is_device(full, FULL)


def test_a_symlink_to_a_device_writes_to_the_device(tmp_path: Path) -> None:
    null = device(tmp_path / "null", NULL)
    link = tmp_path / "link"
    link.symlink_to(null)
    write_report(checked_path("--report-json", str(link)), "x")
    assert link.is_symlink() and is_device(null, NULL)


def test_a_fifo_with_a_reader_gets_the_whole_report(
    reader: tuple[Path, list[bytes], threading.Thread],
) -> None:
    fifo, got, thread = reader
    path = checked_path("--report-markdown", str(fifo))
    text = "line\n" * 50_000  # more than a pipe holds: the writer must wait for the reader
    for _ in range(500):  # until the reader thread is in its open()
        try:
            write_report(path, text)
            break
        except ReportWriteError as exc:
            assert "nothing is reading" in exc.reason
            threading.Event().wait(0.01)
    thread.join(10)
    assert got == [text.encode()]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_fifo_without_a_reader_fails_at_once_instead_of_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ReportWriteError, match="nothing is reading from it"):
        write_report(checked_path("--report-json", str(fifo)), "x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_descriptor_paths_write_to_the_descriptor_at_its_offset(tmp_path: Path) -> None:
    read, write = os.pipe()
    try:
        for path in (f"/proc/self/fd/{write}", f"/dev/fd/{write}"):
            assert descriptor_of(path) == write
            write_report(checked_path("--report-json", path), "r\n")
        link = tmp_path / "out"
        link.symlink_to(f"/proc/self/fd/{write}")
        assert descriptor_of(link) == write
        write_report(checked_path("--report-json", str(link)), "via link\n")
        assert link.is_symlink()
        assert os.read(read, 100) == b"r\nr\nvia link\n"
    finally:
        os.close(read)
        os.close(write)
    assert descriptor_of("/dev/stdout") == 1 and descriptor_of("/dev/stderr") == 2


def test_a_closed_or_read_only_descriptor_is_refused_up_front() -> None:
    read, write = os.pipe()
    os.close(write)
    try:
        with pytest.raises(ReportPathError, match=f"descriptor {read} is open for reading only"):
            checked_path("--report-json", f"/dev/fd/{read}")
    finally:
        os.close(read)
    with pytest.raises(ReportPathError, match=f"descriptor {write} is not open"):
        checked_path("--report-json", f"/proc/self/fd/{write}")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a" * 300, "the name is too long (at most 255 bytes for one name"),
        ("/".join(["b" * 200] * 25), "the name is too long"),
    ],
)
def test_a_name_or_path_too_long_is_one_line_not_an_oserror(
    tmp_path: Path, name: str, message: str
) -> None:
    with pytest.raises(ReportPathError) as caught:
        checked_path("--report-json", str(tmp_path / name))
    shown = str(caught.value)
    assert message in shown and "\n" not in shown and len(shown) < 400


def test_a_long_name_in_a_missing_folder_is_refused_before_the_run(tmp_path: Path) -> None:
    with pytest.raises(ReportPathError, match="the name is too long"):
        checked_path("--report-json", str(tmp_path / "missing" / ("a" * 300)))


def test_the_root_folder_suggests_a_file_in_it() -> None:
    with pytest.raises(ReportPathError) as caught:
        checked_path("--junitxml", "/")
    assert str(caught.value) == "--junitxml /: is a directory; give a file name, e.g. /report"


def test_a_parent_that_is_a_file_is_named_as_a_file(tmp_path: Path) -> None:
    (tmp_path / "c.py").write_text("")
    for value in (tmp_path / "c.py" / "j.xml", tmp_path / "c.py" / "deeper" / "j.xml"):
        with pytest.raises(ReportPathError) as caught:
            checked_path("--junitxml", str(value))
        file = tmp_path / "c.py"
        assert str(caught.value) == f"--junitxml {value}: {file} is a file, not a folder"


def test_a_newline_in_a_path_is_shown_escaped_in_its_message(tmp_path: Path) -> None:
    folder = tmp_path / "a\nb"
    folder.mkdir()
    with pytest.raises(ReportPathError) as caught:
        checked_path("--report-json", str(folder))
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(f"--report-json {tmp_path}/a\\nb: is a directory")


def test_block_devices_and_sockets_are_refused(tmp_path: Path) -> None:
    import socket

    sock_path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock_path))
        with pytest.raises(ReportPathError, match="is a socket"):
            checked_path("--report-json", str(sock_path))
    block = tmp_path / "disk"
    try:
        os.mknod(block, 0o600 | stat.S_IFBLK, os.makedev(7, 200))  # a loop device number
    except PermissionError:
        return  # only root makes device nodes; the socket case above still ran
    with pytest.raises(ReportPathError, match="is a block device"):
        checked_path("--report-json", str(block))


def test_a_folder_that_became_a_file_is_a_write_error_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "rdir"
    path = checked_path("--report-json", str(folder / "r.json"))
    folder.rmdir()
    folder.write_text("x")
    with pytest.raises(ReportWriteError) as caught:
        write_report(path, "{}")
    assert caught.value.reason == f"{folder} is a file, not a folder"


def test_a_removed_folder_is_made_again_at_the_end(tmp_path: Path) -> None:
    folder = tmp_path / "rdir"
    path = checked_path("--report-json", str(folder / "r.json"))
    folder.rmdir()
    write_report(path, "{}")
    assert path.read_text() == "{}"


def test_destination_names_one_file_by_any_of_its_paths(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.write_text("")
    (tmp_path / "link").symlink_to(target)
    os.link(target, tmp_path / "hard")
    assert destination(target) == destination(tmp_path / "link") == destination(tmp_path / "hard")
    assert destination(tmp_path / "new") == destination(tmp_path / "." / "new")
    assert destination(tmp_path / "new") != destination(tmp_path / "other")
    assert destination(Path("/dev/stdout")) == destination(Path("/proc/self/fd/1"))
