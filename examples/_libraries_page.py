"""docs/libraries.md from results/libraries.json and clients/notes.toml, generated whole."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

Json = dict[str, Any]
VERDICT_CELL = {"ok": "ok", "warn": "warn", "FAIL": "**FAIL**"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _scenarios(runs: Iterable[Json]) -> list[str]:
    """Scenario names in the order the first complete report lists them."""
    names: dict[str, None] = {}
    for run in runs:
        names.update(dict.fromkeys(run.get("scenarios", {})))
    return list(names)


def _everywhere(run: Json) -> dict[str, int]:
    """SHOULD warnings raised in at least half the scenarios of a run, with their counts:
    said once under the table, not in every cell."""
    scenarios = run.get("scenarios", {}).values()
    counts: dict[str, int] = {}
    for entry in scenarios:
        for check_id in {w["id"] for w in entry["warnings"]}:
            counts[check_id] = counts.get(check_id, 0) + 1
    return {c: n for c, n in sorted(counts.items()) if 2 * n >= len(scenarios) > 1}


def _verdict_text(entry: Json | None, everywhere: dict[str, int]) -> str:
    if entry is None:
        return "not run"
    ids = [f["id"] for f in entry["failures"]]
    ids = ids or [w["id"] for w in entry["warnings"] if w["id"] not in everywhere]
    shown = VERDICT_CELL[entry["verdict"]]
    return f"{shown} ({', '.join(f'`{i}`' for i in dict.fromkeys(ids))})" if ids else shown


def _overall(run: Json) -> str:
    if "error" in run:
        return "could not run"
    scenarios = run["scenarios"].values()
    failed = sum(1 for s in scenarios if s["verdict"] == "FAIL")
    warned = sum(1 for s in scenarios if s["verdict"] == "warn")
    if failed:
        return f"**FAIL** in {_in_scenarios(failed)}" + (f", warn in {warned}" if warned else "")
    return f"passes, warn in {_in_scenarios(warned)}" if warned else "passes clean"


def _headline(adapters: Json, runs: dict[str, dict[str, Json]]) -> str:
    """How many defaults and fixes pass, and the scenarios their defaults fail most often."""

    def failing(run: Json) -> list[str]:
        if "error" in run:
            return ["(could not run)"]
        return [n for n, s in run["scenarios"].items() if s["verdict"] == "FAIL"]

    defaults = [runs[name]["default"] for name in adapters]
    fixes = [runs[name]["fix"] for name in adapters if "fix" in runs[name]]
    common: dict[str, int] = {}
    for run in defaults:
        for scenario in failing(run):
            common[scenario] = common.get(scenario, 0) + 1
    top = sorted(common.items(), key=lambda item: (-item[1], item[0]))[:3]
    most = ", ".join(f"`{scenario}` ({count} of {len(defaults)})" for scenario, count in top)
    return (
        f"**{sum(not failing(r) for r in defaults)} of {len(defaults)}** libraries pass with "
        f"their documented defaults; **{sum(not failing(r) for r in fixes)} of {len(fixes)}** "
        f"pass with their fix. The scenarios defaults fail most often: {most or 'none'}."
    )


def _in_scenarios(count: int) -> str:
    return f"{count} scenario{'' if count == 1 else 's'}"


def _production(notes: Json, check_id: str, missing: set[str]) -> str:
    note = notes.get("checks", {}).get(check_id, {}).get("production")
    if note:
        return str(note).strip()
    missing.add(check_id)
    return "(no note yet in examples/clients/notes.toml)"


def _by_check(run: Json, kind: str) -> dict[str, Json]:
    """check id -> {severity, scenarios, message}: one example message per check."""
    out: dict[str, Json] = {}
    for scenario, entry in run.get("scenarios", {}).items():
        for item in entry[kind]:
            seen = out.setdefault(item["id"], {**item, "scenarios": []})
            seen["scenarios"].append(scenario)
    return out


def _finding_state(finding: Json, run: Json | None) -> str:
    """Whether the run's scenario saw what the source shows (`good`: that the checks pass)."""
    scenario = finding.get("scenario")
    if scenario is None:
        return "from the source; no check of the contract looks at it"
    entry = (run or {}).get("scenarios", {}).get(scenario)
    if entry is None:
        return f"not exercised by this run: needs the `{scenario}` scenario"
    checks = finding.get("checks", [])
    hit = [
        f"`{item['id']}` {'failed' if kind == 'failures' else 'warned'}"
        for kind in ("failures", "warnings")
        for item in entry[kind]
        if item["id"] in checks
    ]
    shown = ", ".join(dict.fromkeys(hit))
    if finding.get("good"):
        if hit:
            return f"contradicted in `{scenario}`: {shown}"
        return f"confirmed in `{scenario}`: {', '.join(f'`{c}`' for c in checks)} passed"
    if hit:
        return f"seen in `{scenario}`: {shown}"
    unseen = f": {finding['unseen']}" if finding.get("unseen") else ""
    return f"not seen in `{scenario}` this run ({VERDICT_CELL[entry['verdict']]}){unseen}"


