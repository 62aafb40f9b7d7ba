"""The chain engine: recording, reproducibility across trials/chunks/devices, validation."""

import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import collapse_theory as ct
from collapse_theory import engine, gaussian, kde


def _walk_step(k, s, x):
    return s + x * jax.random.normal(k)


def _walk(key, *, trials, generations=40, record=None, chunk_size=None, progress=False):
    """A Gaussian random walk: state_g = state_{g-1} + N(0, 1)."""
    return engine.run_chain(
        key, state0=jnp.zeros(()), step=_walk_step,
        observe=lambda s: s, generations=generations, trials=trials,
        xs=jnp.ones(generations), record=record, chunk_size=chunk_size, progress=progress)[:2]


def _counter_draw(seeds, g, x):
    """Counter-based N(0, 1) noise of generations ``g`` for every trial, times ``x``."""
    from collapse_theory.rng import normal_at

    return normal_at(seeds[None], g[:, None], 0, x.dtype) * x[:, None]


def _block_walk(key, *, trials, generations=40, rows=3, record=None, chunk_size=None,
                progress=False):
    """The random walk as a BlockStep: noise drawn ``rows`` generations at a time."""
    step = engine.BlockStep(_counter_draw, lambda s, noise, x: s + noise, rows)
    return engine.run_chain(
        key, state0=jnp.zeros(()), step=step, observe=lambda s: s, generations=generations,
        trials=trials, xs=jnp.ones(generations), record=record, chunk_size=chunk_size,
        progress=progress)[:2]


def test_record_generations():
    assert engine.record_generations(None, 3).tolist() == [0, 1, 2, 3]
    assert engine.record_generations("all", 3).tolist() == [0, 1, 2, 3]
    assert engine.record_generations([3, 1, 1], 5).tolist() == [1, 3]
    log = engine.record_generations("log", 1000)
    assert log[0] == 0 and log[-1] == 1000 and np.all(np.diff(log) > 0)
    assert 25 <= log.size <= 40  # ten per decade over three decades
    with pytest.raises(ValueError, match=r"record generations must lie in \[0, generations=5\]"):
        engine.record_generations([6], 5)
    with pytest.raises(ValueError, match="record must be one of 'all', 'log'; got 'every'"):
        engine.record_generations("every", 5)
    with pytest.raises(TypeError, match="integer generations"):
        engine.record_generations([1.5], 5)


def test_trial_depends_only_on_key_and_index():
    key = jax.random.key(7)
    _, full = _walk(key, trials=10)
    _, few = _walk(key, trials=3)
    _, chunked = _walk(key, trials=10, chunk_size=4)
    _, blocks = _walk(key, trials=10, generations=40, progress=True)
    np.testing.assert_array_equal(few, full[:3])
    np.testing.assert_array_equal(chunked, full)
    np.testing.assert_array_equal(blocks, full)
    _, other = _walk(jax.random.key(8), trials=3)
    assert not np.array_equal(other, full[:3])


def test_block_step_trial_depends_only_on_key_and_index():
    """A BlockStep's trials are the same whatever the batch, the chunks or the progress blocks."""
    key = jax.random.key(7)
    gens, full = _block_walk(key, trials=48, generations=600)
    assert gens.tolist() == list(range(601)) and full.shape == (48, 601)
    np.testing.assert_array_equal(full[:, 0], 0.0)
    np.testing.assert_array_equal(_block_walk(key, trials=3, generations=600)[1], full[:3])
    np.testing.assert_array_equal(_block_walk(key, trials=48, generations=600, chunk_size=16)[1],
                                  full)
    np.testing.assert_array_equal(_block_walk(key, trials=48, generations=600,
                                              progress=True)[1], full)
    # Other draw sizes give the same noise up to the rounding of differently fused code.
    np.testing.assert_allclose(_block_walk(key, trials=48, generations=600, rows=1)[1], full,
                               rtol=1e-5, atol=1e-4)
    sub_gens, sub = _block_walk(key, trials=48, generations=600, record="log")
    np.testing.assert_array_equal(sub, full[:, sub_gens])
    assert not np.array_equal(_block_walk(jax.random.key(8), trials=3)[1], full[:3, :41])


