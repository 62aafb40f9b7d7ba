"""Time the package's chains and samplers against numpy and ``jax.random``, side by side.

    python benchmarks/run.py [--quick] [--only NAME,...] [--out FILE] [--png FILE]

Everything runs in this one process.  The rows of a table are timed together: a first call
of each (it compiles), then rounds calling each in turn (3, or 2 with ``--quick``), so that a
slow spell of a shared machine falls on every row of a round alike; rates use the median
seconds (JAX: inputs ready, ``jax.block_until_ready``), and the ratio to the table's
reference row is the median (min–max) of the ratios within a round.  Compile time (first
call minus the median) is reported separately.  One-off rows (the papers' single-chain loops,
``jax.random.multinomial``, the full GMM run, the 2-device child process, the subsample
chain against its 16 loops) are timed on their own, as their notes say.  Rates are
trial-generations per second for chains and elements per second for samplers.  Peak
memory: numpy rows, the ``tracemalloc`` peak of the row; JAX rows, the growth
of the device's ``peak_bytes_in_use`` (GPU) or of the process's maximum resident set size
(CPU: a high-water mark, so a row below an earlier peak shows 0).  See ``baselines.py``.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import resource
import sys
import time
import tracemalloc

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import baselines

from collapse_theory import discrete, gaussian, samplers

GOALS = {  # (table, row, reference row, minimum ratio), from the performance issue
    "cpu": [("gaussian1d", "package: gaussian.simulate (exact)", "numpy: vectorised χ² + normal", 1.5),
            ("discrete", "package: discrete.simulate", "numpy: Generator.multinomial", 1.0),
            ("gaussian10d", "package: exact (Bartlett)", "package: samples (draw and refit)", 10.0),
            ("subsample", "package: gaussian.simulate",
             "Kazdan et al.: numpy loop, one trajectory per seed", 10.0)],
}


def _device_peak():
    stats = jax.local_devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def _max_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def time_numpy(fn, repeats: int):
    """Best wall time of ``fn()`` over ``repeats`` and the tracemalloc peak (bytes)."""
    tracemalloc.start()
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"seconds": best, "compile": None, "peak": peak}


def time_jax(fn, repeats: int):
    """Steady wall time of ``jax.block_until_ready(fn())``, compile time and peak growth."""
    first = first_jax(fn)
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return {"seconds": best, "compile": max(first["first"] - best, 0.0), "peak": first["peak"]}


def first_jax(fn) -> dict:
    """The first call of ``fn`` (it compiles): its seconds and the peak memory growth."""
    dev0, rss0 = _device_peak(), _max_rss()
    t = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t
    dev1 = _device_peak()
    return {"first": first, "peak": (dev1 - dev0) if dev0 is not None else (_max_rss() - rss0)}


def first_numpy(fn) -> dict:
    """One call of ``fn`` under ``tracemalloc``: its peak (bytes)."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"peak": peak}