def _adapter_section(
    name: str,
    adapter: Json,
    runs: dict[str, Json],
    scenarios: list[str],
    notes: Json,
    missing: set[str],
) -> list[str]:
    lines = [f"## {adapter['title']}", ""]
    lines += [
        f"*{adapter['language']}; {adapter['versions']}.* Adapter: "
        f"[`examples/{adapter['source']}`](../examples/{adapter['source']}).",
        "",
    ]
    lines += [f"**Documented usage followed.** {adapter['usage'].strip()}", ""]
    configs = [c for c in ("default", "fix") if c in runs]
    header = [
        "scenario",
        *("default" if c == "default" else "fix (`M2M_ADAPTER_FIX=1`)" for c in configs),
    ]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    everywhere = {c: _everywhere(runs[c]) for c in configs}
    for scenario in scenarios:
        cells = [
            _verdict_text(runs[c].get("scenarios", {}).get(scenario), everywhere[c])
            for c in configs
        ]
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    lines.append("")
    common = [
        f"{'the default' if c == 'default' else 'the fix'} warns "
        + ", ".join(f"`{w}` ({n} of {len(runs[c]['scenarios'])})" for w, n in everywhere[c].items())
        for c in configs
        if everywhere[c]
    ]
    if common:
        lines += [f"Left out of the table: {' and '.join(common)} scenarios.", ""]
    for configuration in configs:
        run = runs[configuration]
        label = "Default" if configuration == "default" else "With the fix"
        if "error" in run:
            lines += [f"**{label}: could not run.** `{_cell(run['error'][-200:])}`", ""]
            continue
        failures, warnings = _by_check(run, "failures"), _by_check(run, "warnings")
        if not failures and configuration == "fix":
            lines += [
                f"**{label}:** no MUST check fails"
                + (f"; still warns: {', '.join(f'`{w}`' for w in warnings)}." if warnings else "."),
                "",
            ]
            continue
        if failures:
            lines += [f"**{label}, what fails and what it means in production:**", ""]
            for check_id, item in failures.items():
                lines.append(
                    f"- `{check_id}` ({item['severity']}; "
                    f"{', '.join(item['scenarios'])}): "
                    f"{_production(notes, check_id, missing)} "
                    f"*Verify said:* {_cell(item['message'])}"
                )
            lines.append("")
        if warnings and configuration == "default":
            shown = ", ".join(f"`{w}` ({len(i['scenarios'])})" for w, i in warnings.items())
            lines += [f"**{label}, SHOULD warnings** (scenarios): {shown}.", ""]
    fix_text = adapter.get("how_to_fix", "").strip()
    if fix_text:
        lines += [f"**How to fix.** {fix_text}", ""]
    findings = adapter.get("findings", [])
    if findings:
        lines += ["**What the library's source shows, and which scenario sees it:**", ""]
        for finding in findings:
            state = _finding_state(finding, runs.get("default"))
            lines.append(f"- {finding['text'].strip()} — *{state}.*")
        lines.append("")
    return lines


def render(results: Json, notes: Json, results_path: str) -> str:
    """The whole page."""
    runs: dict[str, dict[str, Json]] = {}
    for run in results["runs"]:
        runs.setdefault(run["adapter"], {})[run["configuration"]] = run
    scenarios = _scenarios(results["runs"])
    adapters = {k: v for k, v in notes["adapters"].items() if k in runs}
    m2m = results["m2m_contract"]
    options = " ".join(m2m.get("verify_options", [])) or "no options"
    missing: set[str] = set()
    lines = [
        "# How partner OAuth libraries fare against the contract",
        "",
        "<!-- Generated by `python3 examples/libraries.py page`; do not edit. -->",
        f"Generated by `python3 examples/libraries.py page` from `{results_path}` (written by "
        f"`python3 examples/libraries.py run` on {results['started']}, {m2m['version']}, "
        f"verify with {options}, {len(scenarios)} scenarios, "
        f"{results.get('verify_seconds', results['seconds'])} s of verify runs) and "
        "`examples/clients/notes.toml`; do not edit it, edit those and regenerate.",
        "",
        str(notes["page"]["intro"]).strip(),
        "",
        "## At a glance",
        "",
        _headline(adapters, runs),
        "",
        "| library | default | fix (`M2M_ADAPTER_FIX=1`) |",
        "|---|---|---|",
    ]
    for name, adapter in adapters.items():
        by = runs[name]
        fix = _overall(by["fix"]) if "fix" in by else "no fix: " + adapter.get("no_fix", "—")
        lines.append(
            f"| [{adapter['title']}](#{_anchor(adapter['title'])}) | "
            f"{_overall(by['default'])} | {fix} |"
        )
    lines += ["", str(notes["page"]["reading"]).strip(), ""]
    for name, adapter in adapters.items():
        lines += _adapter_section(name, adapter, runs[name], scenarios, notes, missing)
    seen = sorted(
        {
            i["id"]
            for r in results["runs"]
            for s in r.get("scenarios", {}).values()
            for i in (*s["failures"], *s["warnings"])
        }
    )
    lines += ["## What each check that failed or warned means in production", ""]
    lines += ["| check | in production |", "|---|---|"]
    lines += [f"| `{c}` | {_cell(_production(notes, c, missing))} |" for c in seen]
    lines.append("")
    if missing:
        print(
            f"notes.toml has no production note for: {', '.join(sorted(missing))}", file=sys.stderr
        )
    return "\n".join(lines)


def _anchor(title: str) -> str:
    kept = "".join(ch for ch in title.lower() if ch.isalnum() or ch in " -")
    return kept.replace(" ", "-")
