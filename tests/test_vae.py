"""collapse_theory.vae: the VAE family (each fit trains a fresh network) and its chains.

Tiny configurations (3-D latent, 2/4 channels, 1 epoch) keep each compiled fit small; the
chain tests share one compiled chain (trials are padded to the engine's 8 lanes)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_theory import vae

TINY = vae.Config(latent=3, arch="conv", widths=(2, 4), epochs=1, batch=64)
DIGITS = vae.digits()
X = jnp.asarray(DIGITS.train.reshape(-1, 64)[:250])


def test_digits_split_is_fixed():
    d = vae.digits()
    assert d.train.shape == (1437, 8, 8) and d.validation.shape == (360, 8, 8)
    assert d.train.dtype == np.float32 and d.train.min() == 0.0 and d.train.max() == 1.0
    order = np.random.default_rng(0).permutation(1797)
    from sklearn.datasets import load_digits
    np.testing.assert_array_equal(d.validation_labels, load_digits().target[order[1437:]])


@pytest.fixture(scope="module")
def fit():
    fam = vae.family(TINY)
    return jax.jit(lambda x, w, key, previous: fam.fit(x, w, key=key, previous=previous))


def test_fit_is_fresh_and_carries_the_fit1_encoder(fit):
    w = jnp.ones(250)
    placeholder = jax.eval_shape(lambda: vae.family(TINY).fit(X, w, key=jax.random.key(0),
                                                                previous=None))
    placeholder = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), placeholder)
    p1 = fit(X, w, jax.random.key(1), placeholder)
    p2 = fit(X, w, jax.random.key(2), p1)
    assert int(p1.fits) == 1 and int(p2.fits) == 2
    for a, b in zip(jax.tree.leaves(p1.reference), jax.tree.leaves(p1.model.encoder)):
        np.testing.assert_array_equal(a, b)  # fit 1 keeps its own encoder
    for a, b in zip(jax.tree.leaves(p2.reference), jax.tree.leaves(p1.model.encoder)):
        np.testing.assert_array_equal(a, b)  # later fits carry fit 1's
    assert not np.array_equal(p2.model.encoder.mean.weight, p1.model.encoder.mean.weight)
    assert all(a.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(a)))
               for a in jax.tree.leaves(p2.model))
    x = vae.family(TINY).sample(jax.random.key(3), p2, 5)
    assert x.shape == (5, 64) and x.dtype == jnp.float32 and bool(jnp.all((x >= 0) & (x <= 1)))


def test_zero_weight_rows_are_absent(fit):
    w = jnp.ones(250).at[200:].set(0.0)
    placeholder = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(
        lambda: vae.family(TINY).fit(X, w, key=jax.random.key(0), previous=None)))
    a = fit(X, w, jax.random.key(1), placeholder)
    b = fit(X.at[200:].set(jnp.nan), w, jax.random.key(1), placeholder)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(u, v)


def test_ppca_family():
    cfg = vae.Config(arch="linear", likelihood="gaussian", latent=2, epochs=2, batch=64)
    fam = vae.family(cfg)
    p = jax.jit(lambda k: fam.fit(X, jnp.ones(250), key=k, previous=None))(jax.random.key(0))
    assert p.model.log_noise.shape == () and bool(jnp.isfinite(p.model.log_noise))
    assert p.model.decoder.layers[0].weight.shape == (64, 2)
    x = fam.sample(jax.random.key(1), p, 4)
    assert x.shape == (4, 64) and x.dtype == jnp.float32


def test_ppca_covariance_is_the_law_of_the_samples():
    """Model.covariance = W Wᵀ + s² I is the covariance of the family's samples: 40 000 draws
    of a random-initialised linear-Gaussian VAE on 2 pixels.  Each entry's sample covariance
    has standard error ≤ sqrt((C_ii C_jj + C_ij²) / n); allowed: 5 of them.  Control: the
    decoder's W Wᵀ without the noise s² I is rejected."""
    cfg = vae.Config(arch="linear", likelihood="gaussian", latent=1, epochs=1, batch=8)
    mdl = vae.model(cfg, shape=(1, 2))
    p = jax.jit(lambda k: mdl.family.fit(jnp.zeros((8, 2)), jnp.ones(8), key=k,
                                         previous=None))(jax.random.key(0))
    n = 40_000
    x = np.asarray(mdl.family.sample(jax.random.key(1), p, n), np.float64)
    c = np.asarray(mdl.covariance(p), np.float64)
    se = np.sqrt((np.outer(np.diag(c), np.diag(c)) + c ** 2) / n)
    empirical = np.cov(x.T)
    assert np.all(np.abs(empirical - c) < 5 * se), (empirical, c, se)
    w = np.asarray(mdl.network(p).decoder.layers[0].weight, np.float64)
    assert np.any(np.abs(empirical - w @ w.T) > 5 * se)  # control: the noise term matters
    with pytest.raises(ValueError, match="covariance needs arch 'linear'"):
        vae.model(TINY).covariance(p)