class Table:
    """Rows of one configuration.  ``timed`` rows are measured together by :meth:`measure`
    (a first call each for compile time and peak memory, then rounds calling each in turn:
    ``baselines.alternated``); ``add`` puts a row measured on its own (one-off runs)."""

    def __init__(self, key: str, title: str, unit: str, reference: str):
        self.key, self.title, self.unit, self.reference = key, title, unit, reference
        self.rows: list[dict] = []

    def add(self, name: str, work: float, timing: dict, note: str = ""):
        row = dict(name=name, work=work, rate=work / timing["seconds"], note=note, **timing)
        self.rows.append(row)
        self._print(row)

    def timed(self, name: str, work: float, fn, note: str = "", numpy: bool = False):
        """A row timed by :meth:`measure`: ``fn`` is JAX (waited for) unless ``numpy``."""
        self.rows.append(dict(name=name, work=work, note=note, fn=fn, numpy=numpy))

    def measure(self, rounds: int):
        """Times the ``timed`` rows in ``rounds`` alternated rounds: rate from the median
        seconds, compile time = first call − median (JAX rows)."""
        todo = [r for r in self.rows if "fn" in r]
        for r in todo:
            r.update((first_numpy if r["numpy"] else first_jax)(r["fn"]))
        times = baselines.alternated({r["name"]: r["fn"] for r in todo}, rounds, warm=False)
        for r in todo:
            r["rounds"] = times[r["name"]]
            r["seconds"] = float(np.median(r["rounds"]))
            r["rate"] = r["work"] / r["seconds"]
            r["compile"] = None if r.pop("numpy") else max(r.pop("first") - r["seconds"], 0.0)
            del r["fn"]
            self._print(r)

    def _print(self, row: dict):
        print(f"  {row['name']:48s} {row['rate']:10.3g} {self.unit}"
              + (f"  (compile {row['compile']:.1f}s)" if row["compile"] is not None else ""),
              flush=True)

    def rate(self, name: str) -> float:
        return self._row(name)["rate"]

    def ratio(self, name: str, ref: str | None = None) -> tuple[float, float, float]:
        """Rate of row ``name`` over row ``ref``'s (default: the table's reference): median
        (min–max) over the rounds of the ratio within a round, when both were timed
        together; else the ratio of their rates."""
        row, ref = self._row(name), self._row(ref or self.reference)
        if "rounds" in row and "rounds" in ref:
            times = {"row": np.asarray(row["rounds"]) / row["work"],
                     "ref": np.asarray(ref["rounds"]) / ref["work"]}
            return baselines.ratio(times, "ref", "row")
        r = row["rate"] / ref["rate"]
        return r, r, r

    def _row(self, name: str) -> dict:
        return next(r for r in self.rows if r["name"] == name)

    def markdown(self) -> str:
        out = [f"### {self.title}", "",
               (f"| implementation | {self.unit} | × {self.reference.split(':')[0]} ref "
                "(min–max) | compile (s) | peak mem (MB) | notes |"),
               "|---|---:|---:|---:|---:|---|"]
        for r in self.rows:
            comp = "" if r["compile"] is None else f"{r['compile']:.1f}"
            mid, lo, hi = self.ratio(r["name"])
            spread = f" ({lo:.2f}–{hi:.2f})" if hi > lo else ""
            out.append(f"| {r['name']} | {r['rate']:.3g} | {mid:.2f}{spread} | {comp} | "
                       f"{r['peak'] / 2 ** 20:.0f} | {r['note']} |")
        return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------
# Chains


def _numpy_note(cfg, trials: int, generations: int) -> str:
    """On a GPU numpy rows keep the CPU sizes (rates are per trial-generation)."""
    return "" if cfg["numpy"] is cfg else f"{trials} trials × {generations} generations"


def bench_gaussian1d(cfg, key, rng):
    m, g, t = 100, cfg["g1"], cfg["t1"]
    tab = Table("gaussian1d", f"1-D Gaussian chain, M = {m}, {t} trials × {g} generations",
                "trial-gen/s", "numpy: vectorised χ² + normal")
    print(tab.title)
    run = lambda: gaussian.simulate(key, sample_size=m, generations=g, trials=t,
                                    record=[g]).log_det
    tab.timed("package: gaussian.simulate (exact)", t * g, run,
              "engine BlockStep: counter-based noise per generation")
    if jax.devices()[0].platform == "cpu" and jax.device_count() == 1:
        import json
        import subprocess

        # The same call in a child process that sees the cores as 2 XLA host devices.
        code = ("import json, resource, time, jax\n"
                "from collapse_theory import gaussian\n"
                f"run = lambda: jax.block_until_ready(gaussian.simulate(jax.random.key(0), "
                f"sample_size={m}, generations={g}, trials={t}, record=[{g}]).log_det)\n"
                "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
                "t0 = time.perf_counter(); run(); first = time.perf_counter() - t0\n"
                "best = float('inf')\n"
                f"for _ in range({cfg['rep']}):\n"
                "    t0 = time.perf_counter(); run(); best = min(best, time.perf_counter() - t0)\n"
                "peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) * 1024\n"
                "print(json.dumps(dict(n=jax.device_count(), seconds=best, "
                "compile=max(first - best, 0.0), peak=peak)))\n")
        flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
        env = dict(os.environ, XLA_FLAGS=flags.strip(), JAX_PLATFORMS="cpu")
        out = json.loads(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                        capture_output=True, text=True).stdout.splitlines()[-1])
        tab.add("package: gaussian.simulate (exact), 2 host devices", t * g,
                {k: out[k] for k in ("seconds", "compile", "peak")},
                f"child process, {out['n']} XLA CPU devices (shard_map per device)")
    f = baselines.gaussian_jax(m, g, t, "package")
    tab.timed("JAX chain, samplers.log_chisquare", t * g, lambda: f(key),
              "bare jit(vmap(scan)), no engine")
    f2 = baselines.gaussian_jax(m, g, t, "jax")
    tab.timed("JAX chain, jax.random.loggamma", t * g, lambda: f2(key))
    tn, gn = cfg["numpy"]["t1"], cfg["numpy"]["g1"]
    tab.timed("numpy: vectorised χ² + normal", tn * gn,
              lambda: baselines.gaussian_numpy(rng, m, gn, tn), numpy=True,
              note=_numpy_note(cfg, tn, gn))
    tab.measure(cfg["rep"])
    gp = cfg["g_paper"]
    tab.add("paper: one chain, sample M and refit", gp,
            time_numpy(lambda: baselines.gaussian_paper(rng, m, gp), 1), f"{gp} generations")
    return tab


