r"""A Bayesian discrete estimator as a user family: the posterior mean under a Dirichlet prior.

Points are category labels; the statistics are the counts ``c`` (merged by addition, ``n``
draws are ``Multinomial(n, q)``).  Under a symmetric ``Dirichlet(α)`` prior the posterior mean
is ``q̂ = (c + α)/(N + Kα)`` — exactly the add-α smoothing of the built-in discrete chain
(``collapse_theory.discrete.simulate(..., pseudocount=α)``), so the two chains have the same
law.  ``main`` checks it with a χ² two-sample test on the first category's count at generation
``n``, and a control (the built-in chain with ``2α``) that the test must reject.

Run: ``python examples/dirichlet.py``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats as sps

import collapse_theory as ct
from collapse_theory import discrete
from collapse_theory.samplers import multinomial


@functools.lru_cache(maxsize=None)
def dirichlet_family(alpha: float, categories: int) -> ct.Family:
    """Posterior-mean fit ``(c + α)/(N + Kα)`` (cached: compiled chains live on the family)."""
    k = categories

    def sample(key, q, n):
        return jax.random.categorical(key, jnp.log(q), shape=(n,))

    def counts(labels, w):
        return jnp.zeros(k, w.dtype).at[labels].add(w)

    def posterior_mean(c):
        return (c + alpha) / (jnp.sum(c) + k * alpha)

    def sample_counts(key, q, n):
        return multinomial(key, n, q).astype(q.dtype)

    return ct.Family(sample, lambda x, w: posterior_mean(counts(x, w)), counts,
                     jnp.add, posterior_mean, sample_counts, name=f"dirichlet({alpha:g})")


def homogeneity(a, b, min_count=10):
    """χ² two-sample test of equal laws for integer samples (values with fewer than
    ``min_count`` observations in total are pooled into one bin); returns the p-value."""
    values, total = np.unique(np.concatenate([a, b]), return_counts=True)
    keep = values[total >= min_count]
    table = [[np.sum(x == v) for v in keep] + [np.sum(~np.isin(x, keep))] for x in (a, b)]
    table = np.array(table)[:, np.array(table).sum(0) > 0]
    return sps.chi2_contingency(table)[1]


def main(*, trials=4000, probs=(0.5, 0.3, 0.2), alpha=0.5, sample_size=10, generations=20,
         seed=0, verbose=True):
    """p-values of the χ² test: user family vs the built-in (same α), and vs 2α (control)."""
    p0, m, n = np.asarray(probs), sample_size, generations
    res = ct.simulate(jax.random.key(seed), dirichlet_family(alpha, p0.size), p0,
                      sample_size=m, generations=n, trials=trials, record=[n])
    q1 = np.asarray(res.params, np.float64)[:, -1, 0]
    ours = np.rint(q1 * (m + p0.size * alpha) - alpha).astype(int)  # c_1 = q_1(M + Kα) − α
    out = {}
    for name, a in (("same alpha", alpha), ("control 2 alpha", 2 * alpha)):
        ref = discrete.simulate(jax.random.key(seed + 1), p0, sample_size=m, generations=n,
                                trials=trials, pseudocount=a, record=[n])
        out[name] = homogeneity(ours, np.asarray(ref.counts)[:, -1, 0])
        if verbose:
            print(f"built-in add-α chain, {name}: χ² two-sample p = {out[name]:.3g}")
    return out


if __name__ == "__main__":
    main()
