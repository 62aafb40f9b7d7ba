"""Helpers shared by the family CLIs: argument parsing, seeds, precision, tables and .npz output."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np

from .. import _io, _validate
from ..policies import POLICIES, parse, rounding_problem


def int_list(text: str) -> int | list[int]:
    """argparse type: ``"100"`` → 100, ``"100,200,400"`` → [100, 200, 400]."""
    values = [int(v) for v in text.split(",")]
    return values if "," in text else values[0]


def float_list(text: str) -> list[float]:
    """argparse type: ``"1,0.5"`` → [1.0, 0.5]."""
    return [float(v) for v in text.split(",")]


def record(text: str):
    """argparse type for ``--record``: ``all`` → None, ``log``, or generations ``"0,10,100"``."""
    if text in ("all", "log"):
        return None if text == "all" else text
    return [int(v) for v in text.split(",")]


_BYTES = re.compile(r"(\d+\.?\d*|\.\d+)\s*([KMGT]?)(i?B)?", re.IGNORECASE)


def byte_count(text: str) -> int:
    """argparse type for ``--memory-limit``: bytes, with an optional suffix K, M, G or T (powers of
    1024, an optional ``B``/``iB`` after it): ``8G`` → 8589934592, ``512M``, ``1.5G``, ``1000``."""
    match = _BYTES.fullmatch(text.strip())
    value = int(Fraction(match.group(1)) * 1024 ** " KMGT".index(match.group(2).upper() or " ")) \
        if match else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of bytes >= 1 such as 8G, 512M or "
                                         f"1000000, got {text!r}")
    return value


def _memory_help() -> str:
    from ..engine import physical_memory

    limit = physical_memory()
    machine = f"{limit / 2 ** 30:.3g} GiB" if limit else "unknown here: no limit"
    return ("bytes a run may use, with an optional suffix K, M, G or T (powers of 1024), e.g. 8G "
            "or 512M; a run estimated to need more is refused before any work (default: this "
            f"machine's memory, {machine})")


_SAMPLE_SIZE_HELP = "samples per fit: one M, or a schedule M_1,...,M_G (required)"


def simulate_parser(commands, name: str, func: Callable, *, help: str,
                    description: str) -> argparse.ArgumentParser:
    """The ``simulate <name>`` parser, which runs ``func(args)``."""
    parser = commands["simulate"].add_parser(name, help=help, description=description)
    parser.set_defaults(func=func)
    return parser


def figure_parser(commands, name: str, func: Callable, *, help: str,
                  description: str | None = None, **defaults) -> argparse.ArgumentParser:
    """The ``figure <name>`` parser with its required ``--out``, which runs ``func(args)``
    (``defaults``: more parsed values it sets)."""
    parser = commands["figure"].add_parser(name, help=help, description=description or help)
    parser.add_argument("--out", required=True, metavar="FILE.png",
                        help="write the figure here; the extension names the format (.png, .pdf, "
                             ".svg, ...); written whole or not at all (required)")
    add_progress_arguments(parser)
    parser.set_defaults(func=func, **defaults)
    return parser


def add_progress_arguments(parser: argparse.ArgumentParser) -> None:
    """``--progress`` and ``--memory-limit`` (:func:`run_options`): every command that runs
    chains has them."""
    parser.add_argument("--progress", action="store_true",
                        help="report progress on stderr (default: when stderr is a terminal)")
    parser.add_argument("--memory-limit", type=byte_count, default=None, metavar="BYTES",
                        help=_memory_help())


def run_options(args: argparse.Namespace) -> dict:
    """``progress`` and ``memory_limit`` for the API's simulate and figure functions."""
    return dict(progress=show_progress(args.progress), memory_limit=args.memory_limit)


def add_chain_arguments(parser: argparse.ArgumentParser, *, trials: int = 1000,
                        sample_size: int | None = None, sample_size_help: str = _SAMPLE_SIZE_HELP
                        ) -> None:
    """``--sample-size`` (required unless it has a default), ``--generations`` and ``--trials``."""
    parser.add_argument("--sample-size", type=int_list, required=sample_size is None,
                        default=sample_size, metavar="M[,M2,...]", help=sample_size_help)
    parser.add_argument("--generations", type=int, required=True,
                        help="number of fits G (required)")
    parser.add_argument("--trials", type=int, default=trials,
                        help="independent chains (default %(default)s)")


def add_chunk_size(parser: argparse.ArgumentParser) -> None:
    """``--chunk-size`` (checked by :func:`check_chunk_size`)."""
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="trials per compiled chunk (default: as many as the memory budget "
                             "allows)")


