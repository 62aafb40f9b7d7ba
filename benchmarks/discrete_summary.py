"""Peak memory of a streaming discrete summary (#14, goal 4): 10^6 chains, K = 100 Zipf(1.1),
M = 1000, every generation summarised; records of the same run would hold
trials x (G + 1) x K int32 counts.  ``python benchmarks/discrete_summary.py [--trials N]
[--generations G]``; prints wall time, throughput and peak RSS."""

import argparse
import resource
import time

import jax
import numpy as np

from collapse_theory import discrete


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=1_000_000)
    parser.add_argument("--generations", type=int, default=20)
    args = parser.parse_args()
    start = time.perf_counter()
    s = discrete.simulate_summary(jax.random.key(0), discrete.zipf(100, 1.1), sample_size=1000,
                                  generations=args.generations, trials=args.trials, record="all")
    dt = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    records = s.count * (args.generations + 1) * 100 * 4 / 2 ** 30
    print(f"{s.count} trials x {args.generations} generations: {dt:.1f} s (compile included), "
          f"{s.count * args.generations / dt:.3g} trial-gen/s, peak RSS {peak:.2f} GiB "
          f"(records would hold {records:.1f} GiB of counts)")
    print("mean support at generations 0, 1, G/2, G:",
          np.round(s.mean["support"][[0, 1, args.generations // 2, -1]], 3))


if __name__ == "__main__":
    main()
