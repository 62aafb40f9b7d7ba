r"""The Poisson chain (Suresh et al., arXiv:2412.17646) as a user family with exact shortcuts.

The MLE is the weighted sample mean, ``λ̂ = Σ w x / Σ w``; its sufficient statistics are
``(N, Σx)``, merged by addition, and ``n`` draws have ``Σx ~ Poisson(n λ)`` (``sample_stats``:
one Poisson draw per fit, ``O(1)`` memory under ``accumulate``).  Closed forms
(:mod:`collapse_theory.theory.counting`, derived in ``proofs/poisson_chain.py``): ``E λ_n = λ_0``;
``Var λ_n = n λ_0/M`` under replace, ``(λ_0/M) Σ_{k≤n} 1/k²`` under accumulate;
``P(λ_n = 0) = exp(M λ_0 (f_{n−1}(0) − 1))``, ``f(s) = e^{s−1}`` (a Galton–Watson extinction).

Run: ``python examples/poisson.py``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import collapse_theory as ct
from collapse_theory.theory import counting


def sample(key, lam, n):
    return jax.random.poisson(key, lam, (n,)).astype(jnp.result_type(float))


def fit(x, w):
    return jnp.sum(w * x) / jnp.sum(w)


def stats(x, w):
    return jnp.sum(w), jnp.sum(w * x)


def merge(a, b):
    return a[0] + b[0], a[1] + b[1]


def fit_stats(s):
    return s[1] / s[0]


def sample_stats(key, lam, n):
    dtype = jnp.result_type(float)
    return n.astype(dtype), jax.random.poisson(key, n * lam).astype(dtype)


POISSON = ct.Family(sample, fit, stats, merge, fit_stats, sample_stats, name="poisson")
#: The same estimator without the shortcuts: the chain keeps points (pool buffers).
POISSON_POINTS = ct.Family(sample, fit, name="poisson-points")


def main(*, trials=20_000, lam0=2.0, sample_size=10, generations=20, seed=0, verbose=True):
    """Simulated vs closed-form ``Var λ_n`` (both policies) and ``P(λ_n = 0)`` (replace)."""
    key = jax.random.key(seed)
    n, out = generations, {}
    for policy in ("replace", "accumulate"):
        res = ct.simulate(key, POISSON, lam0, sample_size=sample_size, generations=n,
                          trials=trials, policy=policy, record=[n])
        lam = np.asarray(res.params, np.float64)[:, -1]
        out[policy] = {"mean": (lam.mean(), lam0),
                       "var": (lam.var(ddof=1),
                               counting.poisson_variance(lam0, sample_size, n, policy)[n])}
        if policy == "replace":
            out[policy]["extinct"] = ((lam == 0).mean(),
                                      counting.poisson_extinction(lam0, sample_size, n)[n])
        if verbose:
            for name, (sim, exact) in out[policy].items():
                print(f"{policy:>10} {name:>8}_{n}: simulated {sim:.4f}, closed form {exact:.4f}")
    return out


if __name__ == "__main__":
    main()
