"""How long `m2m-contract verify` takes, and where the time goes.

Run: .venv/bin/python bench/verify_time.py [--rounds N]
Writes bench/results/verify_time.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from m2m_contract.harness import SCENARIOS, CommandRunner, ConformanceSession, python_client
from m2m_contract.harness import Options as HarnessOptions
from m2m_contract.harness._runner import ClientRunner, run_scenario

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
CLIENTS: dict[str, list[str]] = {
    "reference client (--client-py, the default)": [],
    "reference client as a command": ["--", str(BIN / "m2m-contract"), "reference-client"],
    "curl client (shell)": ["--", "sh", str(ROOT / "tests/conformance/programs/curl_client.sh")],
    "Node.js client": ["--", "node", str(ROOT / "tests/conformance/programs/node_client.mjs")],
}


def wall(args: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "m2m-contract"), "verify", *args], capture_output=True, cwd=ROOT, check=False
    )
    return time.perf_counter() - start, done.returncode


def breakdown(runner: ClientRunner) -> dict[str, float]:
    """Seconds per scenario run alone, and all of them side by side."""
    out: dict[str, float] = {}
    for name, scenario in SCENARIOS.items():
        start = time.perf_counter()
        run_scenario(scenario, runner)
        out[name] = time.perf_counter() - start
    start = time.perf_counter()
    ConformanceSession(runner, HarnessOptions()).prepare(list(SCENARIOS))
    out["all scenarios side by side"] = time.perf_counter() - start
    return out


def startup() -> float:
    start = time.perf_counter()
    subprocess.run([str(BIN / "m2m-contract"), "--version"], capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    verify: dict[str, dict[str, object]] = {}
    results: dict[str, object] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "rounds": args.rounds,
        "cli_startup_s": startup(),
        "verify": verify,
    }
    print("| client | median s | min s | max s | exit |\n|---|---|---|---|---|")
    for label, extra in CLIENTS.items():
        runs = [wall(extra) for _ in range(args.rounds)]
        times = [t for t, _ in runs]
        codes = sorted({c for _, c in runs})
        verify[label] = {
            "median_s": statistics.median(times),
            "min_s": min(times),
            "max_s": max(times),
            "exit": codes,
        }
        print(
            f"| {label} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} "
            f"| {codes} |"
        )
    reference = python_client("m2m_contract.client:run_protocol")
    command = CommandRunner((str(BIN / "m2m-contract"), "reference-client"))
    in_process, as_command = breakdown(reference), breakdown(command)
    results["breakdown_reference_client_py_s"] = in_process
    results["breakdown_reference_command_s"] = as_command
    print("\nPer scenario (run alone), seconds: --client-py | as a command")
    for name, a in in_process.items():
        b = as_command[name]
        print(f"  {name:<28} {a:6.2f} | {b:6.2f}")
    print(f"\nCLI start-up (m2m-contract --version): {results['cli_startup_s']:.2f} s")
    out = ROOT / "bench/results/verify_time.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
