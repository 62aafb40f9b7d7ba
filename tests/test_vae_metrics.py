"""collapse_theory.vae.metrics: references in float64 numpy, MMD's unbiasedness within its Monte
Carlo SE (and a shifted law detected), the classifier's measured accuracy, entropies."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.distance import pdist

from collapse_theory.vae import data
from collapse_theory.vae import metrics as vm


def _flat(images):
    return np.asarray(images).reshape(images.shape[0], -1)


def _mmd2_reference(x, y, h):
    """Gretton et al. (2012) eq. 3 term by term in float64."""
    k = lambda a, b: np.exp(-((a[:, None] - b[None]) ** 2).sum(-1) / (2 * h * h))  # noqa: E731
    kxx, kyy = k(x, x), k(y, y)
    m, n = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * k(x, y).mean())


def test_mmd2_matches_the_float64_u_statistic_batched_and_jitted():
    rng = np.random.default_rng(0)
    x, y = rng.random((3, 40, 64)), rng.random((3, 30, 64)) ** 2
    h = np.array([2.0, 3.0, 4.0])
    ref = [_mmd2_reference(x[i], y[i], h[i]) for i in range(3)]
    got = jax.jit(vm.mmd2)(x.astype(np.float32), y.astype(np.float32), h)
    np.testing.assert_allclose(got, ref, rtol=2e-3, atol=2e-6)  # float32 Gram expansion


def test_mmd2_is_unbiased_on_one_law_and_detects_a_shifted_one():
    """Two disjoint uniform subsets of the validation digits share their law (a finite
    population without replacement): E MMD²_u = 0 exactly.  Over R = 400 draws the mean must be
    within 4 Monte Carlo SEs of 0; the control (one subset's pixels shifted by +0.05, clipped to
    [0, 1]) must sit > 4 SEs above 0 (measured at key(0): z = −0.19 and z = 38)."""
    x = jnp.asarray(_flat(data.digits().validation))
    h = vm.median_bandwidth(x)

    def draw(key, shift):
        order = jax.random.permutation(key, x.shape[0])
        return vm.mmd2(x[order[:60]], jnp.clip(x[order[60:120]] + shift, 0.0, 1.0), h)

    keys = jax.random.split(jax.random.key(0), 400)
    for shift, test in ((0.0, lambda z: abs(z) < 4.0), (0.05, lambda z: z > 4.0)):
        values = np.asarray(jax.vmap(draw, (0, None))(keys, shift), np.float64)
        z = values.mean() / (values.std(ddof=1) / np.sqrt(values.size))  # MC SE of the mean
        assert test(z), (shift, z)


def test_median_bandwidth_matches_scipy_pdist():
    x = _flat(data.digits().validation)
    np.testing.assert_allclose(vm.median_bandwidth(x), np.median(pdist(x.astype(np.float64))),
                               rtol=1e-5)


def test_latent_stats_matches_numpy_and_vmaps():
    mu = np.random.default_rng(1).normal(2.0, 3.0, (4, 100, 5)).astype(np.float32)
    np.testing.assert_allclose(jax.vmap(vm.latent_stats)(mu), mu.std(axis=1, ddof=1), rtol=1e-5)
    np.testing.assert_allclose(vm.latent_stats(mu[0]), mu[0].std(axis=0, ddof=1), rtol=1e-5)


def test_class_entropy_of_uniform_counts_is_log_10_and_of_a_delta_is_0():
    np.testing.assert_allclose(vm.class_entropy(jnp.full(10, 7.0)), np.log(10), rtol=1e-6)
    assert float(vm.class_entropy(jnp.zeros(10).at[3].set(100.0))) == 0.0
    probs = jax.nn.one_hot(jnp.array([[1, 1, 2, 9]]), 10)
    np.testing.assert_array_equal(vm.class_counts(probs)[0], [0, 2, 1] + [0] * 6 + [1])
    np.testing.assert_allclose(vm.class_entropy(vm.class_counts(probs)), [1.0397208], rtol=1e-6)


def test_classifier_accuracy_on_the_validation_digits():
    """Measured 0.983 at key(0) (0.983–0.989 over keys 0–9); the bound leaves one digit."""
    d = data.digits()
    clf = vm.train_classifier(_flat(d.train), d.train_labels, key=jax.random.key(0))
    probs = vm.class_probs(clf, _flat(d.validation))
    accuracy = float(np.mean(np.argmax(probs, -1) == d.validation_labels))
    assert accuracy >= 0.98, accuracy
    # the predicted histogram's entropy is the labels' (2.2875 nats; predicted 2.2890)
    labels = np.bincount(d.validation_labels, minlength=10)
    assert abs(float(vm.class_entropy(vm.class_counts(probs)) - vm.class_entropy(labels))) < 0.005


@pytest.mark.parametrize("call, message", [
    (lambda: vm.mmd2(np.zeros((5, 4)), np.zeros((5, 3)), 1.0), "y must have 4 features"),
    (lambda: vm.mmd2(np.zeros((1, 4)), np.zeros((5, 4)), 1.0), "x must hold >= 2 points"),
    (lambda: vm.mmd2(np.zeros((5, 4)), np.zeros((5, 4)), 0.0), "bandwidth must be finite and > 0"),
    (lambda: vm.latent_stats(np.zeros(5)), "mu must have shape"),
    (lambda: vm.median_bandwidth(np.zeros((2, 3, 4))), r"x must have shape \(points, features\)"),
    (lambda: vm.train_classifier(np.zeros((3, 4)), [0, 1, 10], key=jax.random.key(0)),
     r"y must hold labels in \[0, 10\)"),
    (lambda: vm.train_classifier(np.zeros((3, 4)), [0, 1], key=jax.random.key(0)),
     "y must be 3 integer labels"),
    (lambda: vm.train_classifier(np.zeros((3, 4)), [0, 1, 2], key=jax.random.key(0), steps=0),
     "steps must be >= 1"),
])
def test_bad_arguments_name_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()
