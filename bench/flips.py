"""The flip-finder: run the whole mutant corpus (and the good clients) N times and report every
verdict that changed between runs. A gate that flips is worse than none: the answer must be 0.

Run: .venv/bin/python bench/flips.py [--runs N] [--load]
`--load` keeps both cores busy with two spinning processes meanwhile. Writes
bench/results/flips.json and prints one line per flip (client, scenario:check, statuses).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))  # the corpus lives in the test suite

from tests.conformance.test_good_clients import GOOD, runner_of  # noqa: E402
from tests.conformance.test_mutants import MUTANTS, SHORT_STALL  # noqa: E402

from m2m_contract.harness import SCENARIOS, ConformanceSession, Options  # noqa: E402

SPIN = "import time\nend = time.monotonic() + 3600\nwhile time.monotonic() < end: pass\n"
Verdicts = dict[str, str]


def corpus() -> dict[str, tuple[object, tuple[str, ...]]]:
    """name -> (runner, scenarios): every mutant on its scenarios, every good client on all."""
    clients: dict[str, tuple[object, tuple[str, ...]]] = {
        m.name: (m.runner(), m.scenarios) for m in MUTANTS
    }
    for name, (client, _) in GOOD.items():
        clients[f"good:{name}"] = (runner_of(client), tuple(SCENARIOS))
    return clients


def one_run(runner: object, scenarios: tuple[str, ...]) -> Verdicts:
    session = ConformanceSession(runner, Options(stall_budget=SHORT_STALL))  # type: ignore[arg-type]
    return {f"{r.scenario}:{r.id}": r.status for r in session.results(scenarios)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=4, help="clients run at once")
    parser.add_argument("--load", action="store_true", help="spin both cores meanwhile")
    args = parser.parse_args()
    spinners = (
        [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(2)] if args.load else []
    )
    started = time.perf_counter()
    runs: dict[str, list[Verdicts]] = defaultdict(list)
    try:
        clients = corpus()
        for round_ in range(1, args.runs + 1):
            with ThreadPoolExecutor(args.parallel) as pool:
                futures = {n: pool.submit(one_run, r, s) for n, (r, s) in clients.items()}
                for name, future in futures.items():
                    runs[name].append(future.result())
            print(f"round {round_}/{args.runs} done ({time.perf_counter() - started:.0f} s)",
                  flush=True)
    finally:
        for spinner in spinners:
            spinner.kill()
    flips = [
        {"client": name, "case": case, "statuses": [r.get(case, "absent") for r in results]}
        for name, results in runs.items()
        for case in sorted(set().union(*results))
        if len({r.get(case, "absent") for r in results}) > 1
    ]
    for flip in flips:
        print(f"FLIP {flip['client']} {flip['case']}: {' '.join(flip['statuses'])}")
    judged = sum(len(results[0]) for results in runs.values())
    print(f"{len(flips)} flip(s) in {judged} verdicts x {args.runs} runs "
          f"({len(runs)} clients, load {'on' if args.load else 'off'}, "
          f"{time.perf_counter() - started:.0f} s)")
    out = ROOT / "bench/results/flips.json"
    out.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": args.runs, "load": args.load, "clients": len(runs),
        "verdicts_per_run": judged, "flips": flips,
        "seconds": round(time.perf_counter() - started, 1),
    }, indent=2) + "\n")
    return 1 if flips else 0


if __name__ == "__main__":
    sys.exit(main())
