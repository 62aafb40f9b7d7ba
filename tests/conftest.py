"""Fixtures shared by the test modules."""

import contextlib
import json
import os
import signal
import subprocess
import sys

import pytest


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled programs after each test module.  A pytest-xdist worker runs hundreds
    of modules in one process; JAX keeps about 4096 compiled programs alive (measured: 5000 tiny
    jitted functions held, ``/proc/self/maps`` plateaued at 25105 lines from the 4096th on) and
    each XLA:CPU executable of ours holds about 18 mappings (300 small programs: 427 -> 5961
    lines), past Linux's ``vm.max_map_count`` (65530).  Without this, XLA's compiler died of a
    segmentation fault late in the suite (CI of stop 23 and a local rerun: ``test_verify``)."""
    yield
    import jax

    jax.clear_caches()


@pytest.fixture
def on_host_devices():
    """``run(code, n)``: run ``code`` in a child Python whose JAX sees ``n`` XLA CPU devices and
    return the JSON its last line prints (the device count is fixed when JAX starts)."""
    def run(code: str, n: int):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n}",
                   JAX_PLATFORMS="cpu")
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    return run


@pytest.fixture
def sigint_default():
    """A ``preexec_fn`` for a child that must get SIGINT: a suite started in the background by
    a shell (``nohup … &``) ignores SIGINT and children inherit that, so it resets the default
    there.  ``None`` otherwise, as ``preexec_fn`` makes ``Popen`` fork, which JAX warns about."""
    if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:
        return None
    return lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def peak_rss():
    """``peak(code)``: run ``code`` in a child Python and return its peak resident memory in
    KiB (``ru_maxrss`` on Linux), so that a run's memory is measured apart from the suite's."""
    def peak(code: str) -> int:
        probe = "; import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        proc = subprocess.run([sys.executable, "-c", code + probe], capture_output=True,
                              text=True, check=True)
        return int(proc.stdout.strip().splitlines()[-1])

    return peak


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a chain or a verification check is run before the input is refused."""
    from collapse_theory import engine, verify

    def refuse(*args, **kwargs):
        raise AssertionError("work was done before the input was refused")

    monkeypatch.setattr(engine, "run_chain", refuse)
    monkeypatch.setattr(engine, "summarize_chain", refuse)
    monkeypatch.setattr(verify, "run_checks", refuse)


pytest_plugins = ["pytester"]


@pytest.fixture
def backend_compiles():
    """``with backend_compiles() as count:`` counts XLA compilations in the block (a listener
    on the event JAX records once per XLA compilation, not for a cache hit; ``count[0]``)."""
    import jax

    @contextlib.contextmanager
    def counting():
        count = [0]

        def listener(event, duration, **_):
            count[0] += event == "/jax/core/compile/backend_compile_duration"

        jax.monitoring.register_event_duration_secs_listener(listener)
        try:
            yield count
        finally:
            jax.monitoring.unregister_event_duration_listener(listener)

    return counting
