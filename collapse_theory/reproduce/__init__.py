"""``collapse-theory reproduce``: the paper's experiments in one command, side by side with its
numbers (Shumailov et al., "AI models collapse when trained on recursively generated data",
Nature 631, 2024).

:func:`run` runs the sections of :data:`~.sections.SECTIONS` (discrete resampling, the Gaussian
chain, the GMM, the VAE, the language models, the follow-ups' data policies) at a scale of
:data:`~.sections.SIZES` and writes ``report.md``, ``report.json``, ``report.html`` and the
figures to one folder (:mod:`.report`).  The paper's numbers are in :mod:`.paper`.
"""

from __future__ import annotations

import os
import platform
import sys
import time

import jax

from .. import __version__, _validate
from . import paper, report
from .sections import SECTIONS, SIZES, Context, Row, Section

__all__ = ["SECTIONS", "SIZES", "Row", "Section", "paper", "report", "run", "select"]


def select(only) -> list[str]:
    """The section names ``only`` names (a comma list, or ``None`` for all), in report order;
    ``ValueError`` naming the valid ones for an unknown name."""
    if only is None:
        return list(SECTIONS)
    names = [n.strip() for n in str(only).split(",") if n.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown or not names:
        raise ValueError(f"only must name sections among {', '.join(SECTIONS)} (comma list), "
                         f"got {only!r}")
    return [n for n in SECTIONS if n in names]


def run(directory, *, scale: str = "quick", only=None, seed: int = 0, progress: bool = False,
        out=sys.stdout, command: str | None = None) -> list[Section]:
    """Run the sections ``only`` names at ``scale`` (``"smoke"``, ``"quick"``, ``"full"``) with
    ``seed`` and write the report to ``directory`` (created if missing); print one line per
    section to ``out``; return the sections."""
    scale = _validate.choice("scale", scale, tuple(SIZES))
    seed = _validate.seed(seed)
    names = select(only)
    directory = _validate.writable_dir("directory", directory)
    os.makedirs(directory, exist_ok=True)
    sections, seconds, start = [], {}, time.perf_counter()
    for name in names:
        began = time.perf_counter()
        ctx = Context(directory, seed, SIZES[scale][name], progress)
        sections.append(SECTIONS[name](ctx))
        seconds[name] = time.perf_counter() - began
        if out is not None:
            print(f"{sections[-1].title}: {seconds[name]:.0f} s", file=out, flush=True)
    meta = {"command": command or f"collapse-theory reproduce --scale {scale} --seed {seed}",
            "scale": scale, "seed": seed, "sections": names, "seconds": seconds,
            "total_seconds": time.perf_counter() - start, "package": __version__,
            "jax": jax.__version__, "python": platform.python_version(),
            "device": f"{jax.devices()[0].platform} ({os.cpu_count()} cores)"}
    paths = report.write(directory, sections, meta)
    if out is not None:
        print(f"wrote {', '.join(paths)}", file=out)
    return sections
