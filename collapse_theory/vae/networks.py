r"""Encoder and decoder networks of the VAE (equinox layers, float32 whatever ``jax_enable_x64``).

An image is a flat vector ``x`` of ``D = h w`` pixels.  The encoder maps ``x`` to the posterior
``q(z | x) = N(μ(x), diag σ²(x))`` (two linear heads, ``μ`` and ``log σ²``); the decoder maps a
latent ``z`` to the likelihood's parameter: the logits ``ℓ(z)`` of ``p(x | z) = Π Bernoulli(x_i;
sigmoid ℓ_i)`` (``"bernoulli"``; its mean ``sigmoid ℓ`` is the decoded image) or the mean ``m(z)``
of ``N(x; m(z), s² I)`` with a learned observation log-variance ``log s²`` (``"gaussian"``).

Architectures (:data:`ARCHS`, ``widths = (c₁, c₂)``):

* ``"conv"`` — Shumailov et al.'s Figs 8–9 network scaled to small images: Conv(1→c₁, k4, s2,
  p1) → ReLU → Conv(c₁→c₂, k4, s2, p1) → ReLU → heads; decoder Linear → ReLU →
  ConvT(c₂→c₁, k4, s2, p1) → ReLU → ConvT(c₁→1, k4, s2, p1) (8×8 → 4×4 → 2×2 and back; ``h``
  and ``w`` multiples of 4).  The paper uses (64, 128) on 28×28 MNIST;
* ``"mlp"`` — fully connected, hidden layers ``widths`` (encoder) and reversed (decoder), ReLU;
* ``"linear"`` — linear heads on ``x`` and a linear decoder: with the gaussian likelihood this
  is probabilistic PCA as a VAE (its optimum's decoder spans the top principal subspace).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

ARCHS = ("conv", "mlp", "linear")
LIKELIHOODS = ("bernoulli", "gaussian")
DTYPE = jnp.float32
_LOG_2PI = math.log(2.0 * math.pi)


class Encoder(eqx.Module):
    """``x (D,) -> (μ, log σ²)``, each ``(latent,)``."""

    features: eqx.nn.Sequential
    mean: eqx.nn.Linear
    log_var: eqx.nn.Linear

    def __call__(self, x):
        h = self.features(x)
        return self.mean(h), self.log_var(h)


class VAE(eqx.Module):
    """Encoder, decoder (``z (latent,) -> (D,)`` logits or mean) and, for the gaussian
    likelihood, the observation log-variance ``log s²`` (``None`` for bernoulli)."""

    encoder: Encoder
    decoder: eqx.nn.Sequential
    log_noise: jax.Array | None


def build(key, *, arch: str, widths: tuple[int, ...], latent: int, shape: tuple[int, int],
          likelihood: str) -> VAE:
    """A :class:`VAE` (float32) initialised by equinox's layers (:func:`initializer` draws the
    same law in one call)."""
    h, w = shape
    d = h * w
    keys = iter(jax.random.split(key, 8))
    relu = eqx.nn.Lambda(jax.nn.relu)

    def linear(n_in, n_out):
        return eqx.nn.Linear(n_in, n_out, dtype=DTYPE, key=next(keys))

    if arch == "conv":
        c1, c2 = widths
        flat = c2 * (h // 4) * (w // 4)
        conv = dict(kernel_size=4, stride=2, padding=1, dtype=DTYPE)
        features = eqx.nn.Sequential([
            eqx.nn.Lambda(lambda x: x.reshape(1, h, w)),
            eqx.nn.Conv2d(1, c1, **conv, key=next(keys)), relu,
            eqx.nn.Conv2d(c1, c2, **conv, key=next(keys)), relu,
            eqx.nn.Lambda(jnp.ravel)])
        decoder = eqx.nn.Sequential([
            linear(latent, flat), relu,
            eqx.nn.Lambda(lambda z: z.reshape(c2, h // 4, w // 4)),
            eqx.nn.ConvTranspose2d(c2, c1, **conv, key=next(keys)), relu,
            eqx.nn.ConvTranspose2d(c1, 1, **conv, key=next(keys)),
            eqx.nn.Lambda(jnp.ravel)])
    elif arch == "mlp":
        sizes = (d,) + tuple(widths)
        flat = sizes[-1]
        enc, dec = [], []
        for a, b in zip(sizes[:-1], sizes[1:]):
            enc += [linear(a, b), relu]
        back = (latent,) + tuple(reversed(widths))
        for a, b in zip(back[:-1], back[1:]):
            dec += [linear(a, b), relu]
        features = eqx.nn.Sequential(enc)
        decoder = eqx.nn.Sequential(dec + [linear(back[-1], d)])
    else:  # linear
        flat = d
        features = eqx.nn.Sequential([eqx.nn.Identity()])
        decoder = eqx.nn.Sequential([linear(latent, d)])
    encoder = Encoder(features, linear(flat, latent), linear(flat, latent))
    log_noise = jnp.zeros((), DTYPE) if likelihood == "gaussian" else None
    return VAE(encoder, decoder, log_noise)


def is_leaf(x) -> bool:
    """An array or an array's shape (``jax.ShapeDtypeStruct``): the leaves of a template."""
    return eqx.is_array(x) or isinstance(x, jax.ShapeDtypeStruct)


