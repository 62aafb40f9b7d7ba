"""Two processes joined by ``jax.distributed`` on localhost (CPU collectives through gloo) give
the one-process results, bit for bit, gathered by ``process_allgather`` (issue 14)."""

import json
import os
import socket
import subprocess
import sys
import textwrap

CODE = textwrap.dedent("""
    import json, sys
    import jax
    pid, n, port = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    if n > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=n,
                                   process_id=pid)
    import numpy as np
    from jax.experimental.multihost_utils import process_allgather
    from collapse_theory import discrete, gaussian
    get = lambda a: np.asarray(process_allgather(a, tiled=True), np.float64).tolist()
    g = gaussian.simulate(jax.random.key(1), sample_size=5, generations=30, trials=14,
                          record=[0, 30])
    g13 = gaussian.simulate(jax.random.key(1), sample_size=5, generations=30, trials=13,
                            record=[30])
    d = discrete.simulate(jax.random.key(8), [0.5, 0.3, 0.15, 0.05], sample_size=25,
                          generations=40, trials=301, record=[40])
    s = gaussian.simulate_summary(jax.random.key(2), sample_size=4, generations=20, trials=301,
                                  keep=50, record=[5, 20], chunk_size=100)
    summary = [s.count] + [np.asarray(leaf, np.float64).tolist() for leaf in
                           jax.tree.leaves((s.mean, s.variance, s.minimum, s.maximum, s.sample))]
    print(json.dumps({"processes": jax.process_count(), "local": jax.local_device_count(),
                      "global": not d.counts.is_fully_addressable,
                      "log_det": get(g.log_det), "mean": get(g.mean),
                      "odd": get(g13.log_det), "counts": get(d.counts), "summary": summary}))
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(n: int, devices: int = 1) -> list[dict]:
    """The outputs of ``n`` processes with ``devices`` CPU devices each."""
    port = _free_port()
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    procs = [subprocess.Popen([sys.executable, "-c", CODE, str(i), str(n), str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(n)]
    out = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=300)
            assert p.returncode == 0, stderr[-2000:]
            out.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for p in procs:
            p.kill()
    return out


def test_two_processes_give_the_one_process_results():
    """Records equal one process's; a streaming summary equals one process's on two devices
    (the same per-device parts merged in the same order), its count and kept sample one
    device's too (the moments' merge order differs there)."""
    (one,), (one_two_devices,), two = _run(1), _run(1, devices=2), _run(2)
    assert one["processes"] == 1 and not one["global"]
    assert one_two_devices["summary"][0] == one["summary"][0] == 301
    for o in two:  # a global array over both processes' devices, gathered the same in each
        assert o["processes"] == 2 and o["local"] == 1 and o["global"]
        for name in ("log_det", "mean", "odd", "counts"):
            assert o[name] == one[name], name
        assert o["summary"] == one_two_devices["summary"]
        assert o["summary"][-2:] == one["summary"][-2:]  # the kept sample of both statistics
