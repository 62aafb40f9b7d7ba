"""Printing and writing a verification run: table rows, ``report.json``, ``report.md``, figures."""

from __future__ import annotations

import json
import math
import os
import platform

from .. import _io
from .registry import Result

HEADER = (f"{'check':<46} {'closed form':>12} {'estimate ± SE':>24} {'stat':>9} {'p':>9} "
          f"{'pass':>4}  {'control p':>9} {'rejected':>8}")


def _num(x: float) -> str:
    return f"{x:.5g}" if math.isfinite(x) else str(x)


def row(res: Result) -> str:
    """One line of the live table."""
    o, c = res.outcome, res.control_outcome
    est = f"{_num(o.estimate)} ± {o.stderr:.2g}"
    return (f"{res.check.id:<46} {_num(o.expected):>12} {est:>24} {o.statistic:>9.3g} "
            f"{o.p_value:>9.2g} {'yes' if res.passed else 'NO':>4}  {c.p_value:>9.2g} "
            f"{'yes' if res.control_rejected else 'NO':>8}")


def summary(results: list[Result], alpha: float) -> dict:
    failed = [r.check.id for r in results if not r.passed]
    broken = [r.check.id for r in results if not r.control_rejected]
    return {"checks": len(results), "alpha_familywise": alpha,
            "level_per_check": results[0].level if results else None,
            "failed": failed, "controls_not_rejected": broken,
            "ok": not failed and not broken}


def write(directory: str, results: list[Result], *, alpha: float, seed: int, quick: bool,
          extra: dict | None = None) -> list[str]:
    """Write ``report.json``, ``report.md`` and the figures; return the paths written."""
    import jax

    from .. import __version__

    os.makedirs(directory, exist_ok=True)
    meta = {"package": __version__, "jax": jax.__version__, "python": platform.python_version(),
            "device": str(jax.devices()[0]), "seed": seed, "quick": quick,
            "x64": bool(jax.config.jax_enable_x64)}
    doc = {"summary": summary(results, alpha), "meta": meta,
           "checks": [r.as_dict() for r in results]} | (extra or {})
    paths = [os.path.join(directory, "report.json"), os.path.join(directory, "report.md")]
    _io.write_text(paths[0], json.dumps(doc, indent=2, default=float))
    figures = _figures(directory, results)
    _io.write_text(paths[1], _markdown(doc, figures))
    return paths + figures


def _markdown(doc: dict, figures: list[str]) -> str:
    s, m = doc["summary"], doc["meta"]
    lines = [
        "# collapse_theory verification report", "",
        f"{s['checks']} checks, family-wise false-failure rate α = {s['alpha_familywise']} "
        f"(Bonferroni: each test at level {s['level_per_check']:.3g}); seed {m['seed']}, "
        f"{'quick' if m['quick'] else 'full'} run, jax {m['jax']} on {m['device']}.", "",
        f"**{'All checks pass and every negative control is rejected.' if s['ok'] else 'FAILED'}**",
        "",
        "| check | source | closed form | value | estimate ± SE | test (tolerance) | statistic | p | "
        "pass | control | control p | rejected |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in doc["checks"]:
        lines.append(
            f"| {c['title']} | {c['source']} | {c['formula']} | {_num(c['expected'])} | "
            f"{_num(c['estimate'])} ± {c['stderr']:.2g} | {c['test']} ({c['tolerance']}) | "
            f"{c['statistic']:.3g} | {c['p_value']:.2g} | {'yes' if c['passed'] else '**NO**'} | "
            f"{c['control']} | {c['control_p_value']:.2g} | "
            f"{'yes' if c['control_rejected'] else '**NO**'} |")
    lines += ["", *[f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in figures], ""]
    return "\n".join(lines)


def _figures(directory: str, results: list[Result]) -> list[str]:
    """One panel per check that recorded a curve: simulation ± 2 SE against the closed form."""
    curved = [r for r in results if r.outcome.curve]
    if not curved:
        return []
    import numpy as np

    from ..figures import pyplot, save

    plt = pyplot()

    cols = min(3, len(curved))
    rows = math.ceil(len(curved) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    for ax, res in zip(axes.flat, curved):
        c = res.outcome.curve
        n, est, se = (np.asarray(c[k], dtype=float) for k in ("n", "estimate", "stderr"))
        ax.fill_between(n, est - 2 * se, est + 2 * se, color="C0", alpha=0.3, lw=0,
                        label="simulation ± 2 SE")
        ax.plot(n, est, "o", color="C0", ms=3)
        ax.plot(n, c["expected"], "-", color="k", lw=1.2, label="closed form")
        if "paper" in c:
            ax.plot(n, c["paper"], "--", color="C3", lw=1, label="paper's (3/2)σ²Σ1/M_i")
        ax.set(title=res.check.title, xlabel=c["xlabel"], ylabel=c["ylabel"])
        ax.title.set_fontsize(8.5)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(curved):]:
        ax.axis("off")
    return [save(fig, os.path.join(directory, "checks.png"))]
