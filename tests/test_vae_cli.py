"""``collapse-theory simulate vae``, the VAE figure commands (a tiny VAE: MLP, 2 latents, one
epoch, 200 samples per fit) and the figure functions on a fake result."""

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
    (lambda p, r: figures.samples(p, r, trial=3, generations=[0]), ValueError, "trial must be <= 2"),
    (lambda p, r: figures.samples(p, r, generations=5), TypeError, "sequence of integers"),
    (lambda p, r: figures.latents(p, r, generations=[]), ValueError, "at least one"),
    (lambda p, r: figures.metrics(p, {}), ValueError, "at least one result"),
])
def test_figure_functions_refuse_bad_arguments(tmp_path, call, error, message):
    out = tmp_path / "f.png"
    with pytest.raises(error, match=message):
        call(str(out), fake())
    assert not out.exists()
