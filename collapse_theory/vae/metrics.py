r"""What a VAE chain is measured by (Shumailov et al. 2023, arXiv:2305.17493, Figs 8–9).

* :func:`latent_stats`: the per-dimension standard deviation of posterior means ``μ(x)`` of a
  fixed set of points under one encoder (Fig. 8: the generation-0 encoder's latent means of 100
  samples of model ``n``; as in the Gaussian chain, their spread shrinks).
* :func:`train_classifier` / :func:`class_probs` / :func:`class_counts` / :func:`class_entropy`:
  a digit classifier trained once on the real digits, and the entropy (nats) of the histogram of
  its predicted classes on a sample, ``H = −Σ_c p̂_c log p̂_c`` (``log 10`` for balanced digits,
  ``0`` when every sample is one digit: the modes entangle and collapse, Fig. 9).
* :func:`mmd2` / :func:`median_bandwidth`: the unbiased squared maximum mean discrepancy with a
  Gaussian kernel in pixel space (Gretton et al. 2012, JMLR 13, eq. 3), its bandwidth fixed once
  by the median heuristic on the real validation digits.

Every function is pure; all but :func:`train_classifier` (run once on the host: its labels are
checked in numpy, its loop is one compiled ``lax.scan``) are ``jit``/``vmap``-able.  Shapes
(static) are checked at every call, a bandwidth only when concrete.  Sums are of ``O(1)`` terms
in float32.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import _validate

#: Digit classes of scikit-learn's ``load_digits``.
CLASSES = 10


def _points(name: str, x, *, minimum: int = 1, event: int | None = None) -> jax.Array:
    """``x`` as an array ``(..., P, D)`` with ``P ≥ minimum`` (and ``D == event`` if given)."""
    x = jnp.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (..., points, features), got shape {x.shape}")
    if x.shape[-2] < minimum:
        raise ValueError(f"{name} must hold >= {minimum} points (axis -2), got shape {x.shape}")
    if event is not None and x.shape[-1] != event:
        raise ValueError(f"{name} must have {event} features (axis -1), got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def latent_stats(mu) -> jax.Array:
    """Per-dimension sample standard deviation (÷(P−1)) of posterior means ``mu (..., P, L)``
    → ``(..., L)``; Fig. 8's spread of the latents under the generation-0 encoder."""
    mu = _points("mu", mu, minimum=2)
    return jnp.std(mu, axis=-2, ddof=1)


def train_classifier(x, y, *, key, steps: int = 500, learning_rate: float = 1e-3,
                     weight_decay: float = 1e-2, width: int = 128) -> eqx.nn.MLP:
    """A one-hidden-layer ReLU :class:`equinox.nn.MLP` (``D → width → 10`` logits) fitted by
    full-batch AdamW (:func:`optax.adamw`) on the mean cross-entropy of ``(x, y)``.

    Trained with the defaults on the fixed training split of :func:`collapse_theory.vae.data.digits`
    (1437 digits, flattened to 64 pixels), it classifies the 360 validation digits with accuracy
    0.983 at ``key(0)`` and 0.983–0.989 over keys 0–9 (``tests/test_vae_metrics.py``).

    Args:
      x: ``(P, D)`` points (pixels in [0, 1]).
      y: ``(P,)`` integer labels in ``[0, 10)``.
      key: ``jax.random.key`` of the initial weights (the only randomness).
      steps, learning_rate, weight_decay, width: optimiser steps (≥ 1), AdamW's rate (> 0) and
        decoupled weight decay (≥ 0), hidden units (≥ 1).
    """
    key = _validate.key("key", key)
    x = _points("x", x, minimum=1)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (points, features), got shape {x.shape}")
    y = np.asarray(y)
    if y.shape != x.shape[:1] or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be {x.shape[0]} integer labels (shape {x.shape[:1]}), got "
                         f"shape {y.shape} and dtype {y.dtype}")
    if y.min() < 0 or y.max() >= CLASSES:
        raise ValueError(f"y must hold labels in [0, {CLASSES}), got range "
                         f"[{y.min()}, {y.max()}]")
    steps = _validate.integer("steps", steps, minimum=1)
    width = _validate.integer("width", width, minimum=1)
    learning_rate = _validate.real("learning_rate", learning_rate, minimum=0.0,
                                   strict_minimum=True)
    weight_decay = _validate.real("weight_decay", weight_decay, minimum=0.0)
    model = eqx.nn.MLP(x.shape[1], CLASSES, width, 1, activation=jax.nn.relu, key=key)
    return _fit(model, x, jnp.asarray(y, jnp.int32), steps,
                optax.adamw(learning_rate, weight_decay=weight_decay))


