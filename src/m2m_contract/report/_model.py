"""The report model: every check's verdict and each scenario's run, for every output format.

`CaseResult` is one check judged in one scenario (its message and evidence already redacted);
`ScenarioRun` is how the client ran in one scenario. `build` turns them into the report model,
a JSON-able dict: the JSON report itself, and what the terminal, JUnit, Markdown and HTML
renderers read. One set of counts is computed here, and every output shows the same one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ._diagram import mermaid

Status = Literal["passed", "failed", "warning", "skipped"]
Suite = Literal["conformance", "live"]


@dataclass(frozen=True)
class CaseResult:
    """One check judged in one scenario, ready for a report (evidence redacted)."""

    id: str
    scenario: str
    status: Status
    severity: str
    clause: str
    message: str
    evidence: str = ""
    title: str = ""
    diagram: dict[str, Any] | None = None
    baseline: str | None = None  # "expected" (listed, failed) or "stale" (listed, passed)

    @property
    def fails_run(self) -> bool:
        """Whether this result alone makes the run fail (a stale baseline entry does)."""
        if self.baseline == "stale":
            return True
        return self.status == "failed" and self.baseline != "expected"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.diagram is None:
            del data["diagram"]
        else:
            data["mermaid"] = mermaid(self.diagram)
        if self.baseline is None:
            del data["baseline"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseResult:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class ScenarioRun:
    """How the client ran in one scenario: what the emulator did, how it ended, its output."""

    name: str
    summary: str
    exit: str
    duration: float
    output: list[str] = field(default_factory=list)  # its last lines, redacted and visible
    dropped_lines: int = 0
    dropped_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "exit": self.exit,
            "duration": round(self.duration, 2),
            "output": {
                "lines": self.output,
                "dropped_lines": self.dropped_lines,
                "dropped_bytes": self.dropped_bytes,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScenarioRun:
        output = data.get("output") or {}
        return cls(
            str(data["name"]),
            str(data.get("summary", "")),
            str(data.get("exit", "")),
            float(data.get("duration", 0.0)),
            list(output.get("lines", [])),
            int(output.get("dropped_lines", 0)),
            int(output.get("dropped_bytes", 0)),
        )


def counts(results: Iterable[CaseResult]) -> dict[str, int]:
    """passed / failed (what fails the run) / warnings / skipped / expected (baseline)."""
    out = {"passed": 0, "failed": 0, "warnings": 0, "skipped": 0, "expected": 0}
    for r in results:
        if r.fails_run:
            out["failed"] += 1
        elif r.baseline == "expected":
            out["expected"] += 1
        elif r.status == "warning":
            out["warnings"] += 1
        else:
            out[r.status] += 1
    return out


def verdict_of(results: Iterable[CaseResult]) -> str:
    """A scenario's verdict: FAIL, warn or ok."""
    summary = counts(results)
    return "FAIL" if summary["failed"] else "warn" if summary["warnings"] else "ok"


def build(
    results: list[CaseResult],
    runs: Iterable[ScenarioRun],
    *,
    suite: Suite,
    client: str,
    profile: str,
    strict: bool,
) -> dict[str, Any]:
    """The report model (also the JSON report): see docs/conformance.md for its shape."""
    by_name = {run.name: run for run in runs}
    order = list(dict.fromkeys([r.scenario for r in results]))
    scenarios = []
    for name in order:
        rows = [r for r in results if r.scenario == name]
        run = by_name.get(name) or ScenarioRun(name, "", "", 0.0)
        scenarios.append(
            {**run.to_json(), "verdict": verdict_of(rows), "counts": counts(rows)}
        )
    total = counts(results)
    return {
        "suite": suite,
        "client": client,
        "profile": profile,
        "strict": strict,
        "verdict": "failed" if total["failed"] else "passed",
        "summary": total,
        "scenarios": scenarios,
        "checks": [r.to_json() for r in results],
    }


def results_of(model: dict[str, Any]) -> list[CaseResult]:
    """The CaseResults back out of a report model (for renderers that want them)."""
    return [CaseResult.from_json(c) for c in model.get("checks", [])]
