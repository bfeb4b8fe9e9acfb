"""The one check model, verdicts and the registry; the checks live in the _*_checks.py modules.

A `Check` is one clause of a contract judged over a subject: the client contract judges an
`Observation` of one scenario (suite "conformance"), the server contract judges a live run
(suite "live"). Both share ids, severities, clauses, results and reports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar, get_args

Severity = Literal["MUST", "SHOULD"]
Status = Literal["passed", "failed", "warning", "skipped"]
Suite = Literal["conformance", "live"]
Profile = Literal["loyaltyone", "rfc6749"]
PROFILES: tuple[Profile, ...] = get_args(Profile)
SUITES: tuple[Suite, ...] = get_args(Suite)
Subject = TypeVar("Subject")


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
class Check(Generic[Subject]):
    """One clause of a contract, judged over one subject."""

    id: str
    severity: Severity
    clause: str
    title: str
    judge: Callable[[Subject], Result] = field(repr=False, compare=False)
    suite: Suite = "conformance"
    scenarios: frozenset[str] | None = None  # None: every scenario
    profiles: frozenset[str] = frozenset(PROFILES)

    def applies(self, scenario: str, profile: str) -> bool:
        in_scenario = self.scenarios is None or scenario in self.scenarios
        return in_scenario and profile in self.profiles

    def run(self, subject: Subject) -> Result:
        """Judge; a bug in a check becomes a failed verdict, never an exception."""
        try:
            return self.judge(subject)
        except Exception as exc:
            return failed(f"the check could not judge this run ({type(exc).__name__})")

    def status(self, result: Result, strict: bool = False) -> Status:
        if result.ok is None:
            return "skipped"
        if result.ok:
            return "passed"
        if self.severity == "SHOULD" and not strict:
            return "warning"
        return "failed"


CATALOGUE: dict[str, Check[Any]] = {}


def checks_of(suite: Suite) -> list[Check[Any]]:
    """The catalogue's checks of one suite, in registration order."""
    return [c for c in CATALOGUE.values() if c.suite == suite]


def check(
    id: str,
    severity: Severity,
    clause: str,
    title: str,
    *,
    suite: Suite = "conformance",
    scenarios: tuple[str, ...] | None = None,
    profiles: tuple[str, ...] = PROFILES,
) -> Callable[[Callable[[Subject], Result]], Callable[[Subject], Result]]:
    """Register the decorated function as a check in the catalogue."""

    def register(judge: Callable[[Subject], Result]) -> Callable[[Subject], Result]:
        if id in CATALOGUE:
            raise ValueError(f"duplicate check id {id}")
        CATALOGUE[id] = Check(
            id,
            severity,
            clause,
            title,
            judge,
            suite,
            frozenset(scenarios) if scenarios is not None else None,
            frozenset(profiles),
        )
        return judge

    return register


class Numbered(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def n(self) -> int: ...


Call = TypeVar("Call", bound=Numbered)


def each(calls: Sequence[Call], noun: str, bad: list[tuple[Call, str]], what: str) -> Result:
    """The verdict over every `noun` (e.g. "token request") in `calls`, `bad` the offenders."""
    if not calls:
        return nothing(f"the client made no {noun}")
    if bad:
        call, why = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        return failed(f"{noun} {call.n}: {why}{more}", *(c.seq for c, _ in bad))
    return passed(f"every {noun} {what} ({len(calls)} seen)")
