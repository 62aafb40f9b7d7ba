r"""VAE refitting chains measured as Shumailov et al. (2023, Figs 8–9) measure them.

:func:`simulate` runs :func:`collapse_theory.chain.simulate` on the VAE family
(:mod:`~collapse_theory.vae.family`) from D0 = the real training images, and measures each
model ``g`` inside the chain (``observe``: nothing larger than the measurements is recorded):

* ``P = 100`` samples of model ``g``: the decoded Bernoulli means of ``P`` latents
  ``z ~ N(0, I)`` drawn once from :data:`METRIC_SEED` — the same latents for every generation
  and trial, so generations differ only by their decoders (gaussian likelihood: plus noise from
  the same fixed key);
* their posterior means under the trial's fit-1 encoder (the paper's generation-0 encoder) and
  the per-dimension std of those means (Fig. 8: 0.674 → 0.608 → 0.527 → 0.468 → 0.433 over the
  paper's generations 0–4 on MNIST);
* the histogram and entropy of their predicted digit classes under a classifier trained once on
  the real training digits (:func:`~collapse_theory.vae.metrics.train_classifier`, key 0; 8×8
  images only, NaN otherwise);
* the unbiased squared MMD between them and the real validation images (Gaussian kernel, the
  median-heuristic bandwidth of the validation images, fixed once);
* the mean ELBO (β = 1, nats) of the real validation images under model ``g``, one
  reparameterised sample per image from a fixed key;
* 16 decoded images of 16 fixed latents, for figures.

Generation 0 is the real data: latent means of the first ``P`` validation images under the
fit-1 encoder (recorded with generation 1, which is always run when 0 is recorded), classes and
MMD of the first ``P`` real training images (with the digits' split, a D0 sample independent of
the validation images: its MMD² is the estimator's noise around 0), the first 16 training
images, no ELBO (NaN).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate, chain, engine, policies
from . import data, metrics, networks, train
from .config import check
from .family import Model, model

#: Samples of each model that the metrics use (the paper's 100).
POINTS = 100
#: Decoded images recorded per generation (``samples``).
SHOWN = 16
#: Seed of the fixed latents (and noise) of the metrics, and of the digit classifier.
METRIC_SEED = 0


class VAEResult(NamedTuple):
    """Recorded generations of VAE refitting chains (a pytree; module docstring).

    Attributes:
      generation: ``(R,)`` recorded generations; 0 = the real data D0, ``g ≥ 1`` the ``g``-th
        fitted VAE (the paper's generation ``g − 1``).
      latent_mean: ``(trials, R, P, latent)`` posterior means ``μ(x)`` under the trial's fit-1
        encoder of ``P = 100`` samples of model ``g`` (``g = 0``: the first ``P`` real
        validation images; NaN when no VAE was fitted).
      latent_std: ``(trials, R, latent)`` per-dimension std (÷(P−1)) of ``latent_mean`` over the
        ``P`` samples.
      elbo: ``(trials, R)`` mean ELBO (nats) per real validation image under model ``g`` (NaN
        at ``g = 0``).
      class_entropy: ``(trials, R)`` entropy (nats) of the predicted-class histogram of the
        ``P`` samples under a digit classifier trained once on the real training digits.
      class_counts: ``(trials, R, 10)`` that histogram.
      mmd: ``(trials, R)`` unbiased squared Gaussian-kernel MMD in pixel space between the
        ``P`` samples and the real validation images.
      samples: ``(trials, R, 16, h, w)`` decoded means of 16 fixed latents (``g = 0``: the
        first 16 training images).
      size: ``(R,)`` points behind each fit (0 at generation 0).
    """

    generation: np.ndarray
    latent_mean: jax.Array
    latent_std: jax.Array
    elbo: jax.Array
    class_entropy: jax.Array
    class_counts: jax.Array
    mmd: jax.Array
    samples: jax.Array
    size: np.ndarray

    @property
    def latent_std_mean(self) -> jax.Array:
        """``(trials, R)`` ``latent_std`` averaged over the latent dimensions."""
        return jnp.mean(self.latent_std, axis=-1)


class _Real(NamedTuple):
    """What generation 0 reports (the real data), computed once on the host."""

    class_entropy: np.ndarray
    class_counts: np.ndarray
    mmd: np.ndarray
    samples: np.ndarray


@functools.lru_cache(maxsize=4)
def _classifier(shape: tuple):
    """The digit classifier (8×8 images only; ``None`` otherwise)."""
    if shape != (8, 8):
        return None
    d = data.digits()
    return metrics.train_classifier(d.train.reshape(-1, 64), d.train_labels,
                                    key=jax.random.key(METRIC_SEED))


def _classes(classifier, x):
    """``(counts (…, 10), entropy (…))`` of the predicted classes of ``x (…, P, D)``; NaN
    without a classifier."""
    if classifier is None:
        counts = jnp.full(x.shape[:-2] + (metrics.CLASSES,), jnp.nan, x.dtype)
    else:
        counts = metrics.class_counts(metrics.class_probs(classifier, x))
    return counts, metrics.class_entropy(counts)


@functools.lru_cache(maxsize=8)
def _observer(mdl: Model, val: engine.Content):
    """``observe(params)``: the measurements of one model (module docstring).  Its fixed
    latents and noises are drawn here, once, and enter the compiled chain as constants."""
    cfg, (h, w) = mdl.config, mdl.shape
    v = np.asarray(val.array.reshape(-1, h * w))
    bandwidth = np.asarray(metrics.median_bandwidth(v))
    classifier = _classifier(mdl.shape)
    k_z, k_noise, k_shown, k_elbo = jax.random.split(jax.random.key(METRIC_SEED), 4)
    z = np.asarray(jax.random.normal(k_z, (POINTS, cfg.latent), jnp.float32))
    noise = (None if cfg.likelihood == "bernoulli" else
             np.asarray(jax.random.normal(k_noise, (POINTS, h * w), jnp.float32)))
    shown = np.asarray(jax.random.normal(k_shown, (SHOWN, cfg.latent), jnp.float32))
    eps = np.asarray(jax.random.normal(k_elbo, (v.shape[0], cfg.latent), jnp.float32))

    def observe(params):
        x = mdl.draw(params, z, noise)
        ref = mdl.reference(params)
        mu = networks.encode(ref, x)[0]
        counts, entropy = _classes(classifier, x)
        net = mdl.network(params)
        return dict(
            latent_mean=mu, latent_std=metrics.latent_stats(mu),
            real_mean=networks.encode(ref, v[:POINTS])[0],
            elbo=jnp.mean(train.elbo(net, v, eps, beta=1.0, likelihood=cfg.likelihood)),
            class_entropy=entropy, class_counts=counts,
            mmd=metrics.mmd2(x, v, bandwidth),
            samples=mdl.decode_mean(params, shown).reshape(SHOWN, h, w))

    return observe


def _real_row(mdl: Model, real: np.ndarray, val: np.ndarray) -> _Real:
    """Generation 0's class histogram, MMD² and shown images (host, once per call)."""
    d = mdl.shape[0] * mdl.shape[1]
    x = jnp.asarray(real[:POINTS].reshape(-1, d))
    v = jnp.asarray(val.reshape(-1, d))
    counts, entropy = _classes(_classifier(mdl.shape), x)
    mmd = metrics.mmd2(x, v, metrics.median_bandwidth(v))
    return _Real(np.asarray(entropy), np.asarray(counts), np.asarray(mmd),
                 np.asarray(real[:SHOWN], np.float32))


def simulate(key, *, generations, trials, policy="replace", config=None, real=None,
             validation=None, sample_size=None, record=None, chunk_size=None, progress=False,
             memory_limit=None) -> VAEResult:
    """Run ``trials`` independent VAE refitting chains for ``generations`` fits.

    Each fit trains a fresh VAE from scratch (:class:`~collapse_theory.vae.Config`, default the
    paper's: conv encoder/decoder, 20-D latent, 30 epochs of Adam) on what the ``policy`` gives
    it; under ``replace`` (the paper) fit ``g ≥ 2`` sees only ``sample_size`` images decoded by
    model ``g − 1``.  Measured as the module docstring says; trial ``i`` depends only on
    ``(key, i)`` (bit for bit, whatever ``trials`` or ``chunk_size``).

    Args:
      key: ``jax.random.key``.
      generations: number of fits ``G ≥ 0``.
      trials: number of independent chains.
      policy: ``"replace"``, ``"accumulate"``, ``"accumulate-subsample"``, ``"fresh:γ"`` or
        ``"fixed:λ"`` (:mod:`collapse_theory.policies`; every policy runs through
        :func:`collapse_theory.chain.simulate`).  Under ``accumulate`` fit ``g`` trains
        ``epochs`` passes over its pool of ``N_g = g M`` images (``epochs × ceil(N_g/batch)``
        steps: the cost grows with ``g``), the pool a buffer of ``G M`` images per trial, which
        the chain's memory check (``memory_limit``) refuses beyond this machine's memory.
      config: a :class:`~collapse_theory.vae.Config` (``None``: the default).
      real: D0's images, ``(n, h, w)`` or ``(n, 64)``, pixels in ``[0, 1]`` for the bernoulli
        likelihood; default: the 1437 training digits of :func:`~collapse_theory.vae.data.digits`.
      validation: real images the metrics compare with (≥ 100, the shape of ``real``); default:
        the 360 validation digits when ``real`` is ``None``, else ``real`` itself.
      sample_size: images per fit ``M`` (an int, or a schedule); default: the number of real
        training images (the paper: as many as the real training set).
      record: ``None`` (every generation), ``"log"`` or a list of generations.
      chunk_size: trials per chunk (default: bounded by the engine's memory budget).
      progress: report progress on stderr (the engine's).
      memory_limit: bytes the run may use (:func:`collapse_theory.chain.simulate`).
    """
    key = _validate.key("key", key)
    generations, trials = engine.check_counts(generations, trials, memory_limit)
    config = check(config)
    pol = policies.parse(policy)
    if real is None:
        digits = data.digits()
        real_images = digits.train
        val = digits.validation if validation is None else validation
    else:
        real_images = data.images("real", real, likelihood=config.likelihood,
                                  minimum_count=2)
        val = real_images if validation is None else validation
    shape = real_images.shape[1:]
    val = data.images("validation", val, likelihood=config.likelihood, shape=shape,
                      minimum_count=POINTS)
    mdl = model(config, shape)
    m = _validate.schedule("sample_size", real_images.shape[0] if sample_size is None
                           else sample_size, generations, minimum=1)
    sizes = policies.check_sizes(pol, m, 1)
    need = max(int(sizes.real.max()), int(sizes.synthetic[0])) if generations else 0
    if need > real_images.shape[0]:
        raise ValueError(f"sample_size: a fit draws {need} real images without replacement but "
                         f"real holds {real_images.shape[0]}; lower sample_size or give more "
                         f"images")
    gens = engine.record_generations(record, generations)
    run_gens = gens
    if generations and gens[0] == 0 and 1 not in gens:  # generation 0 needs fit 1's encoder
        run_gens = np.unique(np.concatenate([gens, [1]]))
    # The observer trains the digit classifier: refuse an oversized run before that.
    engine.check_records(generations, trials, run_gens, memory_limit=memory_limit,
                         record_bytes=_record_bytes(config, shape))
    res = chain.simulate(key, mdl.family, sample_size=m, generations=generations, trials=trials,
                         policy=pol, real=real_images.reshape(real_images.shape[0], -1),
                         record=run_gens.tolist(), observe=_observer(mdl, engine.Content(val)),
                         chunk_size=chunk_size, progress=progress, memory_limit=memory_limit)
    obs = res.params
    keep = np.searchsorted(run_gens, gens)
    obs = jax.tree.map(lambda a: a[:, keep], obs)
    size = res.size[keep]
    if gens[0] == 0:
        obs = _fill_real(obs, mdl, real_images, val, res, run_gens)
    return VAEResult(gens, obs["latent_mean"], obs["latent_std"], obs["elbo"],
                     obs["class_entropy"], obs["class_counts"], obs["mmd"], obs["samples"],
                     size)


def _record_bytes(config, shape) -> int:
    """Bytes a trial records per generation (``observe``'s float32 outputs)."""
    return 4 * (2 * POINTS * config.latent + config.latent + metrics.CLASSES + 3
                + SHOWN * shape[0] * shape[1])


def _fill_real(obs: dict, mdl: Model, real_images, val, res, run_gens) -> dict:
    """Row 0 (generation 0) of the measurements: the real data (module docstring)."""
    real = _real_row(mdl, real_images, val)
    if 1 in run_gens:
        mu = res.params["real_mean"][:, int(np.searchsorted(run_gens, 1))]
    else:  # no fit: no encoder
        mu = jnp.full_like(obs["latent_mean"][:, 0], jnp.nan)
    trials = mu.shape[0]
    rows = dict(latent_mean=mu, latent_std=metrics.latent_stats(mu),
                elbo=jnp.full((trials,), jnp.nan, obs["elbo"].dtype),
                class_entropy=real.class_entropy, class_counts=real.class_counts,
                mmd=real.mmd, samples=real.samples)
    return {name: obs[name].at[:, 0].set(jnp.broadcast_to(rows[name], obs[name][:, 0].shape)
                                         .astype(obs[name].dtype))
            for name in rows}
