"""Argument checks run at the Python boundary, before anything is traced.

Every failure names the parameter, the value received and the valid range, so that a
researcher sees at once what to change.  The CLI turns these errors into one line on stderr.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence

import jax
import numpy as np


def integer(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as a Python int, rejecting bools, floats and out-of-range values."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def real(name: str, value, *, minimum: float | None = None, maximum: float | None = None,
         strict_minimum: bool = False) -> float:
    """Return ``value`` as a finite Python float within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value <= minimum if strict_minimum else value < minimum):
        op = ">" if strict_minimum else ">="
        raise ValueError(f"{name} must be {op} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def choice(name: str, value, options: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``options``."""
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}")
    return value


def schedule(name: str, value, generations: int, *, minimum: int) -> np.ndarray:
    """A sample size: an int, or one int per generation (the schedule M_1..M_G).

    Returns an int64 array of length ``generations`` (``M_i`` is used by fit ``i``).
    """
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        integer(name, value, minimum=minimum)
        return np.full(generations, int(value), dtype=np.int64)
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be an integer or a sequence of {generations} integers, "
                        f"got {type(value).__name__}")
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.shape[0] != generations:
        raise ValueError(f"{name} as a schedule must have length generations={generations}, "
                         f"got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise TypeError(f"{name} must hold integers, got {arr.dtype} values")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < minimum:
        i = int(np.argmin(arr))
        raise ValueError(f"{name} must be >= {minimum} at every generation, got {int(arr[i])} "
                         f"at generation {i + 1}")
    return arr


def spd_matrix(name: str, value, dim: int) -> np.ndarray:
    """A symmetric positive-definite ``(dim, dim)`` matrix (a scalar is accepted when dim == 1)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0 and dim == 1:
        arr = arr.reshape(1, 1)
    if arr.shape != (dim, dim):
        raise ValueError(f"{name} must have shape ({dim}, {dim}) for dim={dim}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.tolist()}")
    if not np.allclose(arr, arr.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(arr).max())):
        raise ValueError(f"{name} must be symmetric, got {arr.tolist()}")
    eig = np.linalg.eigvalsh(arr)
    if eig.min() <= 0:
        raise ValueError(f"{name} must be positive definite; smallest eigenvalue is {eig.min():.3g}")
    return arr


def vector(name: str, value, dim: int) -> np.ndarray:
    """A finite vector of length ``dim`` (a scalar is accepted when dim == 1)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0 and dim == 1:
        arr = arr.reshape(1)
    if arr.shape != (dim,):
        raise ValueError(f"{name} must have shape ({dim},) for dim={dim}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.tolist()}")
    return arr


def writable_path(name: str, path) -> str:
    """A path whose parent directory exists and is writable."""
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"{name}={path!r}: directory {parent!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"{name}={path!r} is a directory, expected a file path")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"{name}={path!r}: directory {parent!r} is not writable")
    return path


def key(name: str, value):
    """A JAX PRNG key (new-style ``jax.random.key`` or legacy uint32[2])."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        raise TypeError(f"{name} must be a PRNG key, e.g. jax.random.key({value}); got the int {value}")
    try:
        dtype = value.dtype
    except AttributeError:
        raise TypeError(f"{name} must be a PRNG key from jax.random.key, got {type(value).__name__}") from None
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if value.shape != ():
            raise ValueError(f"{name} must be a single key (shape ()), got shape {value.shape}")
        return value
    if value.shape == (2,) and dtype == np.uint32:
        return jax.random.wrap_key_data(value)
    raise TypeError(f"{name} must be a PRNG key from jax.random.key, got {dtype} of shape {value.shape}")
