r"""The ELBO and the training of one VAE from scratch (optax, one compiled loop).

For an image ``x`` and ``ε ~ N(0, I)``, ``z = μ(x) + σ(x) ε`` (reparameterisation), the
single-sample estimate of the evidence lower bound

    ``ELBO_β(x) = log p(x | z) − β KL(N(μ, diag σ²) ‖ N(0, I))``,
    ``KL = ½ Σ_j (σ_j² + μ_j² − 1 − log σ_j²)``,

is unbiased for the ELBO (β = 1: a lower bound on ``log p(x)``, nats).  A minibatch's loss is
``−Σ_b w̃_b ELBO_β(x_b)`` — summed over the batch as the paper's PyTorch loss (BCE ``sum`` +
KL) — with ``w̃ = w N / Σ w`` (``N`` live rows: equal weights give ``w̃ = 1``).

:func:`train`: ``epochs`` passes, each over one uniform random permutation of the live rows
(weight > 0; a zero weight is an absent row) cut into ``ceil(N / batch)`` minibatches, the last
one partial; Adam (optax) with L2 weight decay added to the gradient (PyTorch's
``Adam(weight_decay=...)``).  A ``lax.scan`` over epochs holds a ``fori_loop`` over the epoch's
minibatches (its count, traced from the weights, grows with an accumulating pool).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from . import networks
from .config import Config
from .networks import DTYPE, VAE


def elbo(model: VAE, x, eps, *, beta: float, likelihood: str):
    """``ELBO_β`` of each image of ``x`` ``(n, D)`` at the reparameterised sample of noise
    ``eps`` ``(n, latent)``, ``(n,)``."""
    mu, log_var = networks.encode(model.encoder, x)
    z = mu + jnp.exp(0.5 * log_var) * eps
    out = networks.decode(model, z)
    kl = 0.5 * jnp.sum(jnp.exp(log_var) + mu * mu - 1.0 - log_var, axis=-1)
    return networks.log_likelihood(model, x.astype(DTYPE), out, likelihood) - beta * kl


def optimizer(config: Config) -> optax.GradientTransformation:
    """Adam (``lr``) on the gradient plus ``weight_decay × θ`` (coupled L2, as PyTorch)."""
    return optax.chain(optax.add_decayed_weights(config.weight_decay), optax.adam(config.lr))


def train(model: VAE, points, weights, key, config: Config) -> VAE:
    """``model`` trained on the rows of ``points`` ``(rows, D)`` with ``weights`` ``(rows,)``
    (module docstring); float32 throughout."""
    w = weights.astype(DTYPE)
    live = w > 0
    x = jnp.where(live[:, None], points.astype(DTYPE), 0.0)  # absent rows: never read as data
    rows, size = x.shape[0], config.batch
    n = jnp.sum(live).astype(jnp.int32)
    scale = w * n.astype(DTYPE) / jnp.maximum(jnp.sum(w), jnp.finfo(DTYPE).tiny)
    n_batches = (n + size - 1) // size
    padded = size * -(-rows // size)  # the permutation, padded to whole minibatches
    params, static = eqx.partition(model, eqx.is_array)
    flat, unravel = ravel_pytree(params)  # one vector: one optimiser update, not one per layer
    opt = optimizer(config)

    def loss(p, idx, valid, k):
        m = eqx.combine(unravel(p), static)
        eps = jax.random.normal(k, (size, config.latent), DTYPE)
        e = elbo(m, x[idx], eps, beta=config.beta, likelihood=config.likelihood)
        return -jnp.sum(jnp.where(valid, scale[idx] * e, 0.0))

    grad = jax.grad(loss)

    def epoch(carry, k):
        k_perm, k_eps = jax.random.split(k)
        u = jax.random.uniform(k_perm, (rows,), DTYPE)
        order = jnp.argsort(jnp.where(live, u, 2.0))  # live rows first, uniformly permuted
        order = jnp.concatenate([order, jnp.zeros((padded - rows,), order.dtype)])

        def minibatch(j, carry):
            p, state = carry
            idx = jax.lax.dynamic_slice(order, (j * size,), (size,))
            valid = j * size + jnp.arange(size) < n
            g = grad(p, idx, valid, jax.random.fold_in(k_eps, j))
            updates, state = opt.update(g, state, p)
            return optax.apply_updates(p, updates), state

        return jax.lax.fori_loop(0, n_batches, minibatch, carry), None

    carry = (flat, opt.init(flat))
    flat, _ = jax.lax.scan(epoch, carry, jax.random.split(key, config.epochs))[0]
    return eqx.combine(unravel(flat), static)