def test_default_widths_follow_the_architecture():
    assert vae.model(vae.Config(epochs=1)).config.widths == (128,)
    assert vae.model(vae.Config(arch="conv", epochs=1)).config.widths == (4, 8)
    assert vae.model(vae.Config(arch="linear", epochs=1)).config.widths == ()


@pytest.fixture(scope="module")
def run():
    return vae.simulate(jax.random.key(7), generations=1, trials=1, config=TINY,
                        sample_size=200)  # one fit: the chain compiles its first step only


def test_simulate_result(run):
    r = run
    np.testing.assert_array_equal(r.generation, [0, 1])
    np.testing.assert_array_equal(r.size, [0, 200])
    assert r.latent_mean.shape == (1, 2, vae.POINTS, 3)
    assert r.latent_std.shape == (1, 2, 3) and r.latent_std_mean.shape == (1, 2)
    assert r.samples.shape == (1, 2, 16, 8, 8) and r.class_counts.shape == (1, 2, 10)
    for name in ("latent_mean", "latent_std", "class_entropy", "class_counts", "mmd", "samples"):
        a = getattr(r, name)
        assert a.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(a))), name
    assert bool(jnp.isnan(r.elbo[0, 0])) and bool(jnp.all(jnp.isfinite(r.elbo[:, 1:])))
    assert bool(jnp.all(r.elbo[:, 1:] < 0))
    np.testing.assert_allclose(r.class_counts.sum(-1), vae.POINTS)
    np.testing.assert_array_equal(r.samples[0, 0], DIGITS.train[:16])  # g = 0: real digits
    assert float(r.class_entropy[0, 0]) > 2.0  # real digits: ~ log 10


def test_same_key_same_result_whatever_trials_and_chunks(run):
    more = vae.simulate(jax.random.key(7), generations=1, trials=7, config=TINY,
                        sample_size=200, chunk_size=3)
    for name in ("latent_mean", "latent_std", "elbo", "class_entropy", "mmd", "samples"):
        np.testing.assert_array_equal(getattr(more, name)[:1], getattr(run, name), err_msg=name)
    assert not np.array_equal(more.latent_mean[1], more.latent_mean[0])
    # generation 0 alone: fit 1 still runs (its encoder encodes the real digits), unrecorded
    only = vae.simulate(jax.random.key(7), generations=1, trials=1, config=TINY,
                        sample_size=200, record=[0])
    np.testing.assert_array_equal(only.generation, [0])
    np.testing.assert_array_equal(only.size, [0])
    np.testing.assert_array_equal(only.latent_mean, run.latent_mean[:, :1])


@pytest.mark.parametrize("field, value, match", [
    ("latent", 0, "config.latent must be >= 1"),
    ("arch", "resnet", "config.arch must be one of"),
    ("widths", (4,), r"config.widths must be \(c1, c2\)"),
    ("widths", (4, 0), r"config.widths\[1\] must be >= 1"),
    ("epochs", 1.5, "config.epochs must be an integer"),
    ("batch", 0, "config.batch must be >= 1"),
    ("lr", 0.0, "config.lr must be > 0"),
    ("weight_decay", -1.0, "config.weight_decay must be >= 0"),
    ("beta", float("nan"), "config.beta must be finite"),
    ("likelihood", "poisson", "config.likelihood must be one of"),
])
def test_config_errors_name_the_field(field, value, match):
    with pytest.raises((ValueError, TypeError), match=match):
        vae.family(TINY._replace(**{field: value}))


def test_argument_errors():
    key = jax.random.key(0)
    with pytest.raises(TypeError, match="config must be a collapse_theory.vae.Config"):
        vae.simulate(key, generations=1, trials=1, config={"latent": 3})
    with pytest.raises(ValueError, match="real must hold pixel values in"):
        vae.simulate(key, generations=1, trials=1, real=DIGITS.train * 16)
    with pytest.raises(ValueError, match=r"real must have shape \(n, h, w\)"):
        vae.simulate(key, generations=1, trials=1, real=np.zeros((10, 5)))
    with pytest.raises(ValueError, match="validation must hold at least 100 images"):
        vae.simulate(key, generations=1, trials=1, validation=DIGITS.validation[:50])
    with pytest.raises(ValueError, match="validation must hold 8x8 images"):
        vae.simulate(key, generations=1, trials=1, validation=np.zeros((200, 4, 4)))
    with pytest.raises(ValueError, match="sample_size: a fit draws 2000 real images"):
        vae.simulate(key, generations=1, trials=1, sample_size=2000)
    with pytest.raises(ValueError, match="policy must be one of"):
        vae.simulate(key, generations=1, trials=1, policy="mix")
    with pytest.raises(ValueError, match="shape must be multiples of 4"):
        vae.simulate(key, generations=1, trials=1, config=TINY, real=np.zeros((200, 6, 6)))
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        vae.simulate(0, generations=1, trials=1)
    with pytest.raises(ValueError, match="trials must be >= 1"):
        vae.simulate(key, generations=1, trials=0)