def test_block_step_padding_leaves_the_last_state():
    """600 generations in draws of 7 (86 draws of 7, so 2 padded past G): ``final`` reads
    generation G's state, the last record, not a state two generations further on."""
    step = engine.BlockStep(_counter_draw, lambda s, noise, x: s + noise, 7)
    run = engine.run_chain(jax.random.key(7), state0=jnp.zeros(()), step=step,
                           observe=lambda s: s, generations=600, trials=13, xs=jnp.ones(600),
                           record=[599, 600], final=lambda s: s)
    np.testing.assert_array_equal(run.final, run.records[:, 1])
    assert not np.array_equal(run.final, run.records[:, 0])


def test_block_step_runs_in_blocks_of_one_length(monkeypatch):
    """A long BlockStep run whose draws have no divisor in range (613 generations in draws of
    2: 307 draws, prime; blocks of at most 22 draws) is padded to blocks of one length (one
    compilation), with the records and last state of one block."""
    lengths = []
    compiled = engine._compiled

    def spy(*args):
        start, block = compiled(*args)
        return start, lambda *a: lengths.append(a[4].shape[0]) or block(*a)

    def run():
        step = engine.BlockStep(_counter_draw, lambda s, noise, x: s + noise, 2)
        return engine.run_chain(jax.random.key(2), state0=jnp.zeros(()), step=step,
                                observe=lambda s: s, generations=613, trials=8,
                                xs=jnp.ones(613), final=lambda s: s)

    one = run()
    monkeypatch.setattr(engine, "_compiled", spy)
    monkeypatch.setattr(engine, "BLOCK_BYTES", 8 * 12 * 44)  # 8 trials x 12 bytes x 44 gens
    blocks = run()
    assert len(lengths) > 10 and len(set(lengths)) == 1 and lengths[0] <= 44, lengths
    np.testing.assert_array_equal(blocks.records, one.records)
    np.testing.assert_array_equal(blocks.final, one.records[:, -1])


def test_block_step_noise_is_the_counter_based_normal():
    """Trial t's increment at generation g is N(0, 1) from its seed's counter (g, 0), i.i.d.
    over generations: the walk at g = 100 has variance 100."""
    _, walk = _block_walk(jax.random.key(0), trials=20_000, generations=100, record=[100])
    d = np.asarray(walk[:, 1], np.float64)
    d = d - d.mean()
    s2 = d.var(ddof=1)
    # z of s² with SE √((m₄ − s⁴)/T) (CLT for the mean of the i.i.d. (x − μ)²; ≈ 1 here).
    se = np.sqrt((np.mean(d ** 4) - s2 ** 2) / d.size)
    assert abs(s2 - 100) / se < 5
    # Control: a walk whose steps had variance 1.1 (z ≈ 10) is rejected.
    assert abs(s2 - 110) / se >= 5


def test_recording_subset_matches_full_record():
    key = jax.random.key(1)
    gens, full = _walk(key, trials=5, generations=1000)
    sub_gens, sub = _walk(key, trials=5, generations=1000, record="log")
    np.testing.assert_array_equal(sub, full[:, sub_gens])
    assert gens.tolist() == list(range(1001))


