"""The registry of checks and the suite runner.

A check pairs a closed form with a simulation and a statistical test.  Every check is run twice:
once on the correct simulator (it must *pass*) and once on a deliberately wrong one, its negative
control (it must be *rejected*).  With ``N`` checks and a family-wise level ``α`` each test uses
the Bonferroni level ``α / N``, so a whole run of correct simulators fails with probability at
most ``α``; the controls are sized so that their rejection is near certain at that level.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import time
import zlib
from collections.abc import Callable

import jax

from . import stats
from .stats import Outcome

#: Family-wise false-failure rate of one run (all checks together).
ALPHA = 0.01
#: Trials multiply by this in a full run (``--quick`` off).
FULL_SCALE = 16


@dataclasses.dataclass(frozen=True)
class Check:
    """One closed form checked against simulation.

    ``run(key, scale, control)`` simulates with ``scale`` × its quick number of trials — the
    deliberately wrong variant when ``control`` — and returns the test's :class:`Outcome`.
    """

    id: str
    title: str
    source: str
    formula: str
    control: str
    run: Callable[[jax.Array, int, bool], Outcome]


CHECKS: list[Check] = []


def check(id: str, *, title: str, source: str, formula: str, control: str):
    """Decorator registering ``run(key, scale, control) -> Outcome`` as a check."""

    def register(run):
        if any(c.id == id for c in CHECKS):
            raise ValueError(f"duplicate check id {id!r}")
        CHECKS.append(Check(id, title, source, formula, control, run))
        return run

    return register


def check_with(run, id: str, *, title: str, source: str, formula: str, control: str, **params):
    """Register ``run(key, scale, control, **params)`` as the check ``id``: one runner serves
    the checks that differ only in ``params``."""
    check(id, title=title, source=source, formula=formula, control=control)(
        functools.partial(run, **params))


def check_table(table: dict[str, dict], **common) -> None:
    """:func:`check_with` for each ``id: spec`` of ``table``, in order: ``spec`` over ``common``
    holds ``run``, the metadata and the parameters."""
    for id, spec in table.items():
        check_with(id=id, **(common | spec))


def literal_seed(key) -> int:
    """A numpy seed drawn from ``key``, for a check's chain written literally in numpy."""
    return int(jax.random.randint(key, (), 0, 2**31 - 1))


def literal_check(id: str, *, subject: str, statistic: str, source: str, control: str, m: int,
                  n: int, simulated: Callable, literal: Callable, trials: int = 2_000) -> None:
    """Register the check ``id`` of a law with no closed form: a KS test of ``statistic`` at
    generation ``n`` between the package's chain, ``simulated(key, scale, m, n)`` (its values
    there), and the chain written literally in numpy, ``literal(seed, m, n, trials × scale,
    control)`` (a deliberately wrong variant when ``control``)."""
    @check(id, title=f"{subject} (no closed form): {statistic} vs a literal numpy chain "
                     f"(M={m}, n={n})",
           source=f"{source} — two implementations in law",
           formula=f"law of {statistic} equal to the literal chain's (KS)", control=control)
    def run(key, scale, control):
        return stats.ks_two_sample(simulated(key, scale, m, n),
                                   literal(literal_seed(key), m, n, trials * scale, control))


def select(only: str | None = None) -> list[Check]:
    """Checks whose id matches the glob ``only`` (substring match when it has no wildcard),
    among those registered (:mod:`collapse_theory.verify` imports the suite's check modules)."""
    if not only:
        return list(CHECKS)
    pattern = only if any(ch in only for ch in "*?[") else f"*{only}*"
    chosen = [c for c in CHECKS if fnmatch.fnmatch(c.id, pattern)]
    if not chosen:
        raise ValueError(f"only={only!r} matches no check; ids are: {', '.join(c.id for c in CHECKS)}")
    return chosen


@dataclasses.dataclass
class Result:
    """A check's outcome on the correct simulator and on its negative control."""

    check: Check
    outcome: Outcome
    control_outcome: Outcome
    level: float
    seconds: float

    @property
    def passed(self) -> bool:
        return self.outcome.p_value >= self.level

    @property
    def control_rejected(self) -> bool:
        return self.control_outcome.p_value < self.level

    @property
    def ok(self) -> bool:
        return self.passed and self.control_rejected

    def as_dict(self) -> dict:
        o, c = self.outcome, self.control_outcome
        return {
            "id": self.check.id, "title": self.check.title, "source": self.check.source,
            "formula": self.check.formula, "test": o.test, "tolerance": o.tolerance,
            "expected": o.expected, "estimate": o.estimate, "stderr": o.stderr,
            "statistic": o.statistic, "p_value": o.p_value, "level": self.level,
            "passed": self.passed, "control": self.check.control,
            "control_statistic": c.statistic, "control_p_value": c.p_value,
            "control_rejected": self.control_rejected, "seconds": self.seconds,
        }


def check_key(seed: int, check_id: str, control: bool):
    """The key of one check: independent of which other checks run (stable CRC of the id)."""
    key = jax.random.fold_in(jax.random.key(seed), zlib.crc32(check_id.encode()) & 0x7FFFFFFF)
    return jax.random.fold_in(key, int(control))


def run_checks(checks: list[Check], *, seed: int = 0, quick: bool = True, alpha: float = ALPHA,
               on_result: Callable[[Result, int, int], None] | None = None) -> list[Result]:
    """Run ``checks`` (each with its control) at the Bonferroni level ``alpha / len(checks)``."""
    level = alpha / len(checks)
    scale = 1 if quick else FULL_SCALE
    results = []
    for i, chk in enumerate(checks):
        t0 = time.perf_counter()
        outcome = chk.run(check_key(seed, chk.id, False), scale, False)
        control = chk.run(check_key(seed, chk.id, True), scale, True)
        res = Result(chk, outcome, control, level, time.perf_counter() - t0)
        results.append(res)
        if on_result is not None:
            on_result(res, i + 1, len(checks))
    return results

