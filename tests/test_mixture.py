"""Gaussian mixtures: density, sampling, closed-form L2 distance, Monte Carlo KL."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from collapse_theory import mixture
from collapse_theory.mixture import Mixture


def _two(dtype=np.float64):
    return mixture.from_cov([0.3, 0.7], [[-1.0, 0.5], [1.5, -0.2]],
                            [[[1.0, 0.3], [0.3, 0.6]], [[0.5, -0.1], [-0.1, 0.8]]])


def _other():
    return mixture.from_cov([0.6, 0.4], [[0.0, 0.0], [1.0, 1.0]],
                            [[[0.7, 0.0], [0.0, 0.7]], [[1.2, 0.4], [0.4, 0.9]]])


def test_log_pdf_matches_scipy_and_samples_follow_the_mixture():
    with jax.enable_x64(True):
        f = _two()
        x = np.random.default_rng(0).normal(size=(50, 2))
        ref = np.log(sum(w * stats.multivariate_normal(m, c).pdf(x)
                         for w, m, c in zip(np.asarray(f.weights), np.asarray(f.means),
                                            np.asarray(f.cov))))
        np.testing.assert_allclose(np.asarray(mixture.log_pdf(f, x)), ref, rtol=1e-12)
        pts = np.asarray(mixture.sample(jax.random.key(0), f, 40_000))
    # Mixture mean Σ a_k μ_k; each coordinate's SE = sd/√N with sd ≤ 1.6 here → SE ≤ 0.008.
    mean = np.asarray(f.weights) @ np.asarray(f.means)
    se = pts.std(0, ddof=1) / np.sqrt(len(pts))
    z = (pts.mean(0) - mean) / se
    assert np.all(np.abs(z) < 5), z
    # Negative control: a 10% shift of the first component's weight moves the mean by
    # 0.1·|μ_1 − μ_2| ≥ 0.07 ≈ 9 SE: rejected.
    wrong = np.array([0.4, 0.6]) @ np.asarray(f.means)
    assert np.max(np.abs((pts.mean(0) - wrong) / se)) > 5


def test_l2_matches_numerical_integration_on_a_grid():
    with jax.enable_x64(True):
        f, g = _two(), _other()
        got = float(mixture.l2_squared(f, g))
        # Trapezoid rule on a fine grid: spectrally accurate for these smooth, fast-decaying
        # integrands (smallest std ≈ 0.7, spacing 0.03, tails beyond ±9 below 1e-20).
        t = np.linspace(-9, 9, 601)
        xx = np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
        diff = np.exp(np.asarray(mixture.log_pdf(f, xx))) - np.exp(np.asarray(mixture.log_pdf(g, xx)))
        grid = np.trapezoid(np.trapezoid((diff ** 2).reshape(t.size, t.size), t, axis=1), t)
        # Negative control: Σ_i instead of Σ_i + Σ_j in the Gaussian overlaps is far off.
        wrong = _wrong_l2(f, g)
    assert got == pytest.approx(grid, rel=1e-8)
    assert abs(wrong - grid) > 0.1 * grid


def _wrong_l2(f, g):
    def gram(a, b):
        return np.array([[stats.multivariate_normal(mi, ci).pdf(mj) for mj in np.asarray(b.means)]
                         for mi, ci in zip(np.asarray(a.means), np.asarray(a.cov))])

    wf, wg = np.asarray(f.weights), np.asarray(g.weights)
    return wf @ gram(f, f) @ wf - 2 * wf @ gram(f, g) @ wg + wg @ gram(g, g) @ wg


def test_l2_is_zero_on_itself_symmetric_and_batched():
    f, g = _two(), _other()
    assert float(mixture.l2_distance(f, f)) == pytest.approx(0.0, abs=1e-3)  # float32 rounding
    assert float(mixture.l2_distance(f, g)) == pytest.approx(float(mixture.l2_distance(g, f)),
                                                             rel=1e-5)
    batch = jax.tree.map(lambda a, b: jnp.stack([a, b]), f, g)
    out = np.asarray(mixture.l2_distance(batch, g))
    assert out.shape == (2,) and out[1] == pytest.approx(0.0, abs=1e-3)
    assert out[0] == pytest.approx(float(mixture.l2_distance(f, g)), rel=1e-5)
    with jax.enable_x64(True):
        assert float(mixture.l2_squared(_two(), _two())) == pytest.approx(0.0, abs=1e-14)


def test_kl_monte_carlo_matches_gaussian_closed_form():
    with jax.enable_x64(True):
        mu_q, cov_q = np.array([1.0, 0.0]), np.diag([2.0, 0.5])
        p = mixture.from_cov([1.0], [[0.0, 0.0]], [np.eye(2)])
        q = mixture.from_cov([1.0], [mu_q], [cov_q])
        est = mixture.kl_monte_carlo(jax.random.key(1), p, q, n=50_000)

        def kl(cq):
            inv = np.linalg.inv(cq)
            return 0.5 * (np.trace(inv) - 2 + mu_q @ inv @ mu_q + np.log(np.linalg.det(cq)))

        # Unbiased estimate, asymptotically normal with the reported SE (sd/√n).
        z = (float(est.estimate) - kl(cov_q)) / float(est.stderr)
        assert abs(z) < 5, z
        # Negative control: q's covariance inflated by 10% changes KL by ≈ 0.05 ≈ 10 SE.
        z_wrong = (float(est.estimate) - kl(1.1 * cov_q)) / float(est.stderr)
        assert abs(z_wrong) > 5, z_wrong
        batched = mixture.kl_monte_carlo(
            jax.random.key(1), jax.tree.map(lambda a: jnp.stack([a, a]), p), q, n=1000)
        assert batched.estimate.shape == (2,) and batched.estimate[0] != batched.estimate[1]


def test_component_std_and_heldout_loglik():
    p = mixture.paper_mixture()
    np.testing.assert_allclose(np.asarray(mixture.component_std(p)), [0.9, 0.9], rtol=1e-6)
    x = mixture.sample(jax.random.key(2), p, 20_000)
    ll = float(mixture.heldout_loglik(p, x))
    # E log p(X) = −H(p) for the true model; H by the trapezoid rule on a grid (float64).
    # SE of the mean log-likelihood: sd(log p(X))/√N from the sample itself.
    with jax.enable_x64(True):
        t = np.linspace(-9, 9, 601)
        xx = np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
        logp = np.asarray(mixture.log_pdf(jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), p),
                                          xx)).reshape(t.size, t.size)
        entropy = -np.trapezoid(np.trapezoid(np.exp(logp) * logp, t, axis=1), t)
        se = float(jnp.std(mixture.log_pdf(p, x))) / np.sqrt(x.shape[0])
    assert abs(ll + entropy) < 5 * se
    # Negative control: the entropy of two disjoint blobs (log 2 + log(2πe·0.81)) ignores
    # their overlap (≈ 0.04 nats here, ≈ 10 SE): rejected.
    assert abs(ll + np.log(2) + np.log(2 * np.pi * np.e * 0.81)) > 5 * se
    collapsed = Mixture(p.weights, p.means, p.chol * 0.1)
    assert float(mixture.heldout_loglik(collapsed, x)) < ll - 10  # loses the original mass


def test_from_cov_validates():
    with pytest.raises(ValueError, match="weights"):
        mixture.from_cov([0.5, 0.6], [[0.0], [1.0]], [[[1.0]], [[1.0]]])
    with pytest.raises(ValueError, match="means"):
        mixture.from_cov([0.5, 0.5], [[0.0], [1.0], [2.0]], [[[1.0]], [[1.0]]])
    with pytest.raises(ValueError, match=r"cov\[1\]"):
        mixture.from_cov([0.5, 0.5], [[0.0], [1.0]], [[[1.0]], [[-1.0]]])
    with pytest.raises(TypeError, match="key"):
        mixture.kl_monte_carlo(0, _two(), _two())
    with pytest.raises(ValueError, match="n must be >= 2"):
        mixture.kl_monte_carlo(jax.random.key(0), _two(), _two(), n=1)
