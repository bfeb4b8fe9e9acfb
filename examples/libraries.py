#!/usr/bin/env python3
"""Put popular OAuth client libraries through `m2m-contract verify`, and write what they do.

The adapters in clients/ configure one library each the way its own documentation shows
(`default`), and with the smallest change that fixes what the default gets wrong
(`fix`, M2M_ADAPTER_FIX=1). clients/notes.toml lists them, with what each check means in
production and how to fix each adapter, so that the page is generated whole.

    python3 examples/libraries.py install   # examples/.venv, npm ci, the Go build
    python3 examples/libraries.py run       # every adapter and fix -> results/libraries.json
    python3 examples/libraries.py page --out docs/libraries.md

Standard library only; it shells out to python -m venv, pip, npm, go, dpkg-query and
m2m-contract.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _libraries_page import render  # beside this file: the page is its own module

HERE = Path(__file__).resolve().parent
CLIENTS = HERE / "clients"
NOTES = CLIENTS / "notes.toml"
RESULTS = HERE / "results" / "libraries.json"
VENV = HERE / ".venv"
CONFIGURATIONS = ("default", "fix")
PAGE_COMMAND = "python3 examples/libraries.py page --out docs/libraries.md"

Json = dict[str, Any]


class Failure(Exception):
    """A step cannot go on; the message says what to do."""


def load_notes(path: Path = NOTES) -> Json:
    with path.open("rb") as f:
        return tomllib.load(f)


def _step(title: str, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    print(f"== {title}: {' '.join(argv)}", flush=True)
    if subprocess.run(argv, cwd=cwd, env=env).returncode != 0:
        raise Failure(f"{title} failed: {' '.join(argv)} (in {cwd})")


def _debian_version(package: str) -> str | None:
    try:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True
        )
    except FileNotFoundError:
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def install(python: str, apt: bool, python_only: bool = False) -> None:
    """The pinned Python venv, the npm lock, the Debian packages' Go build; time it."""
    started = time.monotonic()
    notes = load_notes()
    _step("python venv", [python, "-m", "venv", str(VENV)], HERE)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    _step("python libraries", [*pip, "-q", "-r", "clients/python/requirements.txt"], HERE)
    if python_only:
        print(f"installed the Python libraries in {time.monotonic() - started:.1f} s")
        return
    _step("node libraries", ["npm", "ci", "--no-audit", "--no-fund"], CLIENTS / "node")
    for package, wanted in notes["debian"].items():
        have = _debian_version(package)
        if have != wanted and apt:
            _step("debian package", ["apt-get", "install", "-y", f"{package}={wanted}"], HERE)
            have = _debian_version(package)
        if have != wanted:
            print(
                f"!! {package}: {have or 'not installed'}, pinned {wanted}; "
                f"`apt-get install {package}={wanted}` (or run install --apt)"
            )
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": "/usr/share/gocode"}
    go = ["go", "build", "-o", "bin/x_oauth2_client", "x_oauth2_client.go"]
    _step("go adapter", go, CLIENTS / "go", env)
    print(f"installed in {time.monotonic() - started:.1f} s")


def scenario_verdicts(report: Json) -> dict[str, Json]:
    """scenario -> {verdict: ok|warn|FAIL, failures: [...], warnings: [...]} from `checks`."""
    out: dict[str, Json] = {}
    for check in report["checks"]:
        entry = out.setdefault(check["scenario"], {"failures": [], "warnings": []})
        kind = {"failed": "failures", "warning": "warnings"}.get(check["status"])
        if kind:
            entry[kind].append(
                {"id": check["id"], "severity": check["severity"], "message": check["message"]}
            )
    for entry in out.values():
        entry["verdict"] = "FAIL" if entry["failures"] else "warn" if entry["warnings"] else "ok"
    return out


def _command(adapter: Json, configuration: str) -> list[str]:
    python = str(Path(".venv") / "bin" / "python")
    argv = [python if part == "{python}" else part for part in adapter["command"]]
    return ["env", "M2M_ADAPTER_FIX=1", *argv] if configuration == "fix" else argv


