"""The check type, verdicts and the registry; the checks live in the _*_checks.py modules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from ._model import ApiCall, Observation, TokenCall

Call = TypeVar("Call", TokenCall, ApiCall)
Severity = Literal["MUST", "SHOULD"]
Status = Literal["passed", "failed", "warning", "skipped"]
PROFILES = ("loyaltyone", "rfc6749")
Profile = Literal["loyaltyone", "rfc6749"]


@dataclass(frozen=True)
class Result:
    """What a check found: `ok` None means it had nothing to judge in this run."""

    ok: bool | None
    message: str
    culprits: tuple[int, ...] = ()  # journal sequence numbers of the exchanges at fault


def passed(message: str) -> Result:
    return Result(True, message)


def failed(message: str, *culprits: int) -> Result:
    return Result(False, message, culprits)


def nothing(message: str) -> Result:
    return Result(None, message)


@dataclass(frozen=True)
class Check:
    """One clause of the contract, judged over one observation."""

    id: str
    severity: Severity
    clause: str
    title: str
    judge: Callable[[Observation], Result] = field(repr=False, compare=False)
    scenarios: frozenset[str] | None = None  # None: every scenario
    profiles: frozenset[str] = frozenset(PROFILES)

    def applies(self, scenario: str, profile: str) -> bool:
        in_scenario = self.scenarios is None or scenario in self.scenarios
        return in_scenario and profile in self.profiles

    def run(self, observation: Observation) -> Result:
        """Judge; a bug in a check becomes a failed verdict, never an exception."""
        try:
            return self.judge(observation)
        except Exception as exc:
            return failed(f"the check could not judge this run ({type(exc).__name__})")


def status_of(check: Check, result: Result, strict: bool = False) -> Status:
    if result.ok is None:
        return "skipped"
    if result.ok:
        return "passed"
    if check.severity == "SHOULD" and not strict:
        return "warning"
    return "failed"


CATALOGUE: dict[str, Check] = {}


def check(
    id: str,
    severity: Severity,
    clause: str,
    title: str,
    *,
    scenarios: tuple[str, ...] | None = None,
    profiles: tuple[str, ...] = PROFILES,
) -> Callable[[Callable[[Observation], Result]], Callable[[Observation], Result]]:
    """Register the decorated function as a check in the catalogue."""

    def register(judge: Callable[[Observation], Result]) -> Callable[[Observation], Result]:
        if id in CATALOGUE:
            raise ValueError(f"duplicate check id {id}")
        CATALOGUE[id] = Check(
            id,
            severity,
            clause,
            title,
            judge,
            frozenset(scenarios) if scenarios is not None else None,
            frozenset(profiles),
        )
        return judge

    return register


def each(calls: Sequence[Call], noun: str, bad: list[tuple[Call, str]], what: str) -> Result:
    """The verdict over every `noun` (e.g. "token request") in `calls`, `bad` the offenders."""
    if not calls:
        return nothing(f"the client made no {noun}")
    if bad:
        call, why = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        return failed(f"{noun} #{call.seq}: {why}{more}", *(c.seq for c, _ in bad))
    return passed(f"every {noun} {what} ({len(calls)} seen)")