def bench_discrete(cfg, key, rng):
    k_cat, m, g, t = 100, 1000, cfg["g2"], cfg["t2"]
    p0 = discrete.zipf(k_cat, 1.0)
    tab = Table("discrete", f"Discrete chain, K = {k_cat} Zipf(1), M = {m}, {t} trials × {g} "
                "generations", "trial-gen/s", "numpy: Generator.multinomial")
    print(tab.title)
    run = lambda: discrete.simulate(key, p0, sample_size=m, generations=g, trials=t,
                                    record=[g]).counts
    tab.timed("package: discrete.simulate", t * g, run, "engine + samplers.multinomial")
    f = baselines.discrete_jax(p0, m, g, t, "package")
    tab.timed("JAX chain, samplers.multinomial", t * g, lambda: f(key))
    tn, gn = cfg["numpy"]["t2"], cfg["numpy"]["g2"]
    tab.timed("numpy: Generator.multinomial", tn * gn,
              lambda: baselines.discrete_numpy(rng, p0, m, gn, tn), numpy=True,
              note=_numpy_note(cfg, tn, gn))
    tab.measure(cfg["rep"])
    t2 = min(t, 2 ** 14)  # slow: 1e4 trial-gen/s on 2 cores
    f2 = baselines.discrete_jax(p0, m, g, t2, "jax")
    tab.add("JAX chain, jax.random.multinomial", t2 * g, time_jax(lambda: f2(key), 1),
            f"float counts; {t2} trials, one repeat, on its own")
    gp = cfg["g_paper"]
    tab.add("paper: one chain, Python loop", gp,
            time_numpy(lambda: baselines.discrete_paper(rng, p0, m, gp), 1), f"{gp} generations")
    return tab


def bench_gaussian10d(cfg, key, rng):
    d, m, g, t = 10, 1000, cfg["g3"], cfg["t3"]
    tab = Table("gaussian10d", f"{d}-D Gaussian chain, M = {m}, {t} trials × {g} generations",
                "trial-gen/s", "package: samples (draw and refit)")
    print(tab.title)
    for method, name in [("exact", "package: exact (Bartlett)"),
                         ("samples", "package: samples (draw and refit)")]:
        run = lambda method=method: gaussian.simulate(
            key, sample_size=m, generations=g, trials=t, dim=d, method=method, record=[g]).log_det
        tab.timed(name, t * g, run)
    tab.measure(cfg["rep"])
    return tab


def bench_subsample(cfg, key, rng):
    """Accumulate-subsample (Kazdan et al. 2024), d = 10 Gaussian, MLE, M = 100: every fit
    draws M points without replacement from the growing pool of all points so far."""
    d, m, g, t = 10, 100, cfg["g4"], cfg["t4"]
    tab = Table("subsample", f"accumulate-subsample, d = {d} Gaussian MLE, M = {m}, "
                f"{t} trials × {g} generations", "trial-gen/s",
                "Kazdan et al.: numpy loop, one trajectory per seed")
    print(tab.title)
    run = lambda: gaussian.simulate(key, sample_size=m, generations=g, trials=t, dim=d,
                                    estimator="mle", method="samples",
                                    policy="accumulate-subsample", record=[g]).log_det
    tab.add("package: gaussian.simulate", t * g, time_jax(run, cfg["rep"]),
            "pool of points per trial, subsample by Floyd's algorithm; best of the repeats")
    reps = 16
    tab.add("Kazdan et al.: numpy loop, one trajectory per seed", reps * g,
            time_numpy(lambda: [baselines.gaussian_subsample_loop(rng, d, m, g)
                                for _ in range(reps)], 1), f"{reps} trajectories")
    return tab


