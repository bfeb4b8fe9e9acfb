"""The benchmark pages are generated from bench/results/*.json, never edited by hand: what
bench/report.py would write now is what docs/ holds."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def report() -> ModuleType:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return importlib.import_module("report")
    finally:
        sys.path.remove(str(ROOT / "bench"))


def test_docs_benchmarks_md_is_what_bench_report_generates() -> None:
    module = report()

    assert (ROOT / "docs" / "benchmarks.md").read_text() == module.render(module.load())


def test_docs_benchmarks_emulator_md_is_what_bench_report_generates() -> None:
    module = report()
    results = module.load().get("emulator_http")

    page = (ROOT / "docs" / "benchmarks-emulator.md").read_text()

    assert page == module.report_emulator.render(results)
    assert "reference/" not in page and "shared/" not in page  # docs stand alone
