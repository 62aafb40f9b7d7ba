r"""The VAE as a :class:`collapse_theory.Family`: ``fit`` trains a fresh VAE from scratch.

Points are flat images ``(n, D)``, ``D = h w``.  ``fit(points, weights, *, key, previous)``
initialises a new VAE from ``key`` and trains it on the points (:func:`~collapse_theory.vae.
train.train`); ``sample(key, params, n)`` decodes ``n`` latents ``z ~ N(0, I)``: the Bernoulli
means ``sigmoid ℓ(z)`` (not binarised, as the paper), or ``m(z) + s ξ`` for the gaussian
likelihood.

:class:`Params` also carry the trial's *reference encoder*, the encoder of its fit 1 (the
paper's "generation-0 encoder", which encodes every later generation's samples): fit 1 takes
its own, later fits copy ``previous.reference``.  ``fits`` counts the fits of the chain so far,
0 in the chain's placeholder for D0 given as data, which is how fit 1 knows it is fit 1.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from .. import _validate
from ..family import Family, carry_reference
from . import networks, train
from .config import Config, check
from .networks import DTYPE, VAE, Encoder


class Params(NamedTuple):
    """A fitted VAE (a pytree of arrays; :meth:`Model.network` restores the equinox module).

    Attributes:
      model: the fitted :class:`~collapse_theory.vae.networks.VAE`'s arrays (``eqx.filter``).
      reference: the trial's fit-1 encoder's arrays.
      fits: ``()`` int32, fits so far in the chain (the chain's generation of this model).
    """

    model: VAE
    reference: Encoder
    fits: jax.Array


class Model(NamedTuple):
    """A :class:`Config` on images of ``shape``: its family and the pieces that act on
    :class:`Params` (``static``: the networks' non-array parts, for ``eqx.combine``)."""

    config: Config
    shape: tuple
    family: Family
    static: VAE

    def network(self, params: Params) -> VAE:
        """The fitted equinox module."""
        return eqx.combine(params.model, self.static)

    def reference(self, params: Params) -> Encoder:
        """The trial's fit-1 encoder as an equinox module."""
        return eqx.combine(params.reference, self.static.encoder)

    def decode_mean(self, params: Params, z):
        """``E[x | z]`` of each latent ``z`` ``(n, latent)``: images ``(n, D)``."""
        out = networks.decode(self.network(params), z)
        return networks.mean_image(out, self.config.likelihood)

    def covariance(self, params: Params):
        """The model's covariance ``W Wᵀ + s² I`` ``(D, D)`` of a linear decoder ``x = W z +
        b + s ξ`` with ``z ∼ N(0, I)`` (probabilistic PCA; arch ``"linear"``, likelihood
        ``"gaussian"`` only)."""
        if self.config.arch != "linear" or self.config.likelihood != "gaussian":
            raise ValueError(f"covariance needs arch 'linear' and likelihood 'gaussian' (PPCA), "
                             f"got arch {self.config.arch!r}, likelihood "
                             f"{self.config.likelihood!r}")
        net = self.network(params)
        w = net.decoder.layers[0].weight
        return w @ w.T + jnp.exp(net.log_noise) * jnp.eye(w.shape[0], dtype=w.dtype)

    def draw(self, params: Params, z, noise):
        """Images of latents ``z`` with observation ``noise`` (:func:`networks.draw`)."""
        return networks.draw(self.network(params), z, noise, self.config.likelihood)


def family(config: Config | None = None, shape=(8, 8)) -> Family:
    """The VAE family for ``config`` (default: the paper's, :class:`Config`) on ``shape``
    ``(h, w)`` images (module docstring).  Built once per configuration: compiled chains are
    cached on the family."""
    return model(config, shape).family


def model(config: Config | None = None, shape=(8, 8)) -> Model:
    """The :class:`Model` of ``config`` on ``shape`` images (validated; cached)."""
    config = check(config)
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise TypeError(f"shape must be (h, w), got {shape!r}")
    h, w = (_validate.integer(f"shape[{i}]", v, minimum=1) for i, v in enumerate(shape))
    if config.arch == "conv" and (h % 4 or w % 4):
        raise ValueError(f"arch 'conv' halves the image twice: shape must be multiples of 4, "
                         f"got {(h, w)}")
    return _model(config, (h, w))


@functools.lru_cache(maxsize=32)
def _model(config: Config, shape: tuple) -> Model:
    template = networks.template(arch=config.arch, widths=config.widths, latent=config.latent,
                                 shape=shape, likelihood=config.likelihood)
    static = eqx.partition(template, networks.is_leaf)[1]
    init = networks.initializer(template)

    def fit(points, weights, *, key, previous: Params | None) -> Params:
        k_init, k_train = jax.random.split(key)
        net = train.train(init(k_init), points, weights, k_train, config)
        arrays = eqx.filter(net, eqx.is_array)
        return Params(arrays, *carry_reference(arrays.encoder, previous))

    def sample(key, params: Params, n: int):
        k_z, k_noise = jax.random.split(key)
        z = jax.random.normal(k_z, (n, config.latent), DTYPE)
        noise = (None if config.likelihood == "bernoulli" else
                 jax.random.normal(k_noise, (n, shape[0] * shape[1]), DTYPE))
        return networks.draw(eqx.combine(params.model, static), z, noise, config.likelihood)

    widths = "x".join(map(str, config.widths))
    name = f"vae {config.arch}{' ' + widths if widths else ''} latent={config.latent}"
    return Model(config, shape, Family(sample, fit, name=name), static)
