"""Transformer chains (#13): wall time of the paper's two protocols, and T trials trained at
once (vmapped) against the same T one after another.

    python benchmarks/transformer.py [--vocab V] [--block L] [--blocks N] [--trials T]
                                     [--generations G] [--width D] [--layers K]
                                     [--epochs-a E] [--epochs-b E]

D0: ``N + 1`` blocks of ``L`` tokens from :func:`collapse_theory.lm.english` (order 1 on the
``V`` most frequent English words, seed 0) cut into ``N`` points, plus 20 validation points
from another draw (the best checkpoint); the default :class:`collapse_theory.lm.transformer.
Config` but for ``--width``/``--layers`` and the epochs below; beam search with 5 beams.

* Protocols: ``chain.simulate(trials=T, generations=G)`` under (a) ``replace`` and
  (b) ``fresh:0.1``, ``sample_size = N``, with ``--epochs-a`` and ``--epochs-b`` epochs per fit
  (default: ``Config.epochs`` for both; the paper's fine-tuning epochs are
  ``--epochs-a 5 --epochs-b 10``); one cold call each (compilation included; the engine pads
  trials to its 8 lanes).
* Ratio: one generation (continue the ``N`` prompts, then fit on them) for ``T`` trials, as one
  ``jit(vmap(step))`` call against ``T`` calls of ``jit(step)``; both steady state (after a
  compile call of their own), one timing each.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from collapse_theory import chain, lm
from collapse_theory.lm import transformer


def timed(fn):
    """``(seconds, result)`` of ``fn()`` with its arrays ready."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - t0, out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vocab", type=int, default=500)
    parser.add_argument("--block", type=int, default=16)
    parser.add_argument("--blocks", type=int, default=32)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--generations", type=int, default=10)
    parser.add_argument("--width", type=int, default=transformer.Config.width)
    parser.add_argument("--layers", type=int, default=transformer.Config.layers)
    parser.add_argument("--epochs-a", type=int, default=transformer.Config.epochs)
    parser.add_argument("--epochs-b", type=int, default=transformer.Config.epochs)
    args = parser.parse_args()
    v, big_l, n, t, g = args.vocab, args.block, args.blocks, args.trials, args.generations
    source = lm.english(vocab=v)
    real = lm.points(source.sample(jax.random.key(0), (n + 1) * big_l), big_l)
    validation = lm.points(source.sample(jax.random.key(1), 21 * big_l), big_l)
    print(f"V={v} L={big_l} N={n} points, trials={t}, generations={g}, width={args.width}, "
          f"layers={args.layers}, "
          f"{transformer.parameters(v, big_l, transformer.Config(width=args.width, layers=args.layers)):,} "
          f"parameters", flush=True)
    print(f"log V = {np.log(v):.3f}, the source's entropy rate {source.entropy_rate():.3f} "
          f"nats/token", flush=True)
    key = jax.random.key(2)
    for name, policy, epochs in (("(a) replace", "replace", args.epochs_a),
                                 ("(b) fresh:0.1", "fresh:0.1", args.epochs_b)):
        config = transformer.Config(width=args.width, layers=args.layers, epochs=epochs)
        model = transformer.model(v, real[:, :big_l], config, validation=validation)
        seconds, res = timed(lambda: chain.simulate(
            key, model.family, sample_size=n, generations=g, trials=t, policy=policy,
            real=real, record=[1, g]))
        loss = -np.asarray(jax.jit(jax.vmap(jax.vmap(model.log_prob, (0, None)), (1, None)))(
            res.params, validation)).mean(axis=(1, 2, 3))  # per recorded fit, over trials
        print(f"{name}, {epochs} epochs: {seconds:.1f} s cold ({seconds / g:.1f} s/generation); "
              f"validation loss (nats/token, mean over trials) fit 1 {loss[0]:.3f}, fit {g} "
              f"{loss[-1]:.3f}", flush=True)

    model = transformer.model(v, real[:, :big_l], transformer.Config(
        width=args.width, layers=args.layers), validation=validation)
    fam, ones = model.family, jnp.ones(n)
    fit = jax.jit(lambda x, k: fam.fit(x, ones, key=k))
    params = jax.vmap(lambda k: fit(jnp.asarray(real), k))(jax.random.split(key, t))

    def step(k, p):
        k_s, k_f = jax.random.split(k)
        return fam.fit(fam.sample(k_s, p, n), ones, key=k_f, previous=p)

    keys = jax.random.split(jax.random.key(3), t)
    one, many = jax.jit(step), jax.jit(jax.vmap(step))
    pick = lambda i: jax.tree.map(lambda a: a[i], params)
    first_v, _ = timed(lambda: many(keys, params))
    steady_v, _ = timed(lambda: many(keys, params))
    first_1, _ = timed(lambda: one(keys[0], pick(0)))
    loop, _ = timed(lambda: [one(keys[i], pick(i)) for i in range(t)])
    print(f"one generation, {t} trials: vmapped {steady_v:.1f} s (first call {first_v:.1f} s), "
          f"looped {loop:.1f} s (first call {first_1:.1f} s): speed-up {loop / steady_v:.2f}x",
          flush=True)


if __name__ == "__main__":
    main()
