"""Argument checks run at the Python boundary, before anything is traced.

Every failure names the parameter, the value received and the valid range, so that a
researcher sees at once what to change.  The CLI turns these errors into one line on stderr.
"""

from __future__ import annotations

import numbers
import os
import tempfile
from collections.abc import Sequence

import jax
import numpy as np

#: Largest magnitude of any integer argument: sums and products of a few stay within int64.
MAX_INT = 2 ** 62
#: Trials are numbered by uint32 indices (``engine.trial_keys``).
MAX_TRIALS = 2 ** 32 - 1
#: Generations are uint32 counters and the ``G + 1`` record slots are int32.
MAX_GENERATIONS = 2 ** 31 - 2
#: Seeds are 32-bit (``jax.random.key``); the CLI refuses others rather than wrap them.
MAX_SEED = 2 ** 32 - 1
#: Figure formats that need more than matplotlib and Pillow (pgf: a LaTeX installation).
_UNWRITABLE_FIGURE_FORMATS = frozenset({"pgf"})


def integer(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as a Python int, rejecting bools, floats and out-of-range values."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    if abs(value) > MAX_INT:
        lo = "-2**62" if minimum is None else minimum
        hi = "2**62" if maximum is None else maximum
        raise ValueError(f"{name} must be in [{lo}, {hi}] (64-bit arithmetic), got {value}")
    return value


def seed(value) -> int:
    """A PRNG seed in ``[0, 2**32 - 1]`` (``jax.random.key`` takes 32 bits)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"seed must be an integer, got {value!r} ({type(value).__name__})")
    if not 0 <= int(value) <= MAX_SEED:
        raise ValueError(f"seed must be in [0, 2**32 - 1] = [0, {MAX_SEED}] (a 32-bit PRNG "
                         f"seed), got {int(value)}")
    return int(value)


def _count(name: str, value, lo: int, hi: int, why: str) -> int:
    """``value`` in ``[lo, hi]``; above ``hi`` the message names this range (also for integers
    beyond the 64-bit one :func:`integer` checks)."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool) \
            and value > hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}] ({why}), got {value}")
    return integer(name, value, minimum=lo)


def trial_count(value) -> int:
    """A number of trials in ``[1, 2**32 - 1]`` (trials are numbered by uint32 indices)."""
    return _count("trials", value, 1, MAX_TRIALS, "trials are numbered by 32-bit indices")


def generation_count(value) -> int:
    """A number of generations in ``[0, 2**31 - 2]`` (32-bit counters and record slots)."""
    return _count("generations", value, 0, MAX_GENERATIONS, "32-bit generation counters")


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


def choices(name: str, values, options: Sequence[str]) -> tuple:
    """``tuple(values)`` if it is non-empty and each value is one of ``options``."""
    values = tuple(values)
    for value in values:
        choice(name, value, options)
    if not values:
        raise ValueError(f"{name} must name at least one of {', '.join(options)}")
    return values


def schedule(name: str, value, generations: int, *, minimum: int) -> np.ndarray:
    """A sample size: an int, or one int per generation (the schedule M_1..M_G).

    Returns an int64 array of length ``generations`` (``M_i`` is used by fit ``i``).
    """
    generations = generation_count(generations)
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        value = integer(name, value, minimum=minimum)
        return np.full(generations, value, dtype=np.int64)
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be an integer or a sequence of {generations} integers, "
                        f"got {type(value).__name__}")
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.shape[0] != generations:
        raise ValueError(f"{name} as a schedule must have length generations={generations}, "
                         f"got shape {arr.shape}")
    if arr.dtype == object:  # Python ints too large for int64
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in arr):
            raise TypeError(f"{name} must hold integers, got {value!r}")
        too_big = [i for i, v in enumerate(arr) if abs(v) > MAX_INT]
    elif arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise TypeError(f"{name} must hold integers, got {arr.dtype} values")
        too_big = np.flatnonzero(np.abs(arr) > MAX_INT)
    else:
        too_big = np.flatnonzero(arr > MAX_INT)
    if len(too_big):
        i = int(too_big[0])
        raise ValueError(f"{name} must be <= 2**62 (64-bit arithmetic) at every generation, got "
                         f"{arr[i]} at generation {i + 1}")
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
    """A file path that can be written: not empty, not a directory or special file, in an
    existing directory where a file can be created."""
    path = _path(name, path)
    if os.path.isdir(path) or path.endswith(os.sep):
        raise ValueError(f"{name}={path!r} is a directory, expected a file path")
    parent = os.path.dirname(os.path.realpath(path))
    return _writable(name, path, "regular file", os.path.isfile, parent,
                     f"directory {parent!r} does not exist")


def writable_dir(name: str, path) -> str:
    """A directory that exists or can be made, and in which files can be created."""
    path = _path(name, path)
    existing = os.path.realpath(path)
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    return _writable(name, path, "directory", os.path.isdir, existing,
                     f"{existing!r} is not a directory")


def figure_path(name: str, path) -> str:
    """A :func:`writable_path` whose extension names a format matplotlib can write."""
    path = writable_path(name, path)
    from matplotlib.backend_bases import FigureCanvasBase  # heavy: only for figures

    formats = sorted(set(FigureCanvasBase.get_supported_filetypes()) - _UNWRITABLE_FIGURE_FORMATS)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in formats:
        raise ValueError(f"{name}={path!r}: the extension must name a figure format, one of "
                         f"{', '.join('.' + f for f in formats)}")
    return path


def _path(name: str, path) -> str:
    try:
        path = os.fsdecode(path)
    except TypeError:
        raise TypeError(f"{name} must be a path, got {type(path).__name__}") from None
    if not path:
        raise ValueError(f"{name} must be a path, got an empty string")
    return path


def _writable(name: str, path: str, kind: str, is_kind, directory: str, not_dir: str) -> str:
    """``path``, unless it exists and is not a ``kind`` (``is_kind``), or ``directory``, where it
    would be written, is not a directory (``not_dir`` says why) or refuses a new file (probed:
    ``os.access`` trusts root; the probe's OSError becomes a ValueError)."""
    if os.path.lexists(path) and not is_kind(path):
        raise ValueError(f"{name}={path!r} exists and is not a {kind}")
    if not os.path.isdir(directory):
        raise ValueError(f"{name}={path!r}: {not_dir}")
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
            pass
    except OSError as err:
        raise ValueError(f"{name}={path!r}: cannot create files in {directory!r} "
                         f"({err.strerror or err})") from None
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
