r"""The Bernoulli chain (Suresh et al., arXiv:2412.17646) as a user family with exact shortcuts.

The MLE is the weighted frequency of ones, ``p̂ = Σ w x / Σ w``; statistics ``(N, Σx)`` add, and
``n`` draws have ``Σx ~ Binomial(n, p)`` (:func:`collapse_theory.samplers.binomial`, exact for a
traced ``n``).  Closed forms (:mod:`collapse_theory.theory.counting`, derived in
``proofs/bernoulli_chain.py``): ``E p_n = p_0``, ``E p_n(1 − p_n) = p_0(1 − p_0)(1 − 1/M)^n``, and
``P(p_n ∈ {0, 1})`` from the exact binomial (Wright–Fisher) chain.

Run: ``python examples/bernoulli.py``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import collapse_theory as ct
from collapse_theory.samplers import binomial
from collapse_theory.theory import counting


def sample(key, p, n):
    return jax.random.bernoulli(key, p, (n,)).astype(jnp.result_type(float))


def fit(x, w):
    return jnp.sum(w * x) / jnp.sum(w)


def stats(x, w):
    return jnp.sum(w), jnp.sum(w * x)


def merge(a, b):
    return a[0] + b[0], a[1] + b[1]


def fit_stats(s):
    return s[1] / s[0]


def sample_stats(key, p, n):
    dtype = jnp.result_type(float)
    return n.astype(dtype), binomial(key, n, p).astype(dtype)


BERNOULLI = ct.Family(sample, fit, stats, merge, fit_stats, sample_stats, name="bernoulli")
#: The same estimator without the shortcuts: the chain keeps points.
BERNOULLI_POINTS = ct.Family(sample, fit, name="bernoulli-points")


def main(*, trials=20_000, p0=0.3, sample_size=10, generations=20, seed=0, verbose=True):
    """Simulated vs closed-form ``E p_n``, ``E p_n(1 − p_n)`` and ``P(p_n ∈ {0, 1})``."""
    n = generations
    res = ct.simulate(jax.random.key(seed), BERNOULLI, p0, sample_size=sample_size,
                      generations=n, trials=trials, record=[n])
    p = np.asarray(res.params, np.float64)[:, -1]
    out = {"mean": (p.mean(), counting.bernoulli_mean(p0, sample_size, n)[n]),
           "p(1-p)": ((p * (1 - p)).mean(),
                      counting.bernoulli_heterozygosity(p0, sample_size, n)[n]),
           "absorbed": (np.isin(p, (0.0, 1.0)).mean(),
                        counting.bernoulli_absorption(p0, sample_size, n)[n])}
    if verbose:
        for name, (sim, exact) in out.items():
            print(f"{name:>9}_{n}: simulated {sim:.4f}, closed form {exact:.4f}")
    return out


if __name__ == "__main__":
    main()
