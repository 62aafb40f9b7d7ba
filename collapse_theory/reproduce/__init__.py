"""``collapse-theory reproduce``: the paper's experiments in one command, side by side with its
numbers (Shumailov et al., "AI models collapse when trained on recursively generated data",
Nature 631, 2024).

:func:`run` runs the sections of :data:`SECTIONS` (discrete resampling, the Gaussian chain, the
GMM, the VAE, the language models, the follow-ups' data policies; :mod:`.exact`, :mod:`.fitted`)
at a scale of :data:`SIZES` and writes ``report.md``, ``report.json``, ``report.html`` and the
figures to one folder (:mod:`.report`).  The paper's numbers are in :mod:`.paper`.
"""

from __future__ import annotations

import os
import platform
import sys
import time

import jax

from .. import __version__, _validate
from ..figures.gmm import PANEL_GENERATIONS
from . import exact, fitted, paper, report
from .section import Context, Row, Section

#: The sections in report order, by the name ``--only`` takes.
SECTIONS = {"discrete": exact.discrete_section, "gaussian": exact.gaussian_section,
            "gmm": fitted.gmm_section, "vae": fitted.vae_section, "lm": fitted.lm_section,
            "policies": exact.policies_section}

#: ``quick``: under 10 minutes on a 2-core CPU.
_QUICK = {
    "discrete": dict(tail=(200, 1.1, 500, 200, 200),
                     hist=(10_000, 10_000, 100_000, (0, 1, 10, 100), 8),
                     survival=(50, 200, 4000), absorption=(50, 3, 400, 4000)),
    "gaussian": dict(drift=((100, 1000, 10_000, 100_000, 10 ** 7), 1000, 500),
                     w2=((10, 100, 1000), (1, 2, 5), 20, 1000, 1000)),
    "gmm": dict(sample_size=1000, generations=2000, trials=8, panel=PANEL_GENERATIONS),
    "vae": dict(epochs=100, generations=10, trials=4, policies=("replace",),
                shown=(0, 1, 5, 10), arch="mlp"),
    "lm": dict(blocks=256, trials=4, generations=10, hist_blocks=128, hist_trials=4,
               transformer=None),
    "policies": dict(generations=100, trials=1000, schedule_generations=1000),
}
#: ``full``: ``quick`` with these sizes changed (the paper's GMM scale and the package's
#: figure defaults).
_FULL_CHANGES = {
    "discrete": dict(hist=(10_000, 10_000, 100_000, (0, 1, 10, 100), 16)),
    "gaussian": dict(drift=((100, 1000, 10_000, 100_000, 10 ** 7), 1000, 2000),
                     w2=((10, 100, 1000), (1, 2, 5), 20, 1000, 2000)),
    "gmm": dict(trials=64),
    "vae": dict(epochs=300, generations=20, policies=("replace", "fresh:0.1"),
                shown=(0, 1, 5, 10, 20)),
    "lm": dict(blocks=1024, trials=8, hist_trials=8, transformer=dict(blocks=64, trials=4)),
}
#: Sizes per scale and section; ``smoke`` only exercises the code (the test suite), its
#: numbers mean nothing.
SIZES = {
    "smoke": {
        "discrete": dict(tail=(50, 1.1, 100, 20, 20), hist=(500, 200, 1000, (0, 1, 5), 2),
                         survival=(50, 20, 200), absorption=(20, 3, 40, 200)),
        "gaussian": dict(drift=((100, 1000), 20, 50), w2=((10, 100), (1, 2), 10, 20, 50)),
        "gmm": dict(sample_size=100, generations=10, trials=2, panel=(0, 5, 10)),
        "vae": dict(epochs=2, generations=2, trials=1, policies=("replace",), shown=(0, 1, 2),
                    arch="linear"),
        "lm": dict(blocks=16, trials=1, generations=2, hist_blocks=16, hist_trials=1,
                   transformer=None),
        "policies": dict(generations=10, trials=50, schedule_generations=20),
    },
    "quick": _QUICK,
    "full": {name: {**sizes, **_FULL_CHANGES.get(name, {})} for name, sizes in _QUICK.items()},
}

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