def run_one(m2m: str, name: str, adapter: Json, configuration: str, extra: list[str]) -> Json:
    """One `verify` of one adapter configuration, its report reduced to verdicts."""
    argv = _command(adapter, configuration)
    with tempfile.TemporaryDirectory(prefix="m2m-libraries-") as tmp:
        report_path = Path(tmp) / "report.json"
        started = time.monotonic()
        done = subprocess.run(
            [m2m, "verify", "--report-json", str(report_path), *extra, "--", *argv],
            cwd=HERE,
            capture_output=True,
            text=True,
        )
        seconds = round(time.monotonic() - started, 1)
        entry: Json = {
            "adapter": name,
            "configuration": configuration,
            "command": " ".join(argv),
            "exit_status": done.returncode,
            "seconds": seconds,
        }
        if not report_path.exists():
            entry["error"] = (done.stderr or done.stdout).strip()[-600:]
            return entry
        report = json.loads(report_path.read_text())
    entry["summary"] = report["summary"]
    entry["scenarios"] = scenario_verdicts(report)
    return entry


def _m2m_contract(option: str | None) -> str:
    found = option or shutil.which("m2m-contract")
    if found is None and (HERE.parent / ".venv" / "bin" / "m2m-contract").exists():
        found = str(HERE.parent / ".venv" / "bin" / "m2m-contract")
    if found is None:
        raise Failure("m2m-contract is not on PATH; give its path with --m2m-contract")
    if os.sep in found:  # verify runs in examples/: a relative path must not change meaning
        found = str(Path(found).resolve())
    if not os.access(found, os.X_OK):
        raise Failure(f"{found} is not an executable m2m-contract; give it with --m2m-contract")
    return found


def run(m2m_option: str | None, only: list[str], extra: list[str], jobs: int, out: Path) -> Json:
    """Every adapter in both configurations through verify; the combined results file."""
    m2m = _m2m_contract(m2m_option)
    version = subprocess.run([m2m, "--version"], capture_output=True, text=True).stdout.strip()
    adapters = load_notes()["adapters"]
    unknown = sorted(set(only) - set(adapters))
    if unknown:
        raise Failure(f"no adapter named {', '.join(unknown)}; known: {', '.join(adapters)}")
    todo = [
        (name, adapter, configuration)
        for name, adapter in adapters.items()
        if not only or name in only
        for configuration in CONFIGURATIONS
        if configuration == "default" or adapter.get("fix", True)
    ]
    started, stamp = time.monotonic(), dt.datetime.now(dt.UTC)

    def one(job: tuple[str, Json, str]) -> Json:
        entry = run_one(m2m, *job, extra)
        verdicts = {s: v["verdict"] for s, v in entry.get("scenarios", {}).items()}
        failed = [s for s, v in verdicts.items() if v == "FAIL"]
        state = entry.get("error", "").splitlines()[-1:] or [
            f"{len(failed)} scenario{'' if len(failed) == 1 else 's'} FAIL"
        ]
        print(
            f"{entry['adapter']:>18} {entry['configuration']:<7} {entry['seconds']:5.1f} s  "
            f"{state[0]}{': ' + ', '.join(failed) if failed else ''}",
            flush=True,
        )
        return entry

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        entries = list(pool.map(one, todo))
    if only and out.exists():  # --only re-runs some adapters: keep the others' entries
        fresh = {(e["adapter"], e["configuration"]) for e in entries}
        kept = json.loads(out.read_text())["runs"]
        entries += [e for e in kept if (e["adapter"], e["configuration"]) not in fresh]
        order = {name: i for i, name in enumerate(adapters)}
        entries.sort(key=lambda e: (order.get(e["adapter"], len(order)), e["configuration"]))
    results: Json = {
        "generated_by": "python3 examples/libraries.py run " + " ".join(extra),
        "m2m_contract": {"command": m2m, "version": version, "verify_options": extra},
        "started": stamp.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1),
        "verify_seconds": round(sum(e["seconds"] for e in entries), 1),
        "runs": entries,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".tmp")
    partial.write_text(json.dumps(results, indent=1) + "\n")
    partial.replace(out)
    print(f"{len(entries)} runs in {results['seconds']} s -> {out}")
    return results


