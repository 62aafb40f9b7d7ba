"""collapse_theory.vae: the VAE family (fit trains a fresh network) through the chain."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import collapse_theory as ct
from collapse_theory import vae

TINY = vae.Config(latent=3, widths=(2, 4), epochs=1, batch=64)
REAL = vae.digits().train.reshape(-1, 64)[:200]


def test_family_through_the_chain():
    res = ct.simulate(jax.random.key(0), vae.family(TINY), real=REAL, sample_size=100,
                      generations=2, trials=2)
    p = res.params
    np.testing.assert_array_equal(p.fits, [[0, 1, 2]] * 2)
    leaves = jax.tree.leaves(p.model)
    assert all(a.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(a[:, 1:]))) for a in leaves)
    # the reference encoder is fit 1's, carried forward
    ref, own = p.reference.mean.weight, p.model.encoder.mean.weight
    np.testing.assert_array_equal(ref[:, 2], own[:, 1])
    assert not np.array_equal(own[:, 2], own[:, 1])
    x = vae.family(TINY).sample(jax.random.key(1), jax.tree.map(lambda a: a[0, 2], p), 5)
    assert x.shape == (5, 64) and bool(jnp.all((x >= 0) & (x <= 1)))


def test_ppca_family_gaussian_samples():
    cfg = vae.Config(arch="linear", likelihood="gaussian", latent=2, epochs=1, batch=64)
    res = ct.simulate(jax.random.key(0), vae.family(cfg), real=REAL, sample_size=100,
                      generations=1, trials=1, policy="fresh:0.5")
    p = jax.tree.map(lambda a: a[0, 1], res.params)
    assert p.model.log_noise.shape == () and bool(jnp.isfinite(p.model.log_noise))
    x = vae.family(cfg).sample(jax.random.key(1), p, 4)
    assert x.shape == (4, 64) and x.dtype == jnp.float32
