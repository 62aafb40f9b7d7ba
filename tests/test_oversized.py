"""Oversized requests are refused by an estimate before any work (issue 16, section 1): every
family's simulate, ``ct.simulate``/``ct.summarize`` and the CLI, with a ``ValueError`` naming
the estimate, the limit and the way out; ``memory_limit=`` raises the limit.

The machine's memory is pinned to 16 GiB (``engine.physical_memory``) so that what is refused
does not depend on the machine running the tests, and nothing may be compiled before a refusal:
a case that slipped through fails at once instead of running out of memory."""

import re
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import collapse_theory as ct
from collapse_theory import discrete, engine, gaussian, gmm, kde, regression
from collapse_theory.cli import main

KEY = jax.random.key(0)
GiB = 2 ** 30
#: Refusals come from shapes alone, before any chain is compiled: the first call of a path in a
#: process also pays JAX's one-time tracing of the family (up to 1.4 s on a loaded 2-core
#: machine), a repeated call only the checks (milliseconds).  Records that cannot fit even at
#: 4 bytes a value (10**7 generations, every one recorded) are refused from the counts alone,
#: before anything generations-long is built (0.01-0.2 ms; was 0.06-0.3 s idle, 4.5 s loaded,
#: for the schedule and batch sizes built first): ``COUNTS``.  The issue's runs took 90-100 s,
#: then crashed.
FIRST, FAST = 3.0, 1.0
COUNTS = (0.5, 0.1)


def _sample(key, params, n):
    mu, var = params
    return mu + jnp.sqrt(var) * jax.random.normal(key, (n,))


def _fit(x, w):
    mu = jnp.sum(w * x) / jnp.sum(w)
    return mu, jnp.sum(w * (x - mu) ** 2) / jnp.sum(w)


MINE = ct.Family(_sample, _fit, name="mine")


def _summarize(**kw):
    kw.setdefault("record", None)
    return ct.summarize(KEY, MINE, (0.0, 1.0), statistics=lambda p: {"var": p[1]},
                        sample_size=kw.pop("sample_size", 10), **kw)


def _gaussian_summary(**kw):
    kw.setdefault("record", None)
    return gaussian.simulate_summary(KEY, sample_size=kw.pop("sample_size", 10), **kw)


#: Every public simulate path, called with ``sample_size`` 10 unless given.
RECORDING = {
    "gaussian": lambda **kw: gaussian.simulate(KEY, sample_size=kw.pop("sample_size", 10), **kw),
    "gaussian-chain": lambda **kw: gaussian.simulate(  # 2-D: the chain path, not the BlockStep
        KEY, sample_size=kw.pop("sample_size", 10), dim=2, **kw),
    "discrete": lambda **kw: discrete.simulate(KEY, [0.5, 0.5],
                                               sample_size=kw.pop("sample_size", 10), **kw),
    "gmm": lambda **kw: gmm.simulate(KEY, sample_size=kw.pop("sample_size", 10), **kw),
    "kde": lambda **kw: kde.simulate(KEY, sample_size=kw.pop("sample_size", 10), **kw),
    "regression": lambda **kw: regression.simulate(KEY, rows=kw.pop("sample_size", 10), dim=2,
                                                   **kw),
    "ct.simulate": lambda **kw: ct.simulate(KEY, MINE, (0.0, 1.0),
                                            sample_size=kw.pop("sample_size", 10), **kw),
}
SUMMARIES = {"gaussian.simulate_summary": _gaussian_summary, "ct.summarize": _summarize}
ALL = {**RECORDING, **SUMMARIES}


@pytest.fixture(autouse=True)
def machine(monkeypatch):
    """A 16 GiB machine without accelerator; compiling a chain is an error (refusals come first)."""
    monkeypatch.setattr(engine, "physical_memory", lambda: 16 * GiB)
    monkeypatch.setattr(engine, "device_memory", lambda: None)