def template(**kwargs) -> VAE:
    """:func:`build`'s module with ``jax.ShapeDtypeStruct`` leaves: the networks' structure
    without drawing (or compiling) anything."""
    return eqx.filter_eval_shape(lambda key: build(key, **kwargs), jax.random.key(0))


def initializer(template: VAE):
    """``init(key) -> VAE``: a fresh draw of equinox's default initialisation of the networks of
    ``template`` (:func:`template`) — every weight and bias of a layer ``U(−lim, lim)``,
    ``lim = 1/√fan_in`` (``fan_in``: the product of the weight's shape after its first axis, for
    Linear, Conv and ConvTranspose alike), ``log s² = 0`` — in one uniform draw (one PRNG call
    instead of two per layer: the compiled fit is half the size)."""
    arrays, static = eqx.partition(template, is_leaf)
    layers = (eqx.nn.Linear, eqx.nn.Conv, eqx.nn.ConvTranspose)

    def limits(node):
        if not isinstance(node, layers):
            return jnp.zeros(node.shape, node.dtype)
        lim = 1.0 / math.sqrt(math.prod(node.weight.shape[1:]))
        return jax.tree.map(lambda a: jnp.full(a.shape, lim, a.dtype), node)

    scale, unravel = ravel_pytree(jax.tree.map(limits, arrays,
                                               is_leaf=lambda n: isinstance(n, layers)))

    def init(key) -> VAE:
        u = jax.random.uniform(key, scale.shape, DTYPE, minval=-1.0, maxval=1.0)
        return eqx.combine(unravel(u * scale), static)

    return init


def encode(encoder: Encoder, x):
    """``(μ, log σ²)`` of a batch ``x (n, D)``, each ``(n, latent)``."""
    return jax.vmap(encoder)(x.astype(DTYPE))


def decode(model: VAE, z):
    """The decoder's output for a batch ``z (n, latent)``: logits or means ``(n, D)``."""
    return jax.vmap(model.decoder)(z.astype(DTYPE))


def log_likelihood(model: VAE, x, out, likelihood: str):
    """``log p(x | z)`` per image ``(n,)`` given the decoder's output ``out`` ``(n, D)``:
    ``Σ_i x_i ℓ_i − softplus(ℓ_i)`` (bernoulli: minus the summed binary cross-entropy) or
    ``−½ Σ_i [(x_i − m_i)² / s² + log s² + log 2π]`` (gaussian)."""
    if likelihood == "bernoulli":
        return jnp.sum(x * out - jax.nn.softplus(out), axis=-1)
    r2 = (x - out) ** 2 * jnp.exp(-model.log_noise)
    return -0.5 * jnp.sum(r2 + model.log_noise + _LOG_2PI, axis=-1)


def mean_image(out, likelihood: str):
    """The likelihood's mean ``E[x | z]``: ``sigmoid ℓ`` (bernoulli) or ``m`` (gaussian)."""
    return jax.nn.sigmoid(out) if likelihood == "bernoulli" else out


def draw(model: VAE, z, noise, likelihood: str):
    """Images of latents ``z`` ``(n, latent)``: the Bernoulli means ``sigmoid ℓ(z)``, or
    ``m(z) + s·noise`` (gaussian; ``noise`` ``(n, D)`` standard normal, ``None`` for
    bernoulli)."""
    mean = mean_image(decode(model, z), likelihood)
    return mean if likelihood == "bernoulli" else mean + jnp.exp(0.5 * model.log_noise) * noise
