"""Checks of the GMM chain's metric and of its one-component case against closed forms.

* The closed-form L2 distance (:func:`mixture.l2_squared`) against an independent Monte Carlo
  estimate of ``∫(f − g)² = E_f f(X) − 2 E_f g(X) + E_g g(Y)``.
* With ``K = 1`` EM's M-step is the MLE of a Gaussian, so the GMM chain is the Gaussian MLE
  chain and ``E log det Σ_n = log det Σ0 + n Σ_j[ψ((M−j)/2) + log(2/M)]`` (docs/theory.md §3, §7).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import gmm, mixture
from ..theory import gaussian as gtheory
from . import stats
from .registry import check


def _shifted():
    """A fit as the chain might reach it: unequal weights, moved means, shrunk covariances."""
    p = mixture.paper_mixture()
    return mixture.Mixture(jnp.asarray([0.65, 0.35], p.weights.dtype),
                           p.means + jnp.asarray([[0.4, -0.3], [-0.2, 0.5]], p.means.dtype),
                           p.chol * jnp.asarray([0.7, 0.5], p.chol.dtype)[:, None, None])


def _overlap_wrong(a: mixture.Mixture, b: mixture.Mixture) -> float:
    """The control's formula: ``Σ a_i b_j N(μ_i; ν_j, Σ_i)`` (Σ_i instead of Σ_i + S_j)."""
    from scipy import stats as st

    gram = np.array([[st.multivariate_normal(mi, ci).pdf(nj) for nj in np.asarray(b.means, float)]
                     for mi, ci in zip(np.asarray(a.means, float), np.asarray(a.cov, float))])
    return float(np.asarray(a.weights, float) @ gram @ np.asarray(b.weights, float))


@check("gmm.l2.closed_form",
       title="∫(f − g)² closed form vs Monte Carlo (paper mixture vs a shifted fit)",
       source="Shumailov et al. 2024 (GMM experiment, L2 metric); Gaussian product identity; "
              "docs/theory.md §7",
       formula="ΣΣ a_i a_j N(μ_i; μ_j, Σ_i+Σ_j) − 2ΣΣ a_i b_j N(μ_i; ν_j, Σ_i+S_j) "
               "+ ΣΣ b_i b_j N(ν_i; ν_j, S_i+S_j)",
       control="the formula with Σ_i instead of Σ_i + Σ_j in every overlap")
def _(key, scale, control):
    f, g = mixture.paper_mixture(), _shifted()
    n = 100_000 * scale
    k_f, k_g = jax.random.split(key)
    x = mixture.sample(k_f, f, n)
    y = mixture.sample(k_g, g, n)
    u = np.asarray(jnp.exp(mixture.log_pdf(f, x)) - 2 * jnp.exp(mixture.log_pdf(g, x)), float)
    v = np.asarray(jnp.exp(mixture.log_pdf(g, y)), float)
    # x and y independent: the pairs u_i + v_i are i.i.d. with mean ∫(f − g)², so the z-test
    # of their mean has SE² = (Var_f(f − 2g) + Var_g(g))/n.
    if control:
        expected = _overlap_wrong(f, f) - 2 * _overlap_wrong(f, g) + _overlap_wrong(g, g)
    else:
        expected = float(mixture.l2_squared(f, g))
    return stats.z_mean(u + v, expected)


@check("gmm.one_component.log_det",
       title="E log det Σ_n of the K = 1 GMM chain = Gaussian MLE chain (M=20, n=12, d=2)",
       source="EM's M-step for K = 1 is the MLE: docs/theory.md §7 and §3 (Bartlett, MLE); "
              "proofs/gaussian_log_det.py",
       formula="log det Σ0 + n Σ_j[ψ((M−j)/2) + log(2/M)]",
       control="the same chain with a covariance floor reg_covar = 0.05 (a floor that "
               "hides collapse)")
def _(key, scale, control):
    m, n = 20, 12
    orig = mixture.from_cov([1.0], [[0.0, 0.0]], [np.diag([1.0, 0.25])])
    res = gmm.simulate(key, components=1, sample_size=m, generations=n, trials=2048 * scale,
                       original=orig, reg_covar=0.05 if control else 0.0, record="log")
    diag = np.abs(np.diagonal(np.asarray(res.chol, float)[:, :, 0], axis1=-2, axis2=-1))
    log_det = 2 * np.log(diag).sum(-1)  # (trials, R)
    gens = np.asarray(res.generation)
    expected = gtheory.expected_log_det(gens, m, 2, "mle", log_det0=math.log(0.25))
    out = stats.z_mean(log_det[:, -1], float(expected[-1]))
    out.curve = stats.curve(gens, log_det, expected, "E log det Σ_n (K = 1 GMM chain)")
    return out
