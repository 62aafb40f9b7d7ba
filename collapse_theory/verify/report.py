"""Printing and writing a verification run: table rows, ``report.json``, ``report.md``, figures."""

from __future__ import annotations

import json
import math
import os
import platform
import textwrap

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


#: −log10 p beyond this is drawn at the edge of the summary panel (p of order 1e−300 and 0 occur).
_P_CLIP = 20.0


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def _figures(directory: str, results: list[Result]) -> list[str]:
    """``checks.png``: every check on one page.

    Left, a summary of *every* check (one row each): the p-value of the test on the correct
    simulator (circle; green when it passes) and on the negative control (triangle; grey when
    rejected), as −log10 p against the Bonferroni level.  Right, one panel per check that
    recorded a curve (simulation ± 2 SE against the closed form over generations), titled with
    its verdict.  The overall title states the run's outcome.
    """
    if not results:
        return []
    import numpy as np
    from matplotlib.gridspec import GridSpec
    from matplotlib.lines import Line2D

    from ..figures import pyplot, save

    plt = pyplot()
    curved = [r for r in results if r.outcome.curve]
    cols = min(3, max(len(curved), 1))
    rows = max(math.ceil(len(curved) / cols), 1)
    height = max(3.6 * rows, 0.2 * len(results) + 1.6)
    fig = plt.figure(figsize=(7.0 + 4.6 * cols * bool(curved), height))
    grid = GridSpec(rows, 1 + cols * bool(curved), figure=fig,
                    width_ratios=[1.5] + [1.0] * (cols * bool(curved)))

    # The summary of every check.
    ax = fig.add_subplot(grid[:, 0])
    level = results[0].level
    y = np.arange(len(results))[::-1]
    p = np.array([r.outcome.p_value for r in results])
    pc = np.array([r.control_outcome.p_value for r in results])

    def minus_log(v):
        return np.minimum(-np.log10(np.maximum(v, 1e-300)), _P_CLIP)

    ax.axvspan(0, -math.log10(level), color="C2", alpha=0.08, lw=0)
    ax.axvline(-math.log10(level), color="k", lw=0.8, ls="--")
    ax.hlines(y, minus_log(p), minus_log(pc), color="0.8", lw=0.8)
    passed = np.array([r.passed for r in results])
    rejected = np.array([r.control_rejected for r in results])
    ax.scatter(minus_log(p)[passed], y[passed], marker="o", s=22, color="C2", zorder=3)
    ax.scatter(minus_log(p)[~passed], y[~passed], marker="X", s=50, color="C3", zorder=3)
    ax.scatter(minus_log(pc)[rejected], y[rejected], marker="^", s=22, color="0.45", zorder=3)
    ax.scatter(minus_log(pc)[~rejected], y[~rejected], marker="X", s=50, color="C3", zorder=3)
    ax.set_yticks(y, [f"{_mark(r.ok)} {r.check.id}" for r in results], fontsize=7)
    for tick, r in zip(ax.get_yticklabels(), results):
        tick.set_color("k" if r.ok else "C3")
    ax.set_ylim(-0.7, len(results) - 0.3)
    ax.set_xlim(0, _P_CLIP * 1.04)
    ax.set_xlabel(f"−log10 p (beyond {_P_CLIP:g} drawn at {_P_CLIP:g})")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(handles=[
        Line2D([], [], marker="o", ls="", color="C2", label="test p: passes (left of the line)"),
        Line2D([], [], marker="^", ls="", color="0.45",
               label="negative control p: rejected (right of the line)"),
        Line2D([], [], marker="X", ls="", color="C3", label="failed test / control not rejected"),
        Line2D([], [], color="k", ls="--", lw=0.8, label=f"Bonferroni level {level:.2g}")],
        fontsize=7, loc="upper center", bbox_to_anchor=(0.4, -0.9 / height), ncol=2)
    ax.set_title(f"every check ({len(results)}): p of the test and of its control", fontsize=9)

    # The checks that recorded a curve over generations.
    for i, res in enumerate(curved):
        ax = fig.add_subplot(grid[i // cols, 1 + i % cols])
        c = res.outcome.curve
        n, est, se = (np.asarray(c[k], dtype=float) for k in ("n", "estimate", "stderr"))
        ax.fill_between(n, est - 2 * se, est + 2 * se, color="C0", alpha=0.3, lw=0,
                        label="simulation ± 2 SE")
        ax.plot(n, est, "o", color="C0", ms=3)
        ax.plot(n, c["expected"], "-", color="k", lw=1.2, label="closed form")
        if "paper" in c:
            ax.plot(n, c["paper"], "--", color="C3", lw=1, label="paper's (3/2)σ²Σ1/M_i")
        verdict = (f"{_mark(res.passed)} p = {res.outcome.p_value:.2g}; control "
                   f"{'rejected' if res.control_rejected else 'NOT rejected'} "
                   f"(p = {res.control_outcome.p_value:.2g})")
        ax.set(title=f"{textwrap.fill(res.check.title, 64)}\n{verdict}", xlabel=c["xlabel"],
               ylabel=c["ylabel"])
        ax.title.set_fontsize(8)
        ax.title.set_color("k" if res.ok else "C3")
        ax.legend(fontsize=7)

    failed = sum(not r.passed for r in results)
    broken = sum(not r.control_rejected for r in results)
    outcome = ("every check passes and every negative control is rejected"
               if not failed and not broken else
               f"FAILED: {failed} check(s) fail, {broken} control(s) not rejected")
    fig.suptitle(f"collapse_theory verify: {len(results)} checks at family-wise α = "
                 f"{level * len(results):.2g} — {outcome}\nleft: every check; right: the "
                 f"{len(curved)} checks that record a curve over generations", fontsize=12)
    return [save(fig, os.path.join(directory, "checks.png"), rect=(0, 0, 1, 1 - 0.3 / height))]