@pytest.fixture
def no_work(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a chain was compiled before the request was refused")

    monkeypatch.setattr(engine, "_compiled", refuse)


def _refused(fn, match, bounds=(FIRST, FAST), **kw):
    """The refusal's message; timed on the first call (``FIRST``) and a repeat (``FAST``)."""
    for bound in bounds:
        t0 = time.perf_counter()
        with pytest.raises(ValueError) as info:
            fn(**kw)
        elapsed = time.perf_counter() - t0
        msg = str(info.value)
        assert re.search(match, msg), msg
        assert elapsed < bound, f"refused after {elapsed:.2f} s: {msg}"
    return msg


def _names_the_way_out(msg):
    assert re.search(r"needs (about|at least) [\d.e+-]+ GiB \(\d+ bytes\)", msg), msg  # estimate
    assert "16 GiB limit (this machine's physical memory)" in msg, msg  # the limit
    for way in ("record='log'", "fewer trials", "chunk_size", "ct.summarize", "memory_limit="):
        assert way in msg, (way, msg)


@pytest.mark.parametrize("name", sorted(RECORDING))
def test_a_billion_trials_recorded_are_refused(name, no_work):
    """Was: 90 s of work, 10.8 GB, then std::bad_alloc and SIGABRT."""
    msg = _refused(RECORDING[name], r"records: 1000000000 trials x 1[01] recorded generations",
                   trials=10 ** 9, generations=10, record=None)
    _names_the_way_out(msg)


@pytest.mark.parametrize("name", sorted(ALL))
def test_ten_million_generations_all_recorded_are_refused(name, no_work):
    """Was: simulate returned (asynchronous dispatch), then reading log_det aborted."""
    what = (r"summaries: 1000000[01] recorded generations x \(4096 kept values"
            if name in SUMMARIES else r"records: 1000 trials x 1000000[01] recorded generations")
    msg = _refused(ALL[name], what, bounds=COUNTS, generations=10 ** 7, trials=1000,
                   record=None)
    _names_the_way_out(msg)


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("trials", [2 ** 32, 10 ** 30])
def test_trials_beyond_32_bit_indices_are_refused(name, trials, no_work):
    """Was: ~100 s and GBs of work, then OverflowError ... out of bounds for uint32."""
    _refused(ALL[name], rf"trials must be in \[1, 4294967295\] \(trials are numbered by 32-bit "
             rf"indices\), got {trials}", trials=trials, generations=10, record="log")


@pytest.mark.parametrize("name", sorted(ALL))
def test_sample_size_beyond_64_bits_is_refused(name, no_work):
    """Was: numpy's OverflowError."""
    param = "rows" if name == "regression" else "sample_size"
    _refused(ALL[name], rf"{param} must be in \[\d, 2\*\*62\] \(64-bit arithmetic\), got 10{{30}}",
             sample_size=10 ** 30, generations=10, trials=10, record="log")


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("generations", [10 ** 30, 2 ** 31 - 1])
def test_generations_beyond_32_bit_counters_are_refused(name, generations, no_work):
    """Was: numpy's "Maximum allowed dimension exceeded", without the parameter's name."""
    _refused(ALL[name], rf"generations must be in \[0, 2147483646\] \(32-bit generation "
             rf"counters\), got {generations}", generations=generations, trials=10, record="log")


@pytest.mark.parametrize("name", sorted(ALL))
def test_generations_whose_inputs_alone_do_not_fit_are_refused(name, no_work):
    """2**31 − 2 generations, only log-spaced ones recorded: the per-generation inputs alone
    (schedule, batch sizes, slots) would take 256 GiB; refused before the schedule exists."""
    msg = _refused(ALL[name], r"needs about 256 GiB \(274877906816 bytes\) of host memory for "
                   r"its per-generation inputs "
                   r"alone \(2147483646 generations x 128 bytes\), more than the 16 GiB limit "
                   r"\(this machine's physical memory\): run fewer generations, or raise "
                   r"memory_limit=", generations=2 ** 31 - 2, trials=10, record="log")
    assert "memory_limit=" in msg


def test_the_default_limit_is_the_machines_physical_memory(monkeypatch, no_work):
    monkeypatch.undo()  # the real physical_memory
    limit = engine.physical_memory()
    assert limit == engine.resolve_memory_limit()[0]
    msg = _refused(RECORDING["gaussian"], "this machine's physical memory",
                   trials=2 ** 32 - 1, generations=10 ** 6, record=None)
    assert f"{limit / GiB:.3g} GiB limit" in msg


def _estimate(msg) -> int:
    return int(re.search(r"needs (about|at least) [\d.e+-]+ GiB \((\d+) bytes\)", msg).group(2))


@pytest.mark.parametrize("name", sorted(ALL))
def test_memory_limit_raises_the_limit(name, monkeypatch):
    """A 128 KiB machine refuses a small run; memory_limit equal to the estimate (in bytes, in
    the message) lets it run, one byte less refuses it, naming memory_limit as the limit."""
    monkeypatch.setattr(engine, "physical_memory", lambda: 2 ** 17)
    kw = dict(generations=60, trials=300, record=None)
    msg = _refused(ALL[name], r"limit \(this machine's physical memory\)", **kw)
    need = _estimate(msg)
    if "needs at least" in msg:  # the records' lower bound (engine.check_records) came first
        msg = _refused(ALL[name], r"needs about .* limit \(memory_limit\)", memory_limit=need,
                       **kw)
        assert _estimate(msg) > need
        need = _estimate(msg)
    below = _refused(ALL[name], r"limit \(memory_limit\)", memory_limit=need - 1, **kw)
    assert _estimate(below) == need
    res = ALL[name](memory_limit=need, **kw)
    assert int(np.asarray(res.generation)[-1]) == 60
    if name in SUMMARIES:
        assert res.count == 300


@pytest.mark.parametrize("value, error", [(0, ValueError), (-5, ValueError), (1.5e9, TypeError),
                                          (True, TypeError), ("1G", TypeError)])
def test_memory_limit_is_checked(value, error, no_work):
    with pytest.raises(error, match="memory_limit"):
        gaussian.simulate(KEY, sample_size=10, generations=3, trials=4, memory_limit=value)


def test_accelerator_memory_is_checked_per_device(monkeypatch, no_work):
    """On a GPU/TPU the records stay on the devices until read: a run that fits the host but
    not a device's memory (``memory_stats()['bytes_limit']``) is refused."""
    monkeypatch.setattr(engine, "device_memory", lambda: 2 ** 20)
    msg = _refused(RECORDING["ct.simulate"], r"of accelerator memory per device .*records: 1000 "
                   r"trials x 1001 recorded generations.*limit \(the accelerator's memory",
                   generations=1000, trials=1000, record=None)
    assert "record='log'" in msg and "memory_limit=" in msg


def test_device_memory_is_none_on_cpu(monkeypatch):
    monkeypatch.undo()
    if jax.local_devices()[0].platform == "cpu":
        assert engine.device_memory() is None
    else:
        assert engine.device_memory() > 0


@pytest.mark.parametrize("name", sorted(ALL))
def test_a_normal_run_is_unaffected(name):
    kw = dict(generations=5, trials=16, record=None)
    a = ALL[name](**kw)
    b = ALL[name](memory_limit=2 ** 62, **kw)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("argv, match", [
    (["gaussian", "--sample-size", "10", "--generations", "10", "--trials", str(10 ** 9),
      "--record", "all"], "1000000000 trials x 11 recorded generations"),
    (["gaussian", "--sample-size", "10", "--generations", str(10 ** 7), "--trials", "1000",
      "--record", "all"], "1000 trials x 10000001 recorded generations"),
    (["discrete", "--probs", "0.5,0.5", "--sample-size", "10", "--generations", "10",
      "--trials", str(10 ** 9), "--record", "all"], "1000000000 trials x 10 recorded"),
    (["gmm", "--sample-size", "10", "--generations", str(10 ** 7), "--trials", "1000",
      "--record", "all"], "1000 trials x 10000001 recorded generations"),
    (["kde", "--sample-size", "10", "--generations", "10", "--trials", str(10 ** 9),
      "--record", "all"], "1000000000 trials x 11 recorded generations"),
    (["gaussian", "--sample-size", "10", "--generations", str(2 ** 31 - 2), "--trials", "10"],
     "per-generation inputs alone"),
])
def test_cli_surfaces_the_refusal_in_one_line(argv, match, capsys, no_work):
    t0 = time.perf_counter()
    code = main(["simulate", *argv])
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert match in err and "GiB" in err and "16 GiB limit" in err, err
    assert elapsed < FIRST, elapsed  # the CLI's first call


@pytest.mark.parametrize("name", ["kde", "gmm", "ct.simulate"])
def test_accumulated_pools_too_large_are_refused_before_allocation(name, no_work):
    """Under accumulate a family holding points keeps all Σ M_g = 10**10 past points per trial
    (40 GB): the KDE built them eagerly (jnp.zeros of its centres: RESOURCE_EXHAUSTED, or the
    machine's memory), now refused before generation 0 is built (the chain from its shapes)."""
    msg = _refused(RECORDING[name], r"needs (about|at least) [\d.e+-]+ GiB \(\d+ bytes\) of "
                   r"memory .*16 GiB limit \(this machine's physical memory\)",
                   sample_size=10 ** 4, generations=10 ** 6, trials=10, record="log",
                   policy="accumulate")
    assert "memory_limit=" in msg


def test_discrete_without_generations_is_checked_too(no_work):
    """generations=0 runs no chain, but returns (trials, K) first passages: was an eager 34 GB
    jnp.broadcast_to for 2**32 − 1 trials (RESOURCE_EXHAUSTED)."""
    msg = _refused(RECORDING["discrete"], r"records: 4294967295 trials x 1 recorded generations "
                   r"x 12 bytes", generations=0, trials=2 ** 32 - 1)
    _names_the_way_out(msg)
    assert discrete.simulate(KEY, [0.5, 0.5], sample_size=10, generations=0,
                             trials=3).extinction.shape == (3, 2)


@pytest.mark.parametrize("name", sorted(ALL))
def test_record_all_is_every_generation_as_in_the_cli(name):
    """``record="all"`` (the CLI's word) is ``record=None`` in every family; an unknown word is
    refused with the valid values, "all" among them."""
    kw = dict(generations=4, trials=8)
    every, alls = ALL[name](record=None, **kw), ALL[name](record="all", **kw)
    gens = np.asarray(alls.generation)
    assert gens.tolist() == (list(range(1, 5)) if name == "discrete" else list(range(5)))
    for x, y in zip(jax.tree.leaves(every), jax.tree.leaves(alls)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    with pytest.raises(ValueError, match=r"record must be one of 'all', 'log'; got 'every'"):
        ALL[name](record="every", **kw)
