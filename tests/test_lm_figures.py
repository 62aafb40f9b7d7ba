"""collapse_theory.figures.lm draws any LMResult (built here by hand: nothing is simulated)."""

import numpy as np
import pytest

from collapse_theory.figures import lm as flm
from collapse_theory.lm.simulate import LMResult


def result(trials=4, gens=(0, 1, 2, 3, 5), points=20, kl=True, seed=0):
    rng = np.random.default_rng(seed)
    r = len(gens)
    ppl = np.exp(rng.normal(3, 0.3, (trials, r)) + np.arange(r) * 0.2)
    ppl[:, 0] = np.nan
    ppl[0, -1] = np.inf  # a token of probability 0
    seq = np.exp(rng.normal(2.5, 0.5, (trials, r, points)))
    seq[1, 2, 3] = np.inf
    return LMResult(np.asarray(gens), ppl, seq, np.full((trials, r), 50) - np.arange(r),
                    np.where(np.arange(r) > 0, 0.1 * np.arange(r), np.nan) * np.ones((trials, 1))
                    if kl else np.full((trials, r), np.nan),
                    np.zeros((trials, r, 3, 8), np.int32), np.asarray([0] + [40] * (r - 1)),
                    np.broadcast_to(np.stack([np.full(r, 10), 20 - 2 * np.arange(r),
                                              490 - 20 * np.arange(r), np.arange(r)], -1),
                                    (trials, r, 4)),
                    np.asarray([0, 10, 100, 600]))


def test_perplexity_and_histograms_are_written(tmp_path):
    out = flm.perplexity(tmp_path / "p.png", {"replace": result(), "fresh:0.1": result(seed=1)})
    assert (tmp_path / "p.png").stat().st_size > 10_000 and str(out).endswith("p.png")
    flm.perplexity(tmp_path / "q.png", {"replace": result(kl=False)})  # no KL panel
    flm.vocabulary(tmp_path / "v.png", {"replace": result(), "fresh:0.1": result(seed=1)})
    assert (tmp_path / "v.png").stat().st_size > 10_000
    flm.histograms(tmp_path / "h.png", result(), generations=(0, 1, 5, 9))  # 9 not recorded
    assert (tmp_path / "h.png").stat().st_size > 10_000


def test_bad_input_names_the_argument(tmp_path):
    with pytest.raises(ValueError, match="results must hold at least one result"):
        flm.perplexity(tmp_path / "p.png", {})
    with pytest.raises(ValueError, match="results must hold at least one result"):
        flm.vocabulary(tmp_path / "v.png", {})
    with pytest.raises(ValueError, match="generations must include a recorded generation"):
        flm.histograms(tmp_path / "h.png", result(), generations=(7, 8))
    with pytest.raises(ValueError, match="bins"):
        flm.histograms(tmp_path / "h.png", result(), bins=1)
