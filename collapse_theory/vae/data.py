r"""D0 for the VAE chain: scikit-learn's 8×8 digits with a fixed split, or a user's images.

``load_digits`` ships 1797 images of 8×8 pixels with values ``0..16`` (no download); pixels are
scaled to ``[0, 1]`` (``x / 16``).  The split is fixed: ``numpy.random.default_rng(0)
.permutation(1797)``, its first :data:`TRAIN_SIZE` = 1437 indices the training set (D0, what
fit 1 sees) and the last 360 the validation set (the metrics' real digits), so every run and
every seed compares against the same digits.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from sklearn.datasets import load_digits

#: Digits in the fixed training split (the rest, 360, are the validation split).
TRAIN_SIZE = 1437
#: Seed of the fixed permutation that splits the digits.
SPLIT_SEED = 0


class Digits(NamedTuple):
    """The fixed split of scikit-learn's digits: images ``(n, 8, 8)`` float32 in ``[0, 1]``,
    labels ``(n,)`` int32 in ``0..9``."""

    train: np.ndarray
    train_labels: np.ndarray
    validation: np.ndarray
    validation_labels: np.ndarray


@functools.lru_cache(maxsize=1)
def digits() -> Digits:
    """scikit-learn's 1797 digits scaled to ``[0, 1]``, split 1437 / 360 by the fixed
    permutation ``default_rng(0).permutation(1797)`` (module docstring).  Read-only arrays."""
    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)
    labels = bunch.target.astype(np.int32)
    order = np.random.default_rng(SPLIT_SEED).permutation(images.shape[0])
    train, val = order[:TRAIN_SIZE], order[TRAIN_SIZE:]
    out = Digits(images[train], labels[train], images[val], labels[val])
    for a in out:
        a.flags.writeable = False
    return out


def images(name: str, value, *, likelihood: str, shape: tuple[int, int] | None = None,
           minimum_count: int = 1) -> np.ndarray:
    """``value`` as float32 images ``(n, h, w)``: an array ``(n, h, w)``, or ``(n, 64)`` read as
    8×8.  Pixels must be finite, and in ``[0, 1]`` for the ``"bernoulli"`` likelihood (the
    targets of the binary cross-entropy); ``shape``, when given, is the required ``(h, w)``.
    ``TypeError``/``ValueError`` name ``name``, what was received and what is valid."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array of images (n, h, w) or (n, 64), "
                        f"got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of images (n, h, w) or (n, 64), "
                        f"got {type(value).__name__}") from None
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating)
                                 or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must hold real pixel values, got dtype {arr.dtype}")
    if arr.ndim == 2 and arr.shape[1] == 64:
        arr = arr.reshape(-1, 8, 8)
    if arr.ndim != 3 or min(arr.shape[1:], default=0) < 1:
        raise ValueError(f"{name} must have shape (n, h, w) or (n, 64) (8x8 images), "
                         f"got shape {arr.shape}")
    if arr.shape[0] < minimum_count:
        raise ValueError(f"{name} must hold at least {minimum_count} images, got {arr.shape[0]}")
    if shape is not None and arr.shape[1:] != tuple(shape):
        raise ValueError(f"{name} must hold {shape[0]}x{shape[1]} images like the training "
                         f"data, got shape {arr.shape}")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite pixel values; found NaN or inf")
    if likelihood == "bernoulli" and (arr.min() < 0.0 or arr.max() > 1.0):
        raise ValueError(f"{name} must hold pixel values in [0, 1] for the bernoulli "
                         f"likelihood (binary cross-entropy targets), got values in "
                         f"[{arr.min():.4g}, {arr.max():.4g}]; scale them (digits: x / 16)")
    return arr
