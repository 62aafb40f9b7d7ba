"""Where goal 1's absorption row spends its time: the package and numpy, phase by phase.

    python benchmarks/discrete_phases.py [--trials T] [--generations G] [--repeats N]

The row of ``discrete_collapse.py`` that runs to absorption (uniform K = 10, M = 100, T × G,
default 10 000 × 2000) passes through three phases: while more than 1/16 of the trials have
two categories alive or more (the multinomial walks its whole batch in place), while some
trial still has two (it walks a gathered buffer of those trials), and once every trial is
absorbed (one category: no draw).  The phase boundaries ``g1 < g2`` come from one recorded run.
The package and numpy's ``Generator.multinomial`` chain (``baselines.discrete_numpy``) then run
``g1``, ``g2`` and ``G`` generations, in turn (``baselines.alternated``), with every generation
recorded and with ``record="log"``; differences of the median times give each phase's cost in
ns per trial-generation, and the last two columns what recording every generation adds.
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baselines import alternated, discrete_numpy  # noqa: E402

from collapse_theory import discrete  # noqa: E402


def boundaries(key, probs, m, generations, trials) -> tuple[int, int]:
    """The last generations with more than ``trials/16`` trials, and with any trial, holding
    two categories or more (``generations`` where that lasts to the end, 0 where no
    generation does: that phase is empty)."""
    counts = np.asarray(discrete.simulate(key, probs, sample_size=m, generations=generations,
                                          trials=trials).counts)
    walking = np.sum(np.count_nonzero(counts, axis=-1) > 1, axis=0)  # per generation 1..G
    g1 = int(np.nonzero(walking > trials / 16)[0].max(initial=-1)) + 1
    g2 = int(np.nonzero(walking > 0)[0].max(initial=-1)) + 1
    return g1, g2


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--generations", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    key, probs, m, t = jax.random.key(0), np.full(10, 0.1), 100, args.trials
    ends = (*boundaries(key, probs, m, args.generations, t), args.generations)
    cuts = sorted({g for g in ends if g})  # an empty phase (0) is left out
    spans = list(zip([0] + cuts[:-1], cuts))  # phases that run out by G are left out
    print(f"uniform K = 10, M = {m}, {t} trials: phases "
          f"{', '.join(f'{a + 1}–{b}' for a, b in spans)}; median of {args.repeats}, "
          "alternated\n")
    median = {}
    for record in (None, "log"):
        for g in cuts:
            times = alternated({
                "package": lambda: discrete.simulate(  # noqa: B023
                    key, probs, sample_size=m, generations=g, trials=t, record=record).counts,
                "numpy": lambda: discrete_numpy(  # noqa: B023
                    np.random.default_rng(0), probs, m, g, t, record is None)}, args.repeats)
            for name, ts in times.items():
                median[name, record, g] = float(np.median(ts))
    print("| phase (generations) | package, every / log | numpy, every / log | recording: "
          "package | numpy |\n|---|---:|---:|---:|---:|")
    for a, b in spans:
        def cost(name, record):
            before = median[name, record, a] if a else 0.0
            return (median[name, record, b] - before) / ((b - a) * t) * 1e9

        pk, pl, nk, nl = (cost(n, r) for n in ("package", "numpy") for r in (None, "log"))
        print(f"| {a + 1}–{b} | {pk:.0f} / {pl:.0f} | {nk:.0f} / {nl:.0f} | {pk - pl:.0f} | "
              f"{nk - nl:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
