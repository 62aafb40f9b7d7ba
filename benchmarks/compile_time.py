"""Compilation against run time of the chains: the first call of each, then steady calls.

    python benchmarks/compile_time.py [--only discrete,gaussian,policies] [--repeats N]

A chain is compiled once per configuration (shapes, generations, records, family, policy), so
a study of many small configurations pays mostly compilation (RESULTS.md, stop 37).  Each
configuration is called once (tracing, compilation and one run) and then ``N`` times
(default 3; ``baselines.alternated``); ``compile ≈ first − median`` of the steady calls.  Every
configuration is a program of its own, so one process measures them all.  For an A/B of two
checkouts run this script with ``PYTHONPATH`` set to each, in turn.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baselines import alternated  # noqa: E402

from collapse_theory import discrete, gaussian  # noqa: E402


def configurations():
    zipf = discrete.zipf(100, 1.1)
    return {
        "discrete": [
            ("discrete Zipf(1.1) K = 100, M = 1000, 10 000 × 100, log",
             lambda k: discrete.simulate(k, zipf, sample_size=1000, generations=100,
                                         trials=10_000, record="log").counts),
            ("discrete uniform K = 10, M = 100, 10 000 × 2000, log",
             lambda k: discrete.simulate(k, np.full(10, 0.1), sample_size=100,
                                         generations=2000, trials=10_000, record="log").counts),
        ],
        "gaussian": [
            ("gaussian 1-D, M = 100, 1000 × 5000, every generation",
             lambda k: gaussian.simulate(k, sample_size=100, generations=5000,
                                         trials=1000).log_det),
            ("gaussian 1-D fixed:1, MLE, M = 10, 10 000 × 40",
             lambda k: gaussian.simulate(k, sample_size=10, generations=40, trials=10_000,
                                         policy="fixed:1", estimator="mle",
                                         record=[40]).log_det),
        ],
        # Chains whose fit 1 was compiled apart before 66b9c4e (accumulate and fixed).
        "policies": [
            ("gaussian 1-D accumulate, M = 50, 20 000 × 200, log",
             lambda k: gaussian.simulate(k, sample_size=50, generations=200, trials=20_000,
                                         policy="accumulate").log_det),
            ("gaussian 2-D fixed:1, M = 50, 20 000 × 200, log",
             lambda k: gaussian.simulate(k, dim=2, sample_size=50, generations=200,
                                         trials=20_000, policy="fixed:1").log_det),
            ("discrete uniform K = 100, M = 1000, accumulate, 4000 × 100, log",
             lambda k: discrete.simulate(k, np.full(100, 0.01), sample_size=1000,
                                         generations=100, trials=4000,
                                         policy="accumulate").counts),
            ("discrete K = 4, M = 10, fixed:1, 20 000 × 200, log",
             lambda k: discrete.simulate(k, [0.5, 0.3, 0.15, 0.05], sample_size=10,
                                         generations=200, trials=20_000,
                                         policy="fixed:1").counts),
        ],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="discrete,gaussian,policies")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    confs = configurations()
    unknown = set(args.only.split(",")) - confs.keys()
    if unknown:
        parser.error(f"--only: unknown {sorted(unknown)}; choose from {sorted(confs)}")
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}\n\n"
          "| chain | first call (s) | steady call (s), median | compile ≈ (s) |\n|---|---:|---:|---:|",
          flush=True)
    for name in args.only.split(","):
        for label, run in confs[name]:
            times = alternated({label: lambda: run(jax.random.key(0))}, args.repeats + 1,
                               warm=False)[label]
            steady = statistics.median(times[1:])
            print(f"| {label} | {times[0]:.1f} | {steady:.2f} | {times[0] - steady:.1f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