def bench_gmm(cfg, key, rng):
    """The paper's GMM chain (K = 2, 2-D, M = 1000): package vs scikit-learn in a loop.

    Full size is the issue's 1000 trials × 2000 generations, timed once with its compile
    (seconds of minutes), and k-means++ starts (more EM iterations per fit) at 20 generations;
    ``--quick`` times 64 trials × 20 generations.
    """
    from collapse_theory import gmm

    full = cfg["g_paper"] >= 1000  # the full (not --quick) configuration
    m, t, g = 1000, (1000 if full else 64), (2000 if full else 20)
    tab = Table("gmm", f"GMM chain (K = 2, 2-D, M = {m}), {t} trials × {g} generations",
                "trial-gen/s", "paper: sklearn GaussianMixture loop")
    print(tab.title)

    def run(init, gens):
        return lambda: gmm.simulate(key, sample_size=m, generations=gens, trials=t, init=init,
                                    record=[gens]).means

    if full:  # one call: seconds with compile, peak as time_jax measures it
        dev0, rss0, t0 = _device_peak(), _max_rss(), time.perf_counter()
        jax.block_until_ready(run("warm", g)())
        seconds = time.perf_counter() - t0
        peak = (_device_peak() - dev0) if dev0 is not None else (_max_rss() - rss0)
        tab.add("package: gmm.simulate (init=warm)", t * g,
                {"seconds": seconds, "compile": None, "peak": peak}, "one run, compile included")
        tab.add("package: gmm.simulate (init=kmeans++)", t * g // 100,
                time_jax(run("kmeans++", g // 100), 1), f"{g // 100} generations")
    else:
        for init in ("warm", "kmeans++"):
            tab.timed(f"package: gmm.simulate (init={init})", t * g, run(init, g))
        tab.measure(cfg["rep"])
    gp = 20 if full else 5
    tab.add("paper: sklearn GaussianMixture loop", gp,
            time_numpy(lambda: baselines.gmm_paper(rng, m, gp), 1),
            f"one chain, {gp} generations, k-means init each generation")
    return tab


# ------------------------------------------------------------------------------------------
# Samplers alone


def bench_samplers(cfg, key, rng):
    n, n_np = cfg["n"], cfg["numpy"]["n"]
    tabs = []
    zipf = discrete.zipf(100, 1.0)
    # Per-element parameters, every one in BTRS's range (n·min(p, 1 − p) ≥ 10).
    ns = np.random.default_rng(1).integers(200, 2000, n).astype(np.float32)
    ps = np.random.default_rng(2).uniform(0.05, 0.95, n).astype(np.float32)
    ns_j, ps_j = jnp.asarray(ns), jnp.asarray(ps)
    cases = [
        ("chi2", "χ² with 99 degrees of freedom (the 1-D chain at M = 100)", [
            ("package: samplers.chisquare", lambda k: samplers.chisquare(k, 99.0, (n,))),
            ("package: samplers.log_chisquare", lambda k: samplers.log_chisquare(k, 99.0, (n,))),
            ("jax.random.chisquare", lambda k: jax.random.chisquare(k, 99.0, (n,))),
        ], lambda: rng.chisquare(99.0, n_np)),
        ("gamma", "Gamma(0.5)", [
            ("package: samplers.gamma", lambda k: samplers.gamma(k, 0.5, (n,))),
            ("jax.random.gamma", lambda k: jax.random.gamma(k, 0.5, (n,))),
        ], lambda: rng.standard_gamma(0.5, n_np)),
        ("binom_small", "Binomial(1000, 0.005): inversion", [
            ("package: samplers.binomial", lambda k: samplers.binomial(k, 1000, 0.005, (n,))),
            ("jax.random.binomial", lambda k: jax.random.binomial(k, 1000.0, 0.005, (n,))),
        ], lambda: rng.binomial(1000, 0.005, n_np)),
        ("binom_large", "Binomial(1000, 0.3): BTRS", [
            ("package: samplers.binomial", lambda k: samplers.binomial(k, 1000, 0.3, (n,))),
            ("jax.random.binomial", lambda k: jax.random.binomial(k, 1000.0, 0.3, (n,))),
        ], lambda: rng.binomial(1000, 0.3, n_np)),
        ("binom_each", "Binomial(n_i, p_i), n_i in [200, 2000), p_i in [0.05, 0.95): BTRS", [
            ("package: samplers.binomial", samplers.binomial, (ns_j, ps_j)),
            ("jax.random.binomial", jax.random.binomial, (ns_j, ps_j)),
        ], lambda: rng.binomial(ns[:n_np].astype(np.int64), ps[:n_np])),
        ("multinomial", "Multinomial(1000, Zipf K = 100), one per element", [
            ("package: samplers.multinomial (vmap)",
             lambda k: jax.vmap(lambda kk: samplers.multinomial(kk, 1000, zipf))(
                 jax.random.split(k, n // 64))),
            ("jax.random.multinomial", lambda k: jax.random.multinomial(
                k, 1000.0, jnp.asarray(zipf, jnp.float32), shape=(n // 64, 100))),
        ], lambda: rng.multinomial(1000, zipf, size=n_np // 64)),
    ]
    for name, title, jax_rows, numpy_fn in cases:
        count = n // 64 if name == "multinomial" else n
        tab = Table(name, f"{title}, {count} draws", "draws/s", "numpy: Generator")
        print(tab.title)
        for row, fn, *args in jax_rows:  # args: arrays passed to the jitted call, not
            f = jax.jit(fn)                  # folded into it as constants
            args = args[0] if args else ()
            tab.timed(row, count, lambda f=f, a=args: f(key, *a))
        count_np = count * n_np // n
        tab.timed("numpy: Generator", count_np, numpy_fn, numpy=True,
                  note="" if n_np == n else f"{count_np} draws")
        tab.measure(cfg["rep"])
        tabs.append(tab)
    return tabs


# ------------------------------------------------------------------------------------------
# Scaling curves


def scaling_png(path, cfg, key, rng):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reps = 2
    fig, axes = plt.subplots(1, 5, figsize=(22, 4.2))

    def curve(ax, xs, fns, xlabel, title):
        for label, fn in fns:
            rates = []
            for x in xs:
                work, call, is_jax = fn(x)
                timing = time_jax(call, reps) if is_jax else time_numpy(call, reps)
                rates.append(work / timing["seconds"])
            ax.loglog(xs, rates, "o-", label=label)
        ax.set(xlabel=xlabel, ylabel="trial-generations / s", title=title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        print(f"  scaling: {title} done", flush=True)

    def gauss(t, g, m):
        return lambda k=key: gaussian.simulate(k, sample_size=m, generations=g, trials=t,
                                               record=[g]).log_det

    g0, t0 = 100, 2 ** 14
    curve(axes[0], [2 ** 10, 2 ** 12, 2 ** 14, 2 ** 16, 2 ** 18], [
        ("package exact", lambda t: (t * g0, gauss(t, g0, 100), True)),
        ("numpy", lambda t: (t * g0, lambda: baselines.gaussian_numpy(rng, 100, g0, t), False))],
        "trials", "1-D Gaussian, M = 100: trials")
    curve(axes[1], [10, 100, 1000], [
        ("package exact", lambda g: (t0 * g, gauss(t0, g, 100), True)),
        ("numpy", lambda g: (t0 * g, lambda: baselines.gaussian_numpy(rng, 100, g, t0), False))],
        "generations", f"1-D Gaussian, {t0} trials: generations")
    curve(axes[2], [10, 100, 10 ** 4, 10 ** 6], [
        ("package exact", lambda m: (t0 * g0, gauss(t0, g0, m), True)),
        ("numpy", lambda m: (t0 * g0, lambda: baselines.gaussian_numpy(rng, m, g0, t0), False))],
        "M", "1-D Gaussian: sample size M")
    tk, gk = 1024, 10

    def disc(kc):
        p0 = discrete.zipf(kc, 1.0)
        return lambda k=key: discrete.simulate(k, p0, sample_size=1000, generations=gk,
                                               trials=tk, record=[gk]).counts

    curve(axes[3], [10, 100, 1000], [
        ("package", lambda kc: (tk * gk, disc(kc), True)),
        ("numpy", lambda kc: (tk * gk, lambda: baselines.discrete_numpy(
            rng, discrete.zipf(kc, 1.0), 1000, gk, tk), False))],
        "K", "discrete Zipf, M = 1000: categories K")
    td, gd = 256, 10

    def dim(d, method):
        return lambda k=key: gaussian.simulate(k, sample_size=1000, generations=gd, trials=td,
                                               dim=d, method=method, record=[gd]).log_det

    curve(axes[4], [1, 2, 5, 10, 20], [
        ("package exact", lambda d: (td * gd, dim(d, "exact"), True)),
        ("package samples", lambda d: (td * gd, dim(d, "samples"), True))],
        "d", "d-D Gaussian, M = 1000: dimension d")
    fig.suptitle(f"collapse_theory scaling on {_device_name()}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


# ------------------------------------------------------------------------------------------


def _device_name() -> str:
    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"
    return f"{dev.platform.upper()} {dev.device_kind}"


BENCHES = {"gaussian1d": bench_gaussian1d, "discrete": bench_discrete,
           "gaussian10d": bench_gaussian10d, "subsample": bench_subsample, "gmm": bench_gmm,
           "samplers": bench_samplers}


def goals_markdown(tables: dict) -> str:
    out = ["### Goals of the issue", "", "| goal | measured (min–max) | met |", "|---|---:|---|"]
    for key, row, ref, target in GOALS["cpu"]:
        if key not in tables:
            continue
        mid, lo, hi = tables[key].ratio(row, ref)
        out.append(f"| {row} ≥ {target:g}× {ref} | {mid:.2f}× ({lo:.2f}–{hi:.2f}) | "
                   f"{'yes' if mid >= target else 'no'} |")
    if jax.devices()[0].platform == "gpu":
        for key, row, target in [("gaussian1d", "package: gaussian.simulate (exact)", 1e10),
                                 ("discrete", "package: discrete.simulate", 1e8)]:
            rate = tables[key].rate(row)
            out.append(f"| {row} ≥ {target:.0e} trial-gen/s on GPU | {rate:.3g} | "
                       f"{'yes' if rate >= target else 'no'} |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< ~2 minutes on 2 cores)")
    parser.add_argument("--only", default=",".join(BENCHES),
                        help=f"comma-separated tables to run, of {','.join(BENCHES)}")
    parser.add_argument("--out", help="also write the Markdown report to this file")
    parser.add_argument("--png", help="write scaling curves (trials, generations, M, K, d) here")
    args = parser.parse_args(argv)
    only = args.only.split(",")
    unknown = sorted(set(only) - set(BENCHES))
    if unknown:
        parser.error(f"--only: unknown tables {unknown}; choose from {','.join(BENCHES)}")

    gpu = jax.devices()[0].platform != "cpu"
    if args.quick:
        cfg = {"t1": 2 ** 16, "g1": 50, "t2": 4096, "g2": 10, "t3": 256, "g3": 5, "n": 2 ** 18,
               "rep": 2, "g_paper": 200, "t4": 256, "g4": 50}
    else:
        cfg = {"t1": 2 ** 18, "g1": 200, "t2": 2 ** 13, "g2": 20, "t3": 512, "g3": 10,
               "n": 2 ** 21, "rep": 3, "g_paper": 1000, "t4": 1000, "g4": 100}
    cfg["numpy"] = cfg
    if gpu:  # numpy rows keep the CPU sizes
        cfg = dict(cfg, t1=2 ** 22, g1=1000, t2=2 ** 18, g2=100, t3=2 ** 14, g3=20, n=2 ** 24,
                   t4=2 ** 14)
    key = jax.random.key(0)
    rng = np.random.default_rng(0)
    command = "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    header = [f"## {_device_name()}", "",
              (f"`{command.strip()}` on {datetime.date.today().isoformat()}: jax {jax.__version__}, "
               f"numpy {np.__version__}, Python {platform.python_version()}, device "
               f"`{jax.devices()[0]}` ({len(jax.devices())} visible), x64 "
               f"{'on' if jax.config.jax_enable_x64 else 'off'}."), ""]
    print("\n".join(header), flush=True)

    tables = {}
    t0 = time.perf_counter()
    for name in only:
        out = BENCHES[name](cfg, key, rng)
        for tab in out if isinstance(out, list) else [out]:
            tables[tab.key] = tab
    if args.png:
        scaling_png(args.png, cfg, key, rng)
    report = "\n".join(header) + goals_markdown(tables) + "\n" + "\n".join(
        t.markdown() for t in tables.values())
    report += f"\nTotal benchmark time {time.perf_counter() - t0:.0f} s.\n"
    print("\n" + report)
    baselines.save(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
