"""Same key → same result on the accelerator this process sees (a GPU, say), for every family.

    python benchmarks/device_check.py [--out FILE]

For each family's chain, on JAX's default device: trial ``i`` is the same bit for bit whatever
``trials`` (301 against the first 257 of them: odd counts) and ``chunk_size`` (64); a
deep float32 1-D collapse (M = 2, 10⁴ generations) has no NaN.  Then the same chains on the
CPU: how many trials are bit-identical across the two platforms, and the largest difference.
That last part is a report, not a promise: XLA's GPU and CPU compilers may round ``log``,
``exp`` or a reduction differently, and a chain amplifies a last-bit difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baselines import save  # noqa: E402

from collapse_theory import discrete, gaussian, gmm, kde, regression  # noqa: E402

KEY = jax.random.key(8)
CHAINS = {  # name: (trials, chunk_size) -> result
    "gaussian 1-D, M = 3, 200 gen": lambda t, c: gaussian.simulate(
        KEY, sample_size=3, generations=200, trials=t, record=[50, 200], chunk_size=c),
    "gaussian 3-D samples, M = 8": lambda t, c: gaussian.simulate(
        KEY, sample_size=8, generations=20, trials=t, dim=3, method="samples", record=[20],
        chunk_size=c),
    "gaussian accumulate-subsample": lambda t, c: gaussian.simulate(
        KEY, sample_size=10, generations=12, trials=t, dim=2, method="samples",
        estimator="mle", policy="accumulate-subsample", record=[12], chunk_size=c),
    "discrete K = 4, M = 25, 40 gen": lambda t, c: discrete.simulate(
        KEY, [0.5, 0.3, 0.15, 0.05], sample_size=25, generations=40, trials=t, record=[40],
        chunk_size=c),
    "discrete K = 100 Zipf, M = 1000": lambda t, c: discrete.simulate(
        KEY, discrete.zipf(100, 1.1), sample_size=1000, generations=30, trials=t,
        record="log", chunk_size=c),
    "gmm K = 2, M = 200": lambda t, c: gmm.simulate(
        KEY, sample_size=200, generations=4, trials=t, record=[4], chunk_size=c),
    "kde, M = 20": lambda t, c: kde.simulate(
        KEY, sample_size=20, generations=6, trials=t, record=[6], chunk_size=c),
    "regression, 10 rows, d = 3": lambda t, c: regression.simulate(
        KEY, rows=10, dim=3, generations=6, trials=t, record=[6], chunk_size=c),
}


def trial_leaves(result, trials: int) -> list[np.ndarray]:
    """The result's per-trial arrays (leading axis ``trials``), as numpy."""
    return [np.asarray(x) for x in jax.tree.leaves(result)
            if getattr(x, "shape", ()) and x.shape[0] == trials]


def same(a: list, b: list) -> bool:
    return all(x.shape == y.shape and np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="also write the Markdown table to this file")
    args = parser.parse_args(argv)
    dev = jax.devices()[0]
    lines = [f"Device `{dev}` ({dev.device_kind}), jax {jax.__version__}.", "",
             "| chain | 301 vs 257 trials | chunk 64 | CPU: identical trials | "
             "CPU: max abs diff | s |", "|---|---|---|---:|---:|---:|"]
    failed = False
    for name, run in CHAINS.items():
        t0 = time.perf_counter()
        full = trial_leaves(run(301, None), 301)
        part = trial_leaves(run(257, None), 257)
        prefix = same([x[:257] for x in full], part)
        chunks = same(full, trial_leaves(run(301, 64), 301))
        with jax.default_device(jax.devices("cpu")[0]):
            cpu = trial_leaves(run(257, None), 257)
        equal = np.ones(257, bool)
        diff = 0.0
        for x, y in zip(part, cpu):
            equal &= np.all((x == y) | (np.isnan(x) & np.isnan(y)), axis=tuple(range(1, x.ndim)))
            finite = np.isfinite(x) & np.isfinite(y)
            if finite.any():
                diff = max(diff, float(np.max(np.abs(x[finite].astype(float) - y[finite]))))
        failed |= not (prefix and chunks)
        lines.append(f"| {name} | {'same' if prefix else '**differ**'} | "
                     f"{'same' if chunks else '**differ**'} | {int(equal.sum())}/257 | "
                     f"{diff:.3g} | {time.perf_counter() - t0:.1f} |")
        print(lines[-1], flush=True)
    deep = gaussian.simulate(KEY, sample_size=2, generations=10_000, trials=1001, record="log")
    log_det = np.asarray(deep.log_det)
    nan = bool(np.isnan(log_det).any())
    failed |= nan
    lines += ["", f"Deep float32 collapse (M = 2, 10⁴ generations, 1001 trials): NaN "
              f"{'**present**' if nan else 'absent'}; final log σ² median "
              f"{np.median(log_det[:, -1]):.4g}, −inf in {int(np.isneginf(log_det[:, -1]).sum())}."]
    print(lines[-1])
    save("\n".join(lines) + "\n", args.out)
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
