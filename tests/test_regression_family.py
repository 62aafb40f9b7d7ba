"""The regression family on the protocol: minimum-norm fits for T ≤ d + 1 against a literal numpy
chain (``np.linalg.lstsq``), keys independent of trials and chunks, the new policies.

KS tests accept at p > 1e-3 and each has a negative control that the same test rejects.
"""

import functools

import jax
import numpy as np
import pytest
from scipy import stats

from collapse_theory import regression

D, G, TRIALS, NOISE = 4, 5, 3000, 0.5


def numpy_chain(rows, trials=TRIALS, seed=0):
    """‖ŵ_G − w*‖² of the literal chain: X ~ N(0, 1)^{T×d}, y = X ŵ + σ ε, ŵ ← lstsq(X, y)."""
    rng = np.random.default_rng(seed)
    w_star = np.full(D, D ** -0.5)
    w = np.tile(w_star, (trials, 1))
    for _ in range(G):
        x = rng.standard_normal((trials, rows, D))
        y = np.einsum("tnd,td->tn", x, w) + np.sqrt(NOISE) * rng.standard_normal((trials, rows))
        w = np.stack([np.linalg.lstsq(x[i], y[i], rcond=None)[0] for i in range(trials)])
    return np.sum((w - w_star) ** 2, axis=-1)


@functools.cache
def chain_errors(rows, method):
    res = regression.simulate(jax.random.key(rows), rows=rows, dim=D, generations=G,
                              trials=TRIALS, noise=NOISE, method=method, record=[G])
    return np.asarray(res.error, np.float64).ravel()


@pytest.mark.parametrize("rows, method", [(3, "exact"), (3, "samples"), (5, "exact")])
def test_singular_fits_match_numpy_lstsq(rows, method):
    """T = 3 < d (under-determined: the minimum-norm solution) and T = d + 1 (E‖ŵ − w*‖² = ∞,
    outside the closed form): KS against numpy's lstsq chain; control: the numpy chain with
    one row more, a different law, is rejected."""
    x = chain_errors(rows, method)
    assert np.all(np.isfinite(x))
    assert stats.ks_2samp(x, numpy_chain(rows)).pvalue > 1e-3
    assert stats.ks_2samp(x, numpy_chain(rows + 1, seed=1)).pvalue < 1e-3


def test_same_key_same_trials_whatever_trials_or_chunks():
    kw = {"rows": 3, "dim": D, "generations": G, "noise": NOISE, "record": [0, G]}
    for method in ("exact", "samples"):
        a = regression.simulate(jax.random.key(3), trials=7, chunk_size=3, method=method, **kw)
        b = regression.simulate(jax.random.key(3), trials=13, chunk_size=3, method=method, **kw)
        np.testing.assert_array_equal(np.asarray(a.weights), np.asarray(b.weights)[:7])
        np.testing.assert_array_equal(np.asarray(a.error), np.asarray(b.error)[:7])


def test_fixed_design_is_stored_by_fit_one():
    """Noiseless labels on a stored T < d design: fit g ≥ 2 projects ŵ onto the same row space
    again, so ŵ_g = ŵ_1 (a projection is idempotent); control: fresh designs keep moving."""
    kw = {"rows": 3, "dim": D, "generations": 3, "trials": 5, "noise": 0.0, "record": None}
    fixed = np.asarray(regression.simulate(jax.random.key(4), design="fixed", **kw).weights)
    np.testing.assert_allclose(fixed[:, 3], fixed[:, 1], atol=1e-5)
    fresh = np.asarray(regression.simulate(jax.random.key(4), **kw).weights)
    assert np.abs(fresh[:, 3] - fresh[:, 1]).max() > 1e-2


def test_fresh_and_fixed_policies_are_pulled_back():
    """Real data (labels of w* on fresh designs) bounds the error: under fresh:0.5 and fixed:1
    the mean error at G = 5 stays well below replace's (T = 20, closed form σ² d G/(T − d − 1))."""
    kw = {"rows": 20, "dim": D, "generations": G, "trials": 2000, "noise": NOISE, "record": [G]}
    rep = np.asarray(regression.simulate(jax.random.key(5), **kw).error)
    for policy in ("fresh:0.5", "fixed:1"):
        err = np.asarray(regression.simulate(jax.random.key(5), policy=policy, **kw).error)
        assert np.all(np.isfinite(err)) and err.mean() < 0.5 * rep.mean()