def test_long_runs_run_in_bounded_blocks_with_the_same_results(monkeypatch):
    """Without progress a long run still runs in blocks of bounded work (Ctrl-C acts between
    them), each waited for but the last, and its results — records, and the last state that
    ``final`` and first passages read (the last block is shorter, never padded past G) — are
    those of one block, bit for bit."""
    from collapse_theory import discrete

    def run(block_bytes, **kw):
        monkeypatch.setattr(engine, "BLOCK_BYTES", block_bytes)
        waited = []
        monkeypatch.setattr(jax, "block_until_ready", lambda x: waited.append(1) or x)
        res = discrete.simulate(jax.random.key(3), [0.5, 0.5], sample_size=100,
                                generations=301, trials=37, record="log", **kw)
        return res, len(waited)

    one, waits_one = run(2 ** 62)
    blocks, waits = run(1 << 14)  # blocks of 4 generations: 301 = 75 x 4 + 1
    assert waits_one == 0 and waits > 10
    np.testing.assert_array_equal(np.asarray(blocks.counts), np.asarray(one.counts))
    for a, b in ((blocks.fixation, one.fixation), (blocks.extinction, one.extinction)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    fix = np.asarray(one.fixation)
    assert fix.max() <= 301 and 0 < np.sum(fix > 250) and np.sum(fix < 0) > 0  # late passages
    with_progress, _ = run(2 ** 62, progress=True)
    np.testing.assert_array_equal(np.asarray(with_progress.fixation), fix)
    # The last state is generation G's, not that of generations padded past it: a walk's
    # ``final`` is its last record, in blocks of 7 generations (a chunk of 8 float32 trials
    # touches 8 x (2 x 4 + 4) bytes a generation; 53 = 7 x 7 + 4, prime) as in one.
    for block_bytes in (7 * 96, 2 ** 62):
        monkeypatch.setattr(engine, "BLOCK_BYTES", block_bytes)
        run = engine.run_chain(jax.random.key(4), state0=jnp.zeros(()), step=_walk_step,
                               observe=lambda s: s, generations=53, trials=5,
                               xs=jnp.ones(53), final=lambda s: s)
        np.testing.assert_array_equal(run.final, run.records[:, -1])
        np.testing.assert_array_equal(run.records, _walk(jax.random.key(4), trials=5,
                                                         generations=53)[1])


def test_every_generation_is_recorded_in_spans_bit_for_bit(monkeypatch):
    """A plain step that records every generation writes its records ``span`` generations at
    a time (``engine.MAX_SPAN``): a trial-major leaf (12 float32 a trial) and a
    generation-major one (a scalar), in 3 blocks of 4 spans of 5 generations, in one block of
    spans of 30, and one generation at a time give the same records and last state."""
    spans = []
    compiled = engine._compiled
    monkeypatch.setattr(engine, "_compiled", lambda *a: spans.append(a[-1]) or compiled(*a))

    def step(k, s, x):
        a, b = jax.random.normal(k, (2,))
        return s[0] + x * a, s[1] + jnp.arange(12.0) * b

    def run(max_span, block_bytes):
        monkeypatch.setattr(engine, "MAX_SPAN", max_span)
        monkeypatch.setattr(engine, "BLOCK_BYTES", block_bytes)
        return engine.run_chain(jax.random.key(5), state0=(jnp.zeros(()), jnp.zeros(12)),
                                step=step, observe=lambda s: s, generations=60, trials=13,
                                xs=jnp.ones(60), final=lambda s: s)

    # A chunk of 16 trials touches 16 x (2 x 52 + 52) bytes a generation: blocks of 20.
    one = run(1, 20 * 16 * 156)
    for max_span, block_bytes in ((8, 20 * 16 * 156), (32, 2 ** 62)):
        spanned = run(max_span, block_bytes)
        for a, b in zip(jax.tree.leaves((spanned.records, spanned.final)),
                        jax.tree.leaves((one.records, one.final))):
            np.testing.assert_array_equal(a, b)
    assert spans == [1, 5, 30]
    assert one.records[1].shape == (13, 61, 12) and np.all(np.diff(one.records[0], axis=1) != 0)


def test_ctrl_c_in_the_api_acts_within_a_block(sigint_default):
    """A SIGINT to a long API call without progress (as in a Jupyter kernel), sent once the
    compiled run is under way, raises KeyboardInterrupt within seconds, not after the whole
    run (minutes: it was one compiled block)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    code = textwrap.dedent("""
        import jax
        from collapse_theory import engine, gaussian

        compiled = engine._compiled

        def spy(*args):  # says "running" once the first block is compiled and dispatched
            start, block = compiled(*args)

            def block_spy(*a):
                out = block(*a)
                print("running", flush=True)
                return out

            return start, block_spy

        engine._compiled = spy
        try:
            gaussian.simulate(jax.random.key(0), sample_size=10, generations=2_000_000,
                              trials=2000, record="log").log_det.block_until_ready()
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "JAX_PLATFORMS": "cpu"},
                            preexec_fn=sigint_default)
    try:
        assert proc.stdout.readline() == b"running\n", proc.communicate()
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        t0 = time.perf_counter()
        out, err = proc.communicate(timeout=60)
        latency = time.perf_counter() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert out.decode().splitlines()[-1] == "interrupted", err.decode()[-2000:]
    assert latency < 8, latency


def test_long_run_reports_progress(capfd):
    _walk(jax.random.key(0), trials=2, generations=2000, progress=True)
    err = capfd.readouterr().err
    assert "generation 2000/2000" in err and "elapsed" in err


