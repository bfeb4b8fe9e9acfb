"""A baseline that is not a short UTF-8 text is refused in one line naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from m2m_contract.harness import BaselineError, load_baseline
from m2m_contract.harness._baseline import MAX_BYTES


def test_a_non_utf8_baseline_names_the_file_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "bin.baseline"
    path.write_bytes(b"happy-path:client-succeeds\n\xff\xfe garbage\n")
    with pytest.raises(BaselineError) as caught:
        load_baseline(path)
    assert str(caught.value) == (
        f"{path}:2: not UTF-8 text (byte 0xff at offset 27); a baseline is a text file of "
        "scenario:check-id lines"
    )


def test_an_endless_baseline_is_refused_after_1_mib_not_read_to_the_end() -> None:
    with pytest.raises(BaselineError, match=r"^/dev/zero: more than 1 MiB; a baseline is"):
        load_baseline("/dev/zero")


def test_a_baseline_of_exactly_1_mib_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.baseline"
    line = b"happy-path:client-succeeds\n"
    path.write_bytes(b"#" * (MAX_BYTES - len(line) - 1) + b"\n" + line)
    assert path.stat().st_size == MAX_BYTES
    assert load_baseline(path) == {("happy-path", "client-succeeds")}
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(BaselineError, match="more than 1 MiB"):
        load_baseline(path)


def test_a_long_bad_line_is_quoted_cut_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "b.txt"
    path.write_text("x" * 5000 + "\n")
    with pytest.raises(BaselineError) as caught:
        load_baseline(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:1: expected scenario:check-id, got 'xxx")
    assert message.endswith("…'") and len(message) < 200 + len(str(path))


def test_a_directory_baseline_says_so(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="cannot read the baseline"):
        load_baseline(tmp_path)
