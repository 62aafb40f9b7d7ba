"""``collapse-theory simulate gaussian``: output file, summary, argument forwarding, bad input."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_theory import gaussian, metrics
from collapse_theory.cli import main
from collapse_theory.gaussian import GaussianResult


def _load(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def test_simulate_writes_npz_matching_the_library(tmp_path, capsys):
    out = tmp_path / "run.npz"
    sched = [5, 6, 7, 8, 9, 10] * 100  # a schedule of length G = 600 (progress: 20 blocks)
    argv = ["simulate", "gaussian", "--sample-size", ",".join(map(str, sched)), "--generations",
            "600", "--trials", "20", "--estimator", "mle", "--method", "samples", "--seed", "7",
            "--mean", "0.5", "--cov", "2", "--record", "all", "--out", str(out), "--progress"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    z = _load(out)
    assert set(z) == {"generation", "mean", "log_det", "log_diag", "unit_chol", "w2_squared", "config"}
    np.testing.assert_array_equal(z["generation"], np.arange(601))
    assert z["mean"].shape == (20, 601, 1) and z["w2_squared"].shape == (20, 601)
    cfg = json.loads(str(z["config"]))
    assert cfg["estimator"] == "mle" and cfg["method"] == "samples" and cfg["seed"] == 7
    assert cfg["sample_size"] == sched and cfg["dtype"] == "float32" and cfg["w2_key"] == "w2_squared"
    assert {"collapse_theory", "jax", "numpy"} <= set(cfg)

    # Every argument reached the library: the same call gives the same chains.
    ref = gaussian.simulate(jax.random.key(7), sample_size=sched, generations=600, trials=20,
                            estimator="mle", method="samples", mean=0.5, cov=2.0)
    np.testing.assert_array_equal(z["log_det"], np.asarray(ref.log_det))
    np.testing.assert_array_equal(z["mean"], np.asarray(ref.mean))
    res = GaussianResult(*(jnp.asarray(z[k]) for k in GaussianResult._fields))
    np.testing.assert_array_equal(z["w2_squared"],
                                  np.asarray(metrics.w2_squared_to_d0(res, mean=0.5, cov=2.0)))

    # Summary: a header line, the column names and at most 10 subsampled generations, first and
    # last included; D0's row has log det = log σ0² = log 2.
    lines = captured.out.strip().splitlines()
    table = lines[2:-1]
    assert lines[-1] == f"wrote {out}" and 2 <= len(table) <= 10
    assert table[0].split()[0] == "0" and table[-1].split()[0] == "600"
    np.testing.assert_allclose(float(table[0].split()[1]), np.log(2.0), rtol=1e-3)
    assert "generation" in captured.err  # --progress


def test_non_gaussian_data_in_2d_stores_gelbrich_bound_in_float64(tmp_path, capsys):
    out = tmp_path / "t.npz"
    argv = ["simulate", "gaussian", "--dim", "2", "--sample-size", "6", "--generations", "1",
            "--trials", "3", "--data", "laplace", "--cov", "1,0.5,0.5,2", "--x64",
            "--out", str(out)]
    assert main(argv) == 0
    assert jnp.asarray(0.0).dtype == jnp.float32  # --x64 did not leak into the process
    z = _load(out)
    cfg = json.loads(str(z["config"]))
    assert "w2_squared" not in z and cfg["w2_key"] == "w2_squared_gelbrich_lower_bound"
    assert "Gelbrich" in cfg["w2_note"] and cfg["dtype"] == "float64"
    bound = z["w2_squared_gelbrich_lower_bound"]
    assert bound.dtype == np.float64 and bound.shape == (3, 2)  # generations 0 and 1
    assert np.all(bound[:, 1:] > 0) and np.all(bound[:, 0] == 0)
    assert "lower bound (Gelbrich)" in capsys.readouterr().out


@pytest.mark.parametrize("args, word", [
    (["--sample-size", "0"], "sample_size"),  # M < 1 (M ≤ d is a singular fit, allowed)
    (["--sample-size", "2.5"], "--sample-size"),
    (["--sample-size", "10,10"], "sample_size"),  # schedule of the wrong length
    (["--generations", "-1"], "generations"),
    (["--generations", "1e3"], "--generations"),
    (["--trials", "0"], "trials"),
    (["--estimator", "ols"], "--estimator"),
    (["--cov", "1,2,2,1", "--dim", "2"], "cov"),  # not positive definite
    (["--cov", "1,2,3"], "cov"),
    (["--data", "cauchy"], "data"),
    (["--record", "0,99"], "record"),
    (["--seed", "-3"], "seed"),
    (["--out", "/nonexistent-dir/x.npz"], "out"),
])
def test_bad_input_is_one_line_exit_2_before_simulating(args, word, capsys, monkeypatch):
    def fail(*a, **k):
        raise AssertionError("simulate must not run on bad input")

    base = {"--sample-size": "10", "--generations": "5", "--trials": "2"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = ["simulate", "gaussian"] + [x for kv in base.items() for x in kv]
    if word not in ("sample_size", "generations", "trials", "record"):
        monkeypatch.setattr(gaussian, "simulate", fail)  # rejected by the CLI itself
    # (the others are rejected by simulate's own argument checks, before any computation)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and word in err
