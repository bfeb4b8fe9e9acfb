"""Regenerate docs/benchmarks.md, docs/benchmarks-emulator.md and the charts from
bench/results/*.json.

Run (from the repository root)::

    .venv/bin/python bench/report.py                  # from the results already there
    .venv/bin/python bench/report.py --measure-tests  # first time `pytest -n 2 -q` too

`bash bench/run_all.sh` reruns every benchmark, then this. Nothing here measures anything
(except --measure-tests): the page says only what the results files say, and names the files
that are missing. Charts are drawn with matplotlib (the `bench` extra).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import report_emulator
from report_sections import (
    COMMANDS,
    EMULATOR,
    FALLBACK,
    NOCACHE,
    PEER,
    PLAIN,
    SOURCES,
    Results,
    client,
    emulator,
    machine,
    missing,
    soak,
    suite,
    summary,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
EMULATOR_DOC = ROOT / "docs" / "benchmarks-emulator.md"
CHART = ROOT / "docs" / "benchmarks.png"
SOAK_CHART = ROOT / "docs" / "benchmarks-soak.png"
COLOURS = {EMULATOR: "#2b6cb0", PLAIN: "#2c7a7b", FALLBACK: "#81e6d9", NOCACHE: "#90cdf4",
           PEER: "#dd6b20"}  # fmt: skip


def load() -> Results:
    found: Results = {}
    for name in SOURCES:
        path = RESULTS / f"{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text())
    return found


# -- charts ----------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    from matplotlib import pyplot

    return pyplot


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})  # no version stamp: stable reruns
    fig.clear()
    _pyplot().close(fig)


def draw_comparison(res: Results, path: Path) -> bool:
    if "emulator_http" not in res:
        return False
    servers = res["emulator_http"]["servers"]
    names = [n for n in (PLAIN, FALLBACK, EMULATOR, NOCACHE, PEER) if n in servers]
    sm = [servers[n]["summary"] for n in names]
    fig, (left, right) = _pyplot().subplots(1, 2, figsize=(12, 1.2 + 0.6 * len(names)), dpi=110)
    y = list(range(len(names)))[::-1]
    colours = [COLOURS[n] for n in names]
    left.barh(y, [x["tokens_per_s"] for x in sm], color=colours)
    for yy, x in zip(y, sm, strict=True):
        left.annotate(  # a white box keeps the figure legible over the target line
            f"{x['tokens_per_s']:,.0f}",
            (x["tokens_per_s"], yy),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )
    if PEER in servers:
        target = 1.5 * servers[PEER]["summary"]["tokens_per_s"]
        left.axvline(target, color="#444", linestyle="--", linewidth=1)
        left.text(target, -0.45, " target: 1.5x peer", fontsize=8, color="#444")
    left.set_yticks(y, names)
    left.set_xlabel("tokens per second (higher is better)")
    left.set_xlim(0, max(x["tokens_per_s"] for x in sm) * 1.22)
    height = 0.38
    right.barh(
        [v + height / 2 for v in y],
        [x["p50_ms"] for x in sm],
        height,
        color=colours,
        alpha=0.55,
        label="p50",
    )
    right.barh(
        [v - height / 2 for v in y],
        [x["p99_ms"] for x in sm],
        height,
        color=colours,
        label="p99 (worst round)",
    )
    for yy, x in zip(y, sm, strict=True):
        for key, dy, unit in (("p50_ms", height / 2, ""), ("p99_ms", -height / 2, " ms")):
            right.text(x[key], yy + dy, f" {x[key]:.0f}{unit}", va="center", fontsize=8)
    right.set_yticks(y, [""] * len(names))
    right.set_xlabel("latency, ms (lower is better): pale p50, solid p99")
    right.set_xlim(0, max(x["p99_ms"] for x in sm) * 1.2)
    s = res["emulator_http"].get("settings", {})
    fig.suptitle(
        f"Token endpoint over loopback HTTP, wrk -t{s.get('threads')} "
        f"-c{s.get('connections')}, same run",
        fontsize=11,
    )
    _save(fig, path)
    return True


def draw_soak(res: Results, path: Path) -> bool:
    if "soak" not in res:
        return False
    r = res["soak"]["results"]
    fig, (top, bottom) = _pyplot().subplots(2, 1, figsize=(9, 4.6), dpi=110, sharex=True)
    per_second = r["per_second"]
    top.plot(range(1, len(per_second) + 1), per_second, color=COLOURS[EMULATOR])
    top.set_ylim(0, max(per_second, default=1) * 1.15)
    top.set_ylabel("requests/s")
    samples = r["rss_samples"]
    bottom.plot(
        [x["t_s"] for x in samples],
        [x["rss_kib"] / 1024 for x in samples],
        color=COLOURS[PEER],
        label="VmRSS during the run",
    )
    rss = r["rss_kib"]
    bottom.axhline(
        rss["idle_start"] / 1024,
        color="#888",
        linestyle=":",
        linewidth=1,
        label="idle, before the warm-up",
    )
    bottom.set_ylim(0, rss["max"] / 1024 * 1.2)
    bottom.set_ylabel("server RSS, MiB")
    bottom.set_xlabel("seconds into the measured run")
    bottom.legend(loc="lower right", fontsize=8)
    fig.suptitle(
        f"Soak: {r['requests']:,} token and API requests in {r['duration_s']:.0f} s, "
        f"{r['non_2xx'] + r['socket_errors']} errors",
        fontsize=11,
    )
    _save(fig, path)
    return True


# -- the page --------------------------------------------------------------------------------


def render(res: Results) -> str:
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by bench/report.py from bench/results/*.json: edit those scripts, "
        "not this page. -->",
        "",
        "What the emulator and the reference client sustain, next to their peers, measured "
        "by the scripts in `bench/` on the machine below. Targets come from DESIGN.md; "
        "they are reported here, never asserted in tests. The stress tests "
        "(`tests/stress/`) check behaviour under load and faults — exact rate limits, "
        "isolation between clients, a faulty network, a simulated long life — by counts, "
        "not timings.",
        "",
    ]
    for part in (summary, machine, emulator, client, suite, soak, missing):
        lines += part(res)
    lines.append(COMMANDS)
    return "\n".join(lines).rstrip() + "\n"


def measure_tests() -> None:
    pytest = Path(sys.executable).with_name("pytest")
    argv = [str(pytest), "-n", "2", "-q", "-p", "no:cacheprovider"]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)
    wall = time.monotonic() - started
    last = [x for x in done.stdout.splitlines() if re.search(r"\d+ (passed|failed)", x)]
    result = {
        "benchmark": "test_time",
        "command": ".venv/bin/pytest -n 2 -q",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "wall_s": round(wall, 1),
        "exit": done.returncode,
        "summary": last[-1].strip("= ") if last else "no summary line",
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version()},
    }
    failed = [x.split()[1] for x in done.stdout.splitlines() if x.startswith(("FAILED ", "ERROR "))]
    if failed:
        result["failed"] = failed
    (RESULTS / "test_time.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"report: test run took {wall:.0f} s: {result['summary']}")
    for test in failed:
        print(f"report: failed: {test}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--measure-tests",
        action="store_true",
        help="time `.venv/bin/pytest -n 2 -q` first (bench/results/test_time.json)",
    )
    args = parser.parse_args(argv)
    if args.measure_tests:
        measure_tests()
    res = load()
    DOC.write_text(render(res))
    EMULATOR_DOC.write_text(report_emulator.render(res.get("emulator_http")))
    drawn = [
        p.name
        for p, ok in (
            (CHART, draw_comparison(res, CHART)),
            (SOAK_CHART, draw_soak(res, SOAK_CHART)),
        )
        if ok
    ]
    absent = [n for n in SOURCES if n not in res]
    print(
        f"report: wrote {DOC.relative_to(ROOT)}, {EMULATOR_DOC.relative_to(ROOT)} and "
        f"{', '.join(drawn) or 'no chart'}"
        + (f"; missing: {', '.join(absent)}" if absent else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
