"""Peak memory of a streaming discrete summary (#14, goal 4): 10^6 chains, K = 100 Zipf(1.1),
M = 1000, every generation (or log-spaced ones) summarised; records of every generation would
hold trials x (G + 1) x K int32 counts.  ``python benchmarks/discrete_summary.py [--trials N]
[--generations G] [--record all|log]``; prints wall time, throughput and peak RSS (progress on
stderr)."""

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
    parser.add_argument("--record", choices=("all", "log"), default="all")
    args = parser.parse_args()
    start = time.perf_counter()
    s = discrete.simulate_summary(jax.random.key(0), discrete.zipf(100, 1.1), sample_size=1000,
                                  generations=args.generations, trials=args.trials,
                                  record=args.record, progress=True)
    dt = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    records = s.count * (args.generations + 1) * 100 * 4 / 2 ** 30
    print(f"{s.count} trials x {args.generations} generations (record={args.record!r}): "
          f"{dt:.1f} s (compile included), {s.count * args.generations / dt:.3g} trial-gen/s, peak RSS {peak:.2f} GiB "
          f"(records would hold {records:.1f} GiB of counts)")
    rows = np.unique(np.searchsorted(s.generation, [0, 1, args.generations // 2,
                                                    args.generations]))
    print("mean support at generations", s.generation[rows], np.round(s.mean["support"][rows], 3))


if __name__ == "__main__":
    main()
