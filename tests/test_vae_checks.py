"""verify.vae_checks: the PPCA-VAE fit the check relies on reaches the Gaussian MLE.

The check itself (pass and control rejected) runs in tests/test_verify.py's quick suite
(family ``vae.*``)."""

import jax
import jax.numpy as jnp
import numpy as np

from collapse_theory import vae
from collapse_theory.verify import vae_checks


def test_one_ppca_vae_fit_reaches_the_sample_variance_with_divisor_m():
    """64 fits of vae_checks.CONFIG on M = 10 points of N(0, 1): the model variance w² + σ²
    equals S = Σ(x − x̄)²/M to a median relative error < 1 % and a mean log-ratio < 0.01
    (measured: 5.1e-3 and 7.4e-4 ± 9.7e-3; the ÷(M−1) variance the control stands for is
    log(10/9) = 0.105 away).  The check's observe function reads the same variance."""
    fam, m = vae.family(vae_checks.CONFIG, shape=(1, 1)), 10

    def one(key):
        k_x, k_fit = jax.random.split(key)
        x = jax.random.normal(k_x, (m, 1))
        p = fam.fit(x, jnp.ones(m), key=k_fit, previous=None)
        model_var = p.model.decoder.layers[0].weight[0, 0] ** 2 + jnp.exp(p.model.log_noise)
        return model_var, jnp.mean((x - x.mean()) ** 2), vae_checks._log_cov(p)

    model_var, s, log_cov = map(np.asarray, jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(2), 64)))
    assert np.median(np.abs(model_var / s - 1)) < 0.01
    log_ratio = np.log(model_var / s)
    assert abs(log_ratio.mean()) < 0.01, log_ratio.mean()
    np.testing.assert_allclose(log_cov, np.log(model_var), atol=1e-6)
