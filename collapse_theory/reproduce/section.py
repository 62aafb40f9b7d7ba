"""The parts of a report section: :class:`Row` (the paper beside ours), :class:`Figure` (a file
and the ``collapse-theory figure`` command that draws it), :class:`Section`, the
:class:`Context` a section runs in, and small helpers the sections share."""

from __future__ import annotations

import os
from typing import NamedTuple

import jax
import numpy as np


class Row(NamedTuple):
    """A quantity, the paper's value (text), ours (text) and where the paper's comes from."""

    quantity: str
    paper: str
    ours: str
    source: str


class Figure(NamedTuple):
    """A figure of the report: its file (in the report's folder), caption and command."""

    file: str
    caption: str
    command: str


class Section(NamedTuple):
    """One experiment: ``headline`` is the row of the report's first table."""

    name: str
    title: str
    rows: list
    figures: list
    differs: str
    headline: Row
    texts: list = []


class Context(NamedTuple):
    """Where and how a section runs: ``sizes`` are its entry of :data:`SIZES`."""

    directory: str
    seed: int
    sizes: dict
    progress: bool = False


def key(seed: int, i: int | None = None):
    """``key(seed)``, or ``fold_in(key(seed), i)`` (a figure's ``i``-th curve)."""
    key = jax.random.key(seed)
    return key if i is None else jax.random.fold_in(key, i)


def figure_path(ctx: Context, name: str) -> tuple[str, str]:
    """``(name, its path in the report's folder)``."""
    return name, os.path.join(ctx.directory, name)


def csv(values) -> str:
    """``1,2,3``: a list as a command line option takes it."""
    return ",".join(str(v) for v in values)


def mean_se(values) -> str:
    """``mean ± SE`` of a sample."""
    values = np.asarray(values, np.float64)
    return f"{values.mean():.4g} ± {values.std(ddof=1) / np.sqrt(values.size):.2g}"
