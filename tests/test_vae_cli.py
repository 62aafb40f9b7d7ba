"""``collapse-theory simulate vae``, the VAE figure commands (a tiny VAE: MLP, 2 latents, one
epoch, 200 samples per fit, 2 trials, 2 generations) and the figure functions on a fake result."""

import json
from typing import NamedTuple

import numpy as np
import pytest

from collapse_theory import cli
from collapse_theory.cli import main
from collapse_theory.figures import vae as figures

TINY = ["--arch", "mlp", "--widths", "16", "--latent", "2", "--epochs", "1", "--batch", "64",
        "--sample-size", "200"]
SIM = ["simulate", "vae", "--generations", "2", "--trials", "2", *TINY]


@pytest.fixture(autouse=True)
def _vae_commands(monkeypatch):
    """Register the vae commands whether or not ``cli._MODULES`` lists them yet."""
    monkeypatch.setattr(cli, "_MODULES", tuple(dict.fromkeys(cli._MODULES + ("vae",))))


class Fake(NamedTuple):
    """A result shaped like ``vae.simulate``'s: trials × recorded generations."""

    generation: np.ndarray
    latent_mean: np.ndarray
    latent_std: np.ndarray
    elbo: np.ndarray
    class_entropy: np.ndarray
    class_counts: np.ndarray
    mmd: np.ndarray
    samples: np.ndarray
    size: np.ndarray

    @property
    def latent_std_mean(self):
        return self.latent_std.mean(-1)


def fake(trials=3, generations=(0, 1, 2, 5), points=50, latent=3, shrink=0.8, seed=0) -> Fake:
    """Latent means shrinking by ``shrink`` per generation; no ELBO at generation 0."""
    rng = np.random.default_rng(seed)
    g = np.asarray(generations)
    mean = rng.normal(size=(trials, g.size, points, latent)) * shrink ** g[:, None, None]
    elbo = -30.0 - g + rng.normal(size=(trials, g.size))
    elbo[:, g == 0] = np.nan
    counts = rng.multinomial(points, np.full(10, 0.1), size=(trials, g.size)).astype(float)
    p = counts / points
    entropy = -np.sum(p * np.log(np.where(p > 0, p, 1.0)), -1)
    return Fake(g, mean, mean.std(2, ddof=1), elbo, entropy, counts,
                0.01 * g + rng.uniform(-1e-3, 1e-3, (trials, g.size)),
                rng.uniform(size=(trials, g.size, 16, 8, 8)), np.full(g.size, 200))


def test_figures_on_a_fake_result(tmp_path):
    res = fake()
    for name, draw in [("s.png", lambda p: figures.samples(p, res, trial=2, generations=(0, 5))),
                       ("l.png", lambda p: figures.latents(p, res)),
                       ("l1.png", lambda p: figures.latents(p, res, trial=1, generations=[0, 2])),
                       ("m.png", lambda p: figures.metrics(
                           p, {"replace": res, "fresh:0.1": fake(shrink=0.95, seed=1)}))]:
        path = str(tmp_path / name)
        assert draw(path) == path and (tmp_path / name).stat().st_size > 10_000


@pytest.mark.parametrize("call, error, message", [
    (lambda p, r: figures.samples(p, r, generations=(0, 3)), ValueError,
     r"generations \[3\] were not recorded \(recorded: 0, 1, 2, 5\)"),
    (lambda p, r: figures.samples(p, r, trial=3, generations=[0]), ValueError,
     "trial must be <= 2"),
    (lambda p, r: figures.samples(p, r, generations=5), TypeError, "sequence of integers"),
    (lambda p, r: figures.latents(p, r, generations=[]), ValueError, "at least one"),
    (lambda p, r: figures.metrics(p, {}), ValueError, "at least one result"),
])
def test_figure_functions_refuse_bad_arguments(tmp_path, call, error, message):
    out = tmp_path / "f.png"
    with pytest.raises(error, match=message):
        call(str(out), fake())
    assert not out.exists()