def check_chunk_size(args: argparse.Namespace) -> None:
    """Refuse a ``--chunk-size`` below 1 before any work (for commands whose simulation does
    work, e.g. trains a classifier, before the engine would check it)."""
    if args.chunk_size is not None:
        _validate.integer("chunk_size", args.chunk_size, minimum=1)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options common to every ``simulate`` command: ``--record --seed --out --x64 --progress
    --memory-limit``."""
    parser.add_argument("--record", type=record, default="log", metavar="{all,log,G1,G2,...}",
                        help="recorded generations: all, log (0 and ten per decade; default) "
                             "or a comma list")
    parser.add_argument("--seed", type=int, default=0,
                        help="PRNG seed in [0, 2**32 - 1] (default %(default)s)")
    parser.add_argument("--out", metavar="FILE.npz",
                        help="write the records and the config here, whole or not at all "
                             "(default: nothing is written)")
    parser.add_argument("--x64", action="store_true",
                        help="simulate in float64 (default float32)")
    add_progress_arguments(parser)


def add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    """``--policy --gamma --lam`` (see :mod:`collapse_theory.policies`), in the API's grammar:
    ``--policy fresh:0.1`` is ``--policy fresh --gamma 0.1``.  A chain that supports fewer
    policies rejects the others when it parses them."""
    parser.add_argument("--policy", default="replace", metavar="POLICY",
                        help="data each fit sees, as in the API: " + ", ".join(POLICIES[:3])
                             + ", fresh:γ or fixed:λ (or fresh --gamma γ, fixed --lam λ); "
                             "default %(default)s")
    parser.add_argument("--gamma", type=float, default=None, metavar="γ",
                        help="fresh: fraction of each generation drawn from D0, in [0, 1] "
                             "(default: none; fresh needs it, or write fresh:γ)")
    parser.add_argument("--lam", type=float, default=None, metavar="λ",
                        help="fixed: synthetic points per fit, as a multiple of M (>= 0; "
                             "default: none; fixed needs it, or write fixed:λ)")


def policy(args: argparse.Namespace):
    """The validated :class:`~collapse_theory.policies.Policy` of ``--policy --gamma --lam``,
    refused, as in the API, when its parameter rounds away under ``--sample-size``."""
    pol = parse(args.policy, gamma=args.gamma, lam=args.lam)
    refuse_rounding(pol, args.sample_size, args.generations)
    return pol


def refuse_rounding(pol, sample_size, generations: int) -> None:
    """``ValueError`` if ``pol``'s parameter rounds to zero points at some fit of the schedule
    (:func:`collapse_theory.policies.rounding_problem`)."""
    if isinstance(sample_size, int):  # every fit alike: one is enough (no G-long array)
        m = np.array([_validate.integer("sample_size", sample_size, minimum=1)] * (generations > 0))
    else:
        m = _validate.schedule("sample_size", sample_size, generations, minimum=1)
    problem = rounding_problem(pol, m)
    if problem:
        raise ValueError(problem)


def policy_list(text: str, sample_size: int, generations: int) -> list[str]:
    """The policies of a comma list such as ``replace,fresh:0.1`` (``--policies``), each
    validated by :func:`~collapse_theory.policies.parse` and :func:`refuse_rounding` and
    written as it would print."""
    pols = [parse(t.strip()) for t in text.split(",")]
    for pol in pols:
        refuse_rounding(pol, sample_size, generations)
    return [str(pol) for pol in pols]


def key_from_seed(seed):
    """``jax.random.key(seed)`` for a seed in ``[0, 2**32)``."""
    import jax

    return jax.random.key(_validate.seed(seed))


def precision(x64: bool):
    """Context in which JAX computes in float64 if ``x64`` (the global setting is left alone)."""
    import jax

    return jax.enable_x64(True) if x64 else contextlib.nullcontext()


_progress = {"shown": False}


def show_progress(requested: bool) -> bool:
    """Whether a run reports progress: ``--progress``, or stderr is a terminal."""
    shown = bool(requested) or sys.stderr.isatty()
    _progress["shown"] = shown
    return shown


def progress_shown(*, reset: bool = False) -> bool:
    """Whether this command has started a run that reports progress on stderr (``reset``:
    forget it, at the start of a command)."""
    shown = _progress["shown"]
    if reset:
        _progress["shown"] = False
    return shown


def check_sizes(args: argparse.Namespace) -> None:
    """Refuse counts the engine cannot hold before any work: ``trials``, ``generations`` and
    ``seed`` (32 bits) and every other integer argument (which must fit 64-bit arithmetic)."""
    if getattr(args, "seed", None) is not None:
        _validate.seed(args.seed)
    for name, value in vars(args).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, int) and not isinstance(v, bool):
                _validate.integer(name, v)
    if getattr(args, "trials", None) is not None:
        _validate.trial_count(args.trials)
    gens = getattr(args, "generations", None)
    for g in gens if isinstance(gens, list) else [] if gens is None else [gens]:
        _validate.generation_count(g)


def check_out(path):
    """Validate ``--out`` before any work is done (``None`` when no output was asked for)."""
    return None if path is None else _validate.writable_path("out", path)


def check_figure_out(path):
    """Validate a figure's ``--out``: writable, with an extension matplotlib can write."""
    return _validate.figure_path("out", path)


def write_figure(path: str, draw: Callable, **kwargs) -> None:
    """``draw(path, **kwargs)`` (a figure function: it writes ``path`` atomically)."""
    draw(path, **kwargs)
    print(f"wrote {path}")


def config(args: argparse.Namespace, **extra) -> dict:
    """All parsed arguments plus package, jax and numpy versions and ``extra`` entries."""
    import jax

    from .. import __version__

    cfg = {k: v for k, v in vars(args).items() if k != "func"}
    cfg.update(collapse_theory=__version__, jax=jax.__version__, numpy=np.__version__, **extra)
    return cfg


def write_npz(path: str, arrays: dict, cfg: dict) -> None:
    """Write ``arrays`` and ``config`` (a JSON string of ``cfg``) to exactly ``path``, atomically."""
    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()},
                     config=np.asarray(json.dumps(cfg, default=str)))

    _io.atomic_write(path, write)


def subsample(n: int, max_rows: int = 10) -> np.ndarray:
    """At most ``max_rows`` indices of ``range(n)``, spread evenly, first and last included."""
    return np.unique(np.round(np.linspace(0, n - 1, min(n, max_rows))).astype(int))


def print_table(header: Sequence[str], rows: Sequence[Sequence], file=None) -> None:
    """Print a right-aligned table; floats as ``%.4g``."""
    cells = [[f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v) for v in row]
             for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    out = file or sys.stdout
    for line in [list(header)] + cells:
        print("  ".join(c.rjust(w) for c, w in zip(line, widths)), file=out)
