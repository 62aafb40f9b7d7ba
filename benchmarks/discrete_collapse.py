"""The discrete chain through a whole collapse, against numpy's ``Generator.multinomial`` chain.

    python benchmarks/discrete_collapse.py [--trials T,...] [--only NAME,...] [--repeats N]

Issue 14's goal 1: the package at least as fast as numpy at every stage of a collapse, where
numpy speeds up as the support shrinks (its multinomial stops once the remaining count is 0).
Configurations (name: law, M, trials × generations):

* ``zipf``: Zipf(1.1) over K = 100, M = 1000, T × G for G = 20, 100, 500 (default T = 10 000);
* ``absorption``: uniform over K = 10, M = 100, T × 2000 (every trial absorbed: one category);
* ``english``: the 10 000 most frequent English words (wordfreq), M = 10⁵, 1000 × 50.

``--trials 250,1000,4000`` runs ``zipf`` and ``absorption`` at each trial count (``english``
once): the package's fixed cost per generation (its loops' steps, whatever the batch) weighs
more in a small batch, where numpy's cost per trial-generation stays about the same.

Each is timed with every generation recorded (``record=None``; numpy stores each generation's
counts as int32 into a ``(G + 1, T, K)`` array) and with ``record="log"`` (numpy keeps the last
generation only).  After one untimed call of each, ``N`` rounds (default 3) call the package
and numpy in turn (``baselines.alternated``): median rates in trial-generations per second,
and the median (min–max) over the rounds of the package / numpy ratio within a round, so that
a slow spell of a shared machine falls on both.
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baselines import alternated, discrete_numpy, ratio  # noqa: E402

from collapse_theory import discrete, sources  # noqa: E402


def configurations(trial_counts):
    """Configurations by name, each at every trial count in ``trial_counts`` (``english`` at
    its own 1000)."""
    zipf = discrete.zipf(100, 1.1)
    english = sources.word_frequencies("en", 10_000)[1]
    return {
        "zipf": [(f"Zipf(1.1) K = 100, M = 1000, {t} × {g}", zipf, 1000, g, t)
                 for t in trial_counts for g in (20, 100, 500)],
        "absorption": [(f"uniform K = 10, M = 100, {t} × 2000 (to absorption)",
                        np.full(10, 0.1), 100, 2000, t) for t in trial_counts],
        "english": [("English K = 10⁴ (wordfreq), M = 10⁵, 1000 × 50", english, 100_000, 50,
                     1000)],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", default="10000", help="trial counts, comma-separated")
    parser.add_argument("--only", default="zipf,absorption,english")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        counts = [int(t) for t in args.trials.split(",")]
    except ValueError:
        parser.error(f"--trials must be comma-separated integers, got {args.trials!r}")
    if min(counts) < 1:
        parser.error(f"--trials must be >= 1, got {args.trials!r}")
    confs = configurations(counts)
    unknown = set(args.only.split(",")) - set(confs)
    if unknown:
        parser.error(f"--only: unknown {sorted(unknown)}; valid: {sorted(confs)}")
    key, rng = jax.random.key(0), np.random.default_rng(0)
    print("| configuration | records | package trial-gen/s | numpy trial-gen/s | package/numpy "
          "(min–max) | final mean support |\n|---|---|---:|---:|---:|---:|", flush=True)
    for label, probs, m, g, t in (c for name in args.only.split(",") for c in confs[name]):
        for record in (None, "log"):
            run = lambda: discrete.simulate(  # noqa: E731
                key, probs, sample_size=m, generations=g, trials=t, record=record).counts
            support = float(np.mean(np.count_nonzero(np.asarray(run())[:, -1], axis=-1)))
            times = alternated({"package": run, "numpy": lambda: discrete_numpy(
                rng, probs, m, g, t, record is None)}, args.repeats)
            package, numpy = (t * g / np.median(times[k]) for k in ("package", "numpy"))
            mid, lo, hi = ratio(times, "numpy", "package")
            what = "every generation" if record is None else "log (numpy: last only)"
            print(f"| {label} | {what} | {package:.3g} | {numpy:.3g} | {mid:.2f} "
                  f"({lo:.2f}–{hi:.2f}) | {support:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