@eqx.filter_jit
def _fit(model, x, y, steps: int, optimiser):
    params, static = eqx.partition(model, eqx.is_array)

    def loss(p):
        logits = jax.vmap(eqx.combine(p, static))(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(carry, _):
        p, state = carry
        grads = jax.grad(loss)(p)
        updates, state = optimiser.update(grads, state, p)
        return (optax.apply_updates(p, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, optimiser.init(params)), None, length=steps)
    return eqx.combine(params, static)


def class_probs(classifier: eqx.nn.MLP, x) -> jax.Array:
    """Class probabilities ``softmax(classifier(x))`` of flattened points ``x (..., P, D)``
    (``D`` the classifier's input size; images ``(P, 8, 8)`` reshape to ``(P, 64)``)
    → ``(..., P, 10)``."""
    x = _points("x", x, event=classifier.in_size)
    flat = x.reshape(-1, x.shape[-1])
    return jax.nn.softmax(jax.vmap(classifier)(flat), axis=-1).reshape(x.shape[:-1] + (-1,))


def class_counts(probs) -> jax.Array:
    """Histogram ``(..., C)`` of the predicted classes ``argmax_c probs[..., p, c]`` over the
    points axis of ``probs (..., P, C)`` (float counts summing to ``P``)."""
    probs = _points("probs", probs)
    return jnp.sum(jax.nn.one_hot(jnp.argmax(probs, -1), probs.shape[-1], dtype=probs.dtype), -2)


def class_entropy(counts) -> jax.Array:
    """Entropy in nats ``−Σ_c p_c log p_c`` of ``p = counts / Σ counts`` over the last axis of
    ``counts (..., C)`` (counts or probabilities; ``0 log 0 = 0``) → ``(...)``."""
    counts = jnp.asarray(counts)
    if counts.ndim < 1 or counts.shape[-1] < 1:
        raise ValueError(f"counts must have shape (..., classes), got shape {counts.shape}")
    if not jnp.issubdtype(counts.dtype, jnp.floating):
        counts = counts.astype(jnp.result_type(float))
    p = counts / jnp.sum(counts, -1, keepdims=True)
    return jnp.sum(jax.scipy.special.entr(p), -1)


def _sq_dist(a, b):
    """Squared Euclidean distances ``(..., P, Q)`` (Gram expansion, rounding clipped at 0)."""
    aa, bb = jnp.sum(a * a, -1), jnp.sum(b * b, -1)
    return jnp.maximum(aa[..., :, None] + bb[..., None, :] - 2.0 * a @ jnp.swapaxes(b, -1, -2),
                       0.0)


def _positive(name: str, value):
    """A concrete ``value`` must be finite and > 0 (a traced one is the caller's to check)."""
    if not isinstance(value, jax.core.Tracer):
        v = np.asarray(value)
        if v.size and not (np.all(np.isfinite(v)) and np.all(v > 0)):
            raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return value


def mmd2(x, y, bandwidth) -> jax.Array:
    r"""Unbiased squared MMD (Gretton et al. 2012, eq. 3) with ``k(a, b) = exp(−|a − b|²/(2h²))``:

    .. math:: \mathrm{MMD}^2_u = \frac{\sum_{i≠j} k(x_i, x_j)}{m(m−1)}
              + \frac{\sum_{i≠j} k(y_i, y_j)}{n(n−1)} − \frac{2}{mn}\sum_{i,j} k(x_i, y_j).

    ``x (..., m, D)``, ``y (..., n, D)`` (``m, n ≥ 2``), ``bandwidth`` ``h > 0`` (broadcasts over
    the batch); → ``(...)``.  Unbiased: zero mean when x and y share their law, so it can be
    negative.  Both samples are centred on ``x``'s mean first (the kernel is
    translation-invariant) to keep the float32 Gram expansion accurate.
    """
    x = _points("x", x, minimum=2)
    y = _points("y", y, minimum=2, event=x.shape[-1])
    h2 = jnp.asarray(_positive("bandwidth", bandwidth), x.dtype) ** 2
    centre = jnp.mean(x, -2, keepdims=True)
    x, y = x - centre, y - centre
    m, n = x.shape[-2], y.shape[-2]
    scale = -0.5 / h2[..., None, None]

    def within(a, size):
        k = jnp.exp(scale * _sq_dist(a, a))
        return (jnp.sum(k, (-2, -1)) - jnp.trace(k, axis1=-2, axis2=-1)) / (size * (size - 1))

    cross = jnp.mean(jnp.exp(scale * _sq_dist(x, y)), (-2, -1))
    return within(x, m) + within(y, n) - 2.0 * cross


def median_bandwidth(x) -> jax.Array:
    """The median heuristic (Gretton et al. 2012, §8): ``h = median_{i<j} |x_i − x_j|`` of
    points ``x (P, D)``, ``P ≥ 2`` → ``()``.  Computed once on the real validation digits and
    then fixed, so that MMDs of different generations share one kernel."""
    x = _points("x", x, minimum=2)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (points, features), got shape {x.shape}")
    i, j = np.triu_indices(x.shape[0], k=1)
    x = x - jnp.mean(x, 0)
    return jnp.sqrt(jnp.median(_sq_dist(x, x)[i, j]))
