"""The n-gram chain (#13): T trials × G generations of an order-k model over V words, plain
sampling decode (τ = 1, no top-k, no penalty: the direct O(log T) sampler), replace policy.

    python benchmarks/ngram.py [--trials 1000] [--generations 50] [--order 2] [--vocab 1000]
                               [--block 64] [--blocks 128] [--numpy-trials 4] [--calls 2]
                               [--devices CORES]

D0: ``(blocks + 1) × block`` i.i.d. Zipf(1) tokens over ``V`` words (seed 0), cut into
``blocks`` points of two blocks (prompt + continuation); the test set another 16 points.
``--devices N`` (default: this machine's cores) sets ``XLA_FLAGS=--xla_force_host_platform_
device_count=N`` before JAX starts (unless ``XLA_FLAGS`` is set), so that the engine runs one program per core (XLA:CPU runs
one device's program on about one core); on a GPU it is ignored.
Timed: :func:`collapse_theory.lm.simulate.simulate` recording generations 0 and ``G``
(measurements inside the chain), ``--calls`` calls: the first includes the compilation, the
others are steady.  The numpy arm:
a hand-written loop over trials and generations on the same configuration (counts by sorting
codes, sampling a uniform occurrence by ``searchsorted``, vectorised over prompts), timed on
``--numpy-trials`` trials and scaled linearly to ``T``.
"""

from __future__ import annotations

import argparse
import os
import time

_pre = argparse.ArgumentParser(add_help=False)
_pre.add_argument("--devices", type=int, default=os.cpu_count())
if "XLA_FLAGS" not in os.environ:  # before JAX starts
    os.environ["XLA_FLAGS"] = (f"--xla_force_host_platform_device_count="
                               f"{_pre.parse_known_args()[0].devices}")

import jax  # noqa: E402
import numpy as np  # noqa: E402

from collapse_theory.lm import ngram, points  # noqa: E402
from collapse_theory.lm.simulate import simulate  # noqa: E402


def corpus(vocab: int, block: int, blocks: int):
    rng = np.random.default_rng(0)
    p = 1.0 / np.arange(1, vocab + 1)
    tokens = rng.choice(vocab, (blocks + 17) * block, p=p / p.sum())
    return points(tokens[:(blocks + 1) * block], block), points(tokens[(blocks + 1) * block:], block)


def numpy_chain(real, vocab: int, order: int, generations: int, trials: int, seed: int = 0):
    """Vocabulary (word types of the last generation's data) of ``trials`` numpy chains."""
    rng = np.random.default_rng(seed)
    n, two_l = real.shape
    L = two_l // 2
    out = []
    for _ in range(trials):
        data = real
        for _ in range(generations):
            tables = []
            for j in range(order + 1):
                code = np.zeros((n, L), np.int64)
                for i in range(j + 1):
                    code = code * vocab + data[:, L - j + i: 2 * L - j + i]
                tables.append(np.sort(code.ravel()))
            buf = np.concatenate([real[:, :L], np.zeros((n, L), real.dtype)], 1)
            for t in range(L, 2 * L):
                word = None
                for j in range(order, -1, -1):
                    c = np.zeros(n, np.int64)
                    for i in range(j):
                        c = c * vocab + buf[:, t - j + i]
                    lo = np.searchsorted(tables[j], c * vocab)
                    hi = np.searchsorted(tables[j], c * vocab + vocab)
                    pick = lo + np.floor(rng.random(n) * (hi - lo)).astype(np.int64)
                    w = tables[j][np.minimum(pick, tables[j].size - 1)] % vocab
                    word = np.where(hi > lo, w, -1) if word is None else np.where(word >= 0, word, w)
                buf[:, t] = word
            data = buf
        out.append(np.unique(data[:, L:]).size)
    return np.asarray(out)


def main():
    ap = argparse.ArgumentParser(parents=[_pre])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--generations", type=int, default=50)
    ap.add_argument("--order", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=1000)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--blocks", type=int, default=128)
    ap.add_argument("--numpy-trials", type=int, default=4)
    ap.add_argument("--calls", type=int, default=2,
                    help="timed calls: the first compiles, the next are steady")
    a = ap.parse_args()
    real, test = corpus(a.vocab, a.block, a.blocks)
    mdl = ngram.model(a.vocab, a.order, real[:, :a.block], decode="sample")
    print(f"order {a.order}, V = {a.vocab}, L = {a.block}, {real.shape[0]} points "
          f"({real.shape[0] * a.block} target tokens), {a.trials} trials x {a.generations} "
          f"generations, jax devices {jax.devices()}")
    for label in ["first call"] + ["steady"] * (a.calls - 1):
        t0 = time.perf_counter()
        res = simulate(jax.random.key(0), mdl, real=real, test=test,
                       generations=a.generations, trials=a.trials,
                       record=[0, a.generations])
        jax.block_until_ready(res)
        print(f"jax {label}: {time.perf_counter() - t0:.1f} s; vocabulary at G: mean "
              f"{float(np.mean(res.vocabulary[:, -1])):.1f} (real: "
              f"{int(res.vocabulary[0, 0])})")
    if a.numpy_trials:
        t0 = time.perf_counter()
        voc = numpy_chain(real, a.vocab, a.order, a.generations, a.numpy_trials)
        dt = time.perf_counter() - t0
        print(f"numpy loop: {dt:.1f} s for {a.numpy_trials} trials -> "
              f"{dt * a.trials / a.numpy_trials:.0f} s for {a.trials} (linear); vocabulary "
              f"at G of the data: mean {voc.mean():.1f}")


if __name__ == "__main__":
    main()