def test_simulate_writes_npz_and_prints_a_table(tmp_path, capsys):
    out = tmp_path / "vae.npz"
    assert main([*SIM, "--record", "all", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "median latent std" in text and "median MMD²" in text and f"wrote {out}" in text
    assert "policy=replace" in text and "arch=mlp" in text
    with np.load(out) as data:
        assert data["generation"].tolist() == [0, 1, 2]
        assert data["samples"].shape == (2, 3, 16, 8, 8)
        assert data["latent_mean"].shape[:2] == (2, 3) and data["latent_mean"].shape[-1] == 2
        assert data["latent_std_mean"].shape == data["elbo"].shape == (2, 3)
        elbo, cfg = data["elbo"], json.loads(str(data["config"]))
    assert np.all(np.isnan(elbo[:, 0])) and np.all(np.isfinite(elbo[:, 1:]))
    assert cfg["seed"] == 0 and cfg["epochs"] == 1 and cfg["policy_parsed"] == "replace"
    assert cfg["vae_config"]["widths"] == [16] and cfg["vae_config"]["arch"] == "mlp"


FIG = ["--generations", "0,1,2", *TINY]
BAD = [
    ([*SIM, "--epochs", "0"], "config.epochs must be >= 1"),
    ([*SIM, "--widths", "0"], "config.widths[0] must be >= 1"),
    ([*SIM, "--arch", "conv", "--widths", "8"], "(c1, c2)"),
    ([*SIM, "--arch", "rnn"], "invalid choice: 'rnn'"),
    ([*SIM, "--lr", "0"], "config.lr must be > 0"),
    ([*SIM, "--policy", "fresh:0.001"], "rounds to 0 fresh points"),
    ([*SIM, "--policy", "fresh"], "needs gamma"),
    ([*SIM, "--seed", "-1"], "seed must be in [0, 2**32 - 1]"),
    ([*SIM, "--trials", "0"], "trials must be >= 1"),
    ([*SIM, "--out", "/proc/x.npz"], "cannot create files in '/proc'"),
    ([*SIM, "--sample-size", "0"], "sample_size must be >= 1"),
    ([*SIM, "--memory-limit", "1K"], "limit (--memory-limit)"),
    (["figure", "vae-metrics", "--out", "x.png", "--memory-limit", "1K", *TINY],
     "limit (--memory-limit)"),
    ([*SIM, "--chunk-size", "0"], "chunk_size must be >= 1"),
    (["figure", "vae-samples", "--out", "x.png", "--sample-size", "0"],
     "sample_size must be >= 1"),
    (["figure", "vae-samples", "--out", "x.png", "--generations", "0"], "generation >= 1"),
    (["figure", "vae-samples", "--out", "x.png", "--generations", "0,5000"],
     "generations must be <= 1000"),
    (["figure", "vae-samples", "--out", "x.png", "--trial", "-1"], "trial must be >= 0"),
    (["figure", "vae-latents", "--out", "x.foo"], "extension must name a figure format"),
    (["figure", "vae-latents", "--out", "x.png", "--epochs", "0"], "config.epochs must be >= 1"),
    (["figure", "vae-metrics", "--out", "x.png", "--policies", "replace,bogus"],
     "policy must be one of"),
]


@pytest.mark.parametrize("argv, words", BAD, ids=[" ".join(a[1:])[:50] for a, _ in BAD])
def test_bad_input_is_one_line_and_status_2_before_any_work(argv, words, tmp_path, monkeypatch,
                                                             capsys, no_work):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and words in captured.err
    assert list(tmp_path.iterdir()) == []


def test_figure_commands_write_pngs(tmp_path, capsys):
    paths = [tmp_path / f"{name}.png" for name in ("samples", "latents", "metrics")]
    assert main(["figure", "vae-samples", "--out", str(paths[0]), "--trial", "1", *FIG]) == 0
    assert main(["figure", "vae-latents", "--out", str(paths[1]), "--trials", "2", *FIG]) == 0
    assert main(["figure", "vae-metrics", "--out", str(paths[2]), "--generations", "2",
                 "--trials", "2", "--policies", "replace", *TINY]) == 0
    assert all(p.stat().st_size > 10_000 for p in paths)
    assert capsys.readouterr().out.count("wrote ") == 3
