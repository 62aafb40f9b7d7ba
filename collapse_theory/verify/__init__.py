"""``collapse-theory verify``: every closed form checked against simulation.

Each check (``registry.CHECKS``) names its result and source, runs a simulation, and applies a
test whose tolerance comes from the Monte Carlo standard error or an exact law; each also runs a
negative control that must be rejected.  A run controls its family-wise false-failure rate at
``alpha`` by Bonferroni; ``vary_seed`` repeats the suite with fresh seeds and reports the
empirical false-failure rate.
"""

from __future__ import annotations

from typing import TextIO

from scipy import stats as _stats

from . import report
from .registry import ALPHA, CHECKS, Check, Result, run_checks, select

# The suite: importing a module registers its checks in ``CHECKS``, in this order (the report's).
from . import discrete_checks, gaussian_checks  # noqa: F401
from . import policy_checks  # noqa: F401
from . import kde_checks  # noqa: F401
from . import gmm_checks  # noqa: F401
from . import counting_checks  # noqa: F401
from . import vae_checks  # noqa: F401
from . import lm_checks  # noqa: F401

__all__ = ["ALPHA", "CHECKS", "Check", "Result", "run", "vary_seed"]


def run(*, seed: int = 0, quick: bool = True, only: str | None = None, alpha: float = ALPHA,
        report_dir: str | None = None, out: TextIO | None = None) -> tuple[bool, list[Result]]:
    """Run the suite and optionally write the report; return ``(ok, results)``.

    With ``out`` (e.g. ``sys.stdout``) the table is printed as the checks complete.
    """
    checks = select(only)

    def show(res: Result, i: int, total: int) -> None:
        if out is not None:
            print(f"{report.row(res)}  [{i}/{total}, {res.seconds:.1f}s]", file=out, flush=True)

    if out is not None:
        print(f"{len(checks)} checks, family-wise α = {alpha} (each at {alpha / len(checks):.3g}); "
              f"seed {seed}, {'quick' if quick else 'full'} run", file=out)
        print(report.HEADER, file=out, flush=True)
    results = run_checks(checks, seed=seed, quick=quick, alpha=alpha, on_result=show)
    summ = report.summary(results, alpha)
    if out is not None:
        verdict = ("OK: every check passes and every negative control is rejected" if summ["ok"] else
                   f"FAILED: checks {summ['failed']}, controls not rejected {summ['controls_not_rejected']}")
        print(verdict, file=out)
    if report_dir is not None:
        paths = report.write(report_dir, results, alpha=alpha, seed=seed, quick=quick)
        if out is not None:
            print("wrote " + ", ".join(paths), file=out)
    return summ["ok"], results


def vary_seed(repeats: int, *, seed: int = 0, quick: bool = True, only: str | None = None,
              alpha: float = ALPHA, out: TextIO | None = None) -> tuple[bool, dict]:
    """Repeat the suite with seeds ``seed .. seed + repeats − 1``; report false-failure rates.

    A run is a false failure when any correct simulator fails its check.  Its probability is at
    most ``alpha``; the verdict is ok when every control was rejected in every run and the count
    of failing runs is not significantly above ``alpha`` (binomial tail probability ≥ 0.001).
    """
    failing_runs, per_check, controls_missed = 0, {}, 0
    for r in range(repeats):
        _, results = run(seed=seed + r, quick=quick, only=only, alpha=alpha, out=None)
        failed = [x.check.id for x in results if not x.passed]
        failing_runs += bool(failed)
        controls_missed += sum(not x.control_rejected for x in results)
        for name in failed:
            per_check[name] = per_check.get(name, 0) + 1
        if out is not None:
            print(f"seed {seed + r}: {len(results) - len(failed)}/{len(results)} checks pass"
                  + (f", failed {failed}" if failed else ""), file=out, flush=True)
    tail = float(_stats.binom.sf(failing_runs - 1, repeats, alpha)) if failing_runs else 1.0
    summary = {"repeats": repeats, "alpha_familywise": alpha, "failing_runs": failing_runs,
               "empirical_false_failure_rate": failing_runs / repeats,
               "binomial_tail_p": tail, "failures_per_check": per_check,
               "controls_not_rejected": controls_missed}
    ok = controls_missed == 0 and tail >= 1e-3
    if out is not None:
        print(f"empirical family-wise false-failure rate {failing_runs}/{repeats} "
              f"= {failing_runs / repeats:.3g} (nominal ≤ {alpha}; binomial tail p = {tail:.3g}); "
              f"controls not rejected: {controls_missed}", file=out)
    return ok, summary