def test_gaussian_identical_on_one_and_four_devices(on_host_devices):
    """Trials are sharded over devices; results must be bit-identical to a single device."""
    code = textwrap.dedent("""
        import json, jax, numpy as np
        from collapse_theory import gaussian
        out = {"n": jax.device_count()}
        for dim in (1, 2):  # 1-D: a BlockStep (each device draws for its own trials)
            r = gaussian.simulate(jax.random.key(3), sample_size=5, generations=30, trials=10,
                                  dim=dim)
            out[f"log_det{dim}"] = np.asarray(r.log_det).tolist()
            out[f"mean{dim}"] = np.asarray(r.mean).tolist()
        print(json.dumps(out))
    """)
    out = {n: on_host_devices(code, n) for n in (1, 4)}
    assert out[1]["n"] == 1 and out[4]["n"] == 4
    for name in ("log_det1", "mean1", "log_det2", "mean2"):
        assert out[1][name] == out[4][name], name


def test_gaussian_same_key_same_result_any_trials_and_chunks():
    key = jax.random.key(11)
    for dim, method in [(1, "exact"), (3, "exact"), (2, "samples")]:
        a = gaussian.simulate(key, sample_size=6, generations=25, trials=9, dim=dim, method=method)
        b = gaussian.simulate(key, sample_size=6, generations=25, trials=4, dim=dim, method=method,
                              chunk_size=3)  # padded to 8 per chunk
        np.testing.assert_array_equal(a.log_det[:4], b.log_det)
        np.testing.assert_array_equal(a.mean[:4], b.mean)


def test_shape_of_follows_x64():
    """``engine.shape_of`` memoises shapes, but a function's float constants trace to float64
    under x64 and to float32 without it: the same function and arguments must give each mode's
    dtype, in either order (a stale float64 entry made x64-off chains allocate float64 pools)."""
    def draw(k):
        return jax.random.normal(k, (2,)) * 1.0

    key = jax.random.key(0)
    with jax.enable_x64(True):
        assert engine.shape_of(draw, key).dtype == jnp.float64
    with jax.enable_x64(False):
        assert engine.shape_of(draw, key).dtype == jnp.float32
    with jax.enable_x64(True):
        assert engine.shape_of(draw, key).dtype == jnp.float64


def test_float_sums_do_not_depend_on_the_batch():
    """Trial ``i`` of a fit that sums floats over its sample is the same for any batch: a
    user's family (M = 50), the KDE chain (M = 20) and the drawn 3-D Gaussian (M = 8) over
    301 trials, 257, 8 and chunks of 64.  XLA:CPU hands a reduction over a few thousand
    elements in all to a YNNPACK kernel that adds in another order; the engine compiles with
    ``engine.compiler_options()``
    (:data:`engine.BATCH_INVARIANT`).  Negative control: the same row sums jitted without it
    differ between a batch of 8 and one of 304 (this configuration crosses that threshold)."""
    if jax.default_backend() != "cpu" or not engine.compiler_options():
        pytest.skip("XLA:CPU's YNNPACK fusion only")

    x = np.random.default_rng(0).normal(size=(304, 50)).astype(np.float32)
    sums = lambda **kw: jax.jit(lambda a: jnp.sum(a * a, axis=1), **kw)
    assert np.any(np.asarray(sums()(x))[:8] != np.asarray(sums()(x[:8])))  # the control
    fixed = sums(compiler_options=engine.compiler_options())
    np.testing.assert_array_equal(np.asarray(fixed(x))[:8], np.asarray(fixed(x[:8])))

    def sample(key, p, n):
        return p[0] + jnp.exp(p[1] / 2) * jax.random.normal(key, (n,))

    def fit(x, w):
        mu = jnp.sum(w * x) / jnp.sum(w)
        return mu, jnp.log(jnp.sum(w * (x - mu) ** 2) / (jnp.sum(w) - 1))

    fam = ct.Family(sample, fit)
    runs = {
        "family": lambda t, c: ct.simulate(jax.random.key(5), fam, (0.0, 0.0), sample_size=50,
                                           generations=8, trials=t, record=[8],
                                           chunk_size=c).params[1],
        "kde": lambda t, c: kde.simulate(jax.random.key(5), sample_size=20, generations=6,
                                         trials=t, record=[6], chunk_size=c).log_variance,
        "drawn 3-D Gaussian": lambda t, c: gaussian.simulate(
            jax.random.key(5), sample_size=8, generations=6, trials=t, dim=3, method="samples",
            record=[6], chunk_size=c).unit_chol,
    }
    for name, run in runs.items():
        full = np.asarray(run(301, None))
        for t, c in [(301, 64), (257, None), (8, None)]:
            np.testing.assert_array_equal(np.asarray(run(t, c)), full[:t],
                                          err_msg=f"{name}, {t} trials, chunk_size {c}")
