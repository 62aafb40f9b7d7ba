"""Rates of the 1-D Gaussian and discrete chains against the trials per call, on the default device.

    python benchmarks/device_scale.py [--quick] [--plain] [--flags XLA_FLAGS ...] [--out FILE]

A GPU runs a chain's generations as a sequence of kernels, and the discrete chain's walk also
reads loop predicates back to the host, so its rate depends on how many trials share each
kernel.  This script measures that: each chain at its default ``chunk_size`` for several trial
counts (issue 14's goal 6 rows: the 1-D chain at M = 100 over 1000 generations, the discrete
chain at K = 100 Zipf(1), M = 1000 over 100 generations), and the bare vmapped
``samplers.multinomial`` for one generation, all compiled with ``engine.compiler_options()``.
``--plain`` reruns every row in a child process without those options, and each ``--flags``
value in a child process under those ``XLA_FLAGS``.  Rates are trial-generations per second,
best of the repeats after a first (compiling) call; ``sha`` (SHA-256 of the output, 8 hex
digits) shows whether a variant changed any bit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baselines import alternated, save  # noqa: E402

from collapse_theory import discrete, engine, gaussian, samplers  # noqa: E402


def timed(fn, reps: int) -> tuple[float, float, str]:
    """(first call, best of ``reps`` later calls) in seconds, and the output's hash."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    best = min(alternated({"fn": fn}, reps, warm=False)["fn"])
    return first, best, hashlib.sha256(np.asarray(out).tobytes()).hexdigest()[:8]


def rows(quick: bool, discrete_only: bool):
    """``(name, trials, generations, fn)`` of every measured row."""
    key = jax.random.key(0)
    p0 = discrete.zipf(100, 1.0)
    scale = 2 ** -6 if quick else 1
    out = []
    for t in (2 ** 18, 2 ** 21):
        t = int(t * scale)
        out.append(("discrete K = 100, discrete.simulate", t, 100, lambda t=t: discrete.simulate(
            key, p0, sample_size=1000, generations=100, trials=t, record=[100]).counts))
    probs = jnp.asarray(p0, jnp.float32)
    t = int(2 ** 21 * scale)
    keys = jax.random.split(key, t)
    draw = jax.jit(jax.vmap(lambda k: samplers.multinomial(k, 1000, probs)),
                   compiler_options=engine.compiler_options())
    out.append(("one vmapped samplers.multinomial", t, 1, lambda: draw(keys)))
    if not discrete_only:
        for t in (2 ** 22, 2 ** 23, 2 ** 24):
            t = int(t * scale)
            out.append(("1-D M = 100, gaussian.simulate", t, 1000, lambda t=t: gaussian.simulate(
                key, sample_size=100, generations=1000, trials=t, record=[1000]).log_det))
    return out


def measure(quick: bool, discrete_only: bool, label: str) -> list[dict]:
    out = []
    for name, t, g, fn in rows(quick, discrete_only):
        first, best, sha = timed(fn, 1 if t * g >= 2 ** 27 else 2)
        r = dict(row=name, flags=label, trials=t, generations=g, seconds=best,
                 compile=max(first - best, 0.0), rate=t * g / best, sha=sha)
        print(json.dumps(r), flush=True)
        out.append(r)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1/64 of the trials (a dry run)")
    parser.add_argument("--flags", action="append", default=[],
                        help="XLA_FLAGS for a child process that reruns the discrete rows")
    parser.add_argument("--plain", action="store_true",
                        help="rerun every row in a child process without the engine's options")
    parser.add_argument("--child", choices=["flags", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help="also write the Markdown table to this file")
    args = parser.parse_args(argv)
    if args.child == "plain":
        engine.compiler_options = dict  # the chains compiled without the engine's options
    label = {None: " ".join(engine.compiler_options()) or "(none)", "plain": "(none: --plain)",
             "flags": f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')}"}[args.child]
    print(f"# {jax.devices()[0].device_kind} ({jax.default_backend()}), jax {jax.__version__}",
          flush=True)
    results = measure(args.quick, args.child == "flags", label)
    if args.child:
        return 0
    children = [("plain", "")] * args.plain + [("flags", f) for f in args.flags]
    for child, flags in children:
        cmd = [sys.executable, __file__, f"--child={child}"] + (["--quick"] if args.quick else [])
        env = dict(os.environ, XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " " + flags).strip())
        with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) as proc:
            for line in proc.stdout:
                print(line, end="", flush=True)
                if line.startswith("{"):
                    results.append(json.loads(line))
    table = ["| row | options | trials × generations | s | compile s | trial-gen/s | sha |",
             "|---|---|---:|---:|---:|---:|---|"]
    table += [f"| {r['row']} | {r['flags']} | {r['trials']} × {r['generations']} | "
              f"{r['seconds']:.3f} | {r['compile']:.1f} | {r['rate']:.3g} | {r['sha']} |"
              for r in results]
    report = "\n".join(table) + "\n"
    print(report)
    save(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
