"""VAE chains (#12): T chains trained at once (vmapped) against the same T trained one after
another (``trials=1`` in a Python loop, as the paper trains one chain at a time).

    python benchmarks/vae.py [--trials T] [--generations G] [--long-generations L]
                             [--epochs E] [--arch A]

* Ratio: ``vae.simulate(trials=T, generations=G)`` against ``T`` calls of
  ``vae.simulate(trials=1, generations=G)`` (keys ``fold_in(key, i)``), same process, same
  config; both steady state (each after a compile call of its own shapes; the looped arm's
  first call also pays the one-time set-up: digits, classifier, bandwidth), one timing each.
* Long run: ``vae.simulate(trials=T, generations=L)`` (default 16 × 20, the default
  :class:`collapse_theory.vae.Config`), timed once from a cold call: its wall time includes
  the compilation of its chain, reported separately as the vmapped short run's first call
  minus its steady call (the same step function; the scan's length differs).

Every recorded measurement is checked finite where it must be (generations ≥ 1).
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np

from collapse_theory import vae


def timed(fn):
    """``(seconds, result)`` of ``fn()`` with its arrays ready."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - t0, out


def finite(res: vae.VAEResult) -> vae.VAEResult:
    fitted = np.asarray(res.generation) >= 1
    for name in ("latent_std", "elbo", "class_entropy", "mmd"):
        values = np.asarray(getattr(res, name))[:, fitted]
        assert np.isfinite(values).all(), f"{name} is not finite"
    return res


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--generations", type=int, default=1, help="generations of the ratio runs")
    parser.add_argument("--long-generations", type=int, default=20, help="0: skip the long run")
    parser.add_argument("--epochs", type=int, default=None, help="default: Config's")
    parser.add_argument("--arch", default=None, help="default: Config's")
    args = parser.parse_args(argv)
    cfg = vae.Config()
    cfg = cfg._replace(**{k: v for k, v in (("epochs", args.epochs), ("arch", args.arch))
                          if v is not None})
    key, t, g = jax.random.key(0), args.trials, args.generations

    def run(k, trials, generations):
        return finite(vae.simulate(k, generations=generations, trials=trials, config=cfg))

    print(f"config {cfg}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"jax {jax.__version__} on {jax.devices()[0].platform}", flush=True)
    # The cold call pays the one-time set-up (digits, classifier, bandwidth) besides compiling.
    first_1, _ = timed(lambda: run(jax.random.fold_in(key, 10**6 + 1), 1, g))
    loop, _ = timed(lambda: [run(jax.random.fold_in(key, i), 1, g) for i in range(t)])
    first_v, _ = timed(lambda: run(key, t, g))
    steady_v, _ = timed(lambda: run(jax.random.fold_in(key, 10**6), t, g))
    fits = t * g
    rows = [(f"{t} chains vmapped (trials={t})", steady_v, first_v - steady_v),
            (f"{t} chains looped (trials=1 × {t})", loop, first_1 - loop / t)]  # + set-up
    print(f"\n| {t} chains × {g} generations | steady wall (s) | s per fit | first call − steady (s) |")
    print("|---|---:|---:|---:|")
    for name, wall, comp in rows:
        print(f"| {name} | {wall:.1f} | {wall / fits:.2f} | {comp:.1f} |")
    print(f"\nvmapped / looped speed-up: {loop / steady_v:.2f}× "
          f"(load average now {os.getloadavg()[0]:.2f})", flush=True)

    if args.long_generations:
        lg = args.long_generations
        wall, res = timed(lambda: run(jax.random.fold_in(key, 10**6 + 2), t, lg))
        print(f"\n{t} chains × {lg} generations (record every generation): {wall:.1f} s wall "
              f"from a cold call, of which compilation ≈ {first_v - steady_v:.1f} s (the short "
              f"run's); latent std {np.asarray(res.latent_std_mean).mean(0)[[1, -1]]} "
              f"(fit 1, fit {lg}), class entropy {np.asarray(res.class_entropy).mean(0)[[1, -1]]} "
              f"(load average now {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
