"""Chains deep into collapse, every generation recorded and log-spaced, against numpy loops.

    python benchmarks/deep.py [--generations G] [--subsample-generations S]

* 1-D Gaussian, exact, M = 100, at 4096 × G (default 5000: log σ² ≈ −50, far below float32's
  smallest normal variance), 1000 × G and 20 000 × G/10 trials × generations:
  ``gaussian.simulate`` with ``record=None`` (every generation) and ``record="log"``, against
  vectorised numpy writing every generation's μ and log σ² (``(G + 1) × trials`` records of
  each, what ``simulate`` returns beyond the derived ``log_det = 2ℓ`` and ``U = 1``) and
  keeping the last generation only.
* accumulate-subsample, d = 10 MLE, M = 100, 64 trials × S generations (default 400: the pool
  reaches 40 100 points): ``gaussian.simulate`` every generation and log-spaced, against Kazdan
  et al.'s one-trajectory-per-seed loop (``baselines.gaussian_subsample_loop``).

After one untimed call of each, ``--repeats`` rounds (default 3) call a configuration's
implementations in turn (``baselines.alternated``): median rates, and the median (min–max) over
the rounds of the ratio within a round to numpy recording every generation (1-D) or to Kazdan
et al.'s loop (subsample).  Trial-generations per second; every record is checked finite (a NaN
or ±inf in a record is an error).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import baselines  # noqa: E402
from baselines import alternated, ratio  # noqa: E402

from collapse_theory import gaussian  # noqa: E402


def numpy_recorded(rng, m: int, generations: int, trials: int):
    """``baselines.gaussian_numpy`` writing every generation's μ and ``log σ²`` into records."""
    mu, log_var = np.zeros(trials), np.zeros(trials)
    rec_mu, rec_var = np.empty((generations + 1, trials)), np.empty((generations + 1, trials))
    rec_mu[0], rec_var[0] = mu, log_var
    for g in range(1, generations + 1):
        mu += np.exp(0.5 * log_var) * rng.standard_normal(trials) / math.sqrt(m)
        log_var += np.log(rng.chisquare(m - 1, trials)) - math.log(m - 1)
        rec_mu[g], rec_var[g] = mu, log_var
    return rec_mu, rec_var


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=5000)
    parser.add_argument("--subsample-generations", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    key, rng = jax.random.key(0), np.random.default_rng(0)
    rows = []

    m = 100
    for t, g in ((4096, args.generations), (1000, args.generations),
                 (20000, max(args.generations // 10, 1))):
        conf = f"1-D exact, {t} × {g}"
        fns = {record: lambda record=record: gaussian.simulate(
            key, sample_size=m, generations=g, trials=t, record=record) for record in (None, "log")}
        final = {record: np.asarray(fn().log_det)[:, -1] for record, fn in fns.items()}
        assert all(np.isfinite(v).all() for v in final.values()), "a 1-D record is not finite"
        fns["numpy all"] = lambda: numpy_recorded(rng, m, g, t)
        fns["numpy last"] = lambda: baselines.gaussian_numpy(rng, m, g, t)
        times = alternated(fns, args.repeats)
        rate = {name: t * g / np.median(v) for name, v in times.items()}
        for record in (None, "log"):
            mid, lo, hi = ratio(times, "numpy all", record)
            rows.append((conf, f"gaussian.simulate record={record!r}", rate[record],
                         f"{mid:.2f}× ({lo:.2f}–{hi:.2f}) numpy recording every generation; "
                         f"final E log σ² = {final[record].mean():.1f}"))
        rows.append((conf, "numpy vectorised, every generation's μ and log σ² recorded",
                     rate["numpy all"], ""))
        rows.append((conf, "numpy vectorised, last generation only", rate["numpy last"], ""))

    s, t2, d, reps = args.subsample_generations, 64, 10, 4
    label = f"subsample d={d} M={m}, {t2} × {s}"
    fns = {record: lambda record=record: gaussian.simulate(
        key, sample_size=m, generations=s, trials=t2, dim=d, estimator="mle",
        method="samples", policy="accumulate-subsample", record=record).log_det
        for record in (None, "log")}
    final = {record: np.asarray(fn()) for record, fn in fns.items()}
    assert all(np.isfinite(v).all() for v in final.values()), "a subsample record is not finite"
    fns["kazdan"] = lambda: [baselines.gaussian_subsample_loop(rng, d, m, s) for _ in range(reps)]
    times = alternated(fns, args.repeats, warm=False)  # the chains compiled above
    for record in (None, "log"):
        mid, lo, hi = (r * t2 / reps for r in ratio(times, "kazdan", record))
        rows.append((label, f"gaussian.simulate record={record!r}", t2 * s / np.median(
            times[record]), f"{mid:.1f}× ({lo:.1f}–{hi:.1f}) Kazdan et al.'s loop; final E log "
            f"det = {final[record][:, -1].mean():.2f}"))
    rows.append((label, f"Kazdan et al.: numpy loop, {reps} trajectories",
                 reps * s / np.median(times["kazdan"]), ""))

    print("| configuration | implementation | trial-gen/s | note |\n|---|---|---:|---|")
    for conf, name, rate, note in rows:
        print(f"| {conf} | {name} | {rate:.3g} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