def python_and_curl() -> list[str]:
    """The adapters CI runs live: every Python one, and plain curl."""
    adapters = load_notes()["adapters"]
    return [
        name for name, a in adapters.items() if a["language"] == "Python" or a["command"][0] == "sh"
    ]


def differences(fresh: Json, stored: Json) -> list[str]:
    """Where the verdicts of `fresh` runs differ from the stored ones (the same runs only)."""

    def verdicts(results: Json) -> dict[tuple[str, str], dict[str, Any]]:
        return {
            (r["adapter"], r["configuration"]): {
                s: (v["verdict"], sorted({f["id"] for f in v["failures"]}))
                for s, v in r.get("scenarios", {}).items()
            }
            for r in results["runs"]
        }

    old, new = verdicts(stored), verdicts(fresh)
    out = []
    for key, scenarios in new.items():
        for scenario, verdict in scenarios.items():
            before = old.get(key, {}).get(scenario)
            if before != verdict:
                out.append(f"{key[0]} {key[1]} {scenario}: stored {before}, now {verdict}")
    return out


def _shown(path: Path) -> str:
    """A path as the page names it: from the repository root when it is inside the repository."""
    try:
        return str(path.resolve().relative_to(HERE.parent))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help="examples/.venv, npm ci, the Go adapter")
    p_install.add_argument("--python", default=sys.executable, help="the Python for the venv")
    p_install.add_argument("--apt", action="store_true", help="apt-get the pinned Debian packages")
    p_install.add_argument(
        "--python-only", action="store_true", help="only the Python libraries (what CI runs live)"
    )
    p_run = sub.add_parser("run", help="every adapter and fix through m2m-contract verify")
    p_run.add_argument("--m2m-contract", help="the m2m-contract executable (default: PATH)")
    p_run.add_argument("--only", action="append", default=[], metavar="ADAPTER")
    p_run.add_argument("--tls", action="store_true", help="pass --tls to verify")
    p_run.add_argument("--scenario", action="append", default=[], help="pass to verify")
    p_run.add_argument("--scenario-timeout", type=float, help="pass to verify")
    p_run.add_argument("--jobs", type=int, default=1, help="verify runs side by side")
    p_run.add_argument("--out", type=Path, default=RESULTS)
    p_run.add_argument(
        "--python-and-curl",
        action="store_true",
        help="only the Python adapters and curl (what CI runs live)",
    )
    p_run.add_argument(
        "--check",
        action="store_true",
        help="compare with the stored results instead of replacing them; exit 1 on any difference",
    )
    p_page = sub.add_parser("page", help="docs/libraries.md from the results")
    p_page.add_argument("--results", type=Path, default=RESULTS)
    p_page.add_argument("--notes", type=Path, default=NOTES)
    p_page.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            install(args.python, args.apt, args.python_only)
        elif args.command == "run":
            extra = ["--tls"] if args.tls else []
            for name in args.scenario:
                extra += ["--scenario", name]
            if args.scenario_timeout:
                extra += ["--scenario-timeout", str(args.scenario_timeout)]
            only = [*args.only, *(python_and_curl() if args.python_and_curl else [])]
            if not args.check:
                run(args.m2m_contract, only, extra, args.jobs, args.out)
                return 0
            with tempfile.TemporaryDirectory() as tmp:
                fresh = run(args.m2m_contract, only, extra, args.jobs, Path(tmp) / "fresh.json")
            changed = differences(fresh, json.loads(args.out.read_text()))
            for line in changed:
                print(f"changed: {line}")
            if changed:
                print(
                    f"{len(changed)} verdict(s) differ from {_shown(args.out)}: re-run "
                    "`python3 examples/libraries.py run` and regenerate the page"
                )
                return 1
            print(f"every verdict matches {_shown(args.out)}")
        else:
            results = json.loads(args.results.read_text())
            page = render(results, load_notes(args.notes), _shown(args.results))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(page)
            print(f"wrote {args.out}")
    except Failure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
