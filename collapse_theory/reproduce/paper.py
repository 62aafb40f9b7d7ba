"""The paper's numbers the report sets beside ours (Shumailov et al., arXiv 2305.17493; Nature 631,
2024), each with where it comes from: ``"text"`` (stated in the paper), ``"figure"`` (read off a
plot, approximate) or ``"authors' run"`` (the authors' code or notebook)."""

from __future__ import annotations

from typing import NamedTuple


class Claim(NamedTuple):
    """One of the paper's results: its ``value`` (a number, a sequence or a statement) and
    ``source`` (where in the paper, and whether it was read off a figure)."""

    value: object
    source: str


CLAIMS = {
    "discrete.tails": Claim("states with q ≲ 1/M vanish first (early collapse)",
                            "text, §4.1 (discrete distributions with exact approximation)"),
    "discrete.absorption": Claim("absorbed in a delta with probability 1; state i survives "
                                 "with probability q_i", "text, §4.1"),
    "gaussian.w2": Claim("E W2² ≈ (3/2) σ² Σᵢ 1/Mᵢ (grows linearly in n for constant M)",
                         "text, Nature SI (second-order approximation)"),
    "gaussian.theorem": Claim("Σ_n → 0 almost surely and E W2² → ∞ (Theorem 3.1)",
                              "text, Theorem 3.1"),
    "gaussian.drift": Claim("|μ0 − μn| and |σ0 − σn| grow with n, faster for smaller M",
                            "figure (one chain per M, M = 100 … 10⁷)"),
    "gmm.std": Claim((0.90, 0.010), "authors' run: component std at generations 0 and 2000"),
    "gmm.l2": Claim(536.0, "authors' run: L2 distance at generation 2000, as quoted in "
                           "issue 15; its normalisation is not stated"),
    "vae.latent_std": Claim((0.674, 0.608, 0.527, 0.468, 0.433),
                            "authors' notebook: std of 100 samples' latent means under the "
                            "generation-0 encoder, generations 0-4"),
    "vae.unimodal": Claim("samples unimodal by generation 20", "figure (Fig. 9)"),
    "lm.replace": Claim(("34", "60", "52–55"), "figure (Fig. 1b): test perplexity of the real-"
                                            "data model ≈ 34, ≈ 60 at generation 1, then "
                                            "≈ 52–55"),
    "lm.fresh": Claim(("34", "40", "37"), "figure (Fig. 1c): ≈ 40 at generation 1, then ≈ 37 "
                                          "with 10 % of the original data kept"),
    "lm.histograms": Claim("the mode moves to lower perplexity and a long high-perplexity "
                           "tail appears", "figure (Fig. 1 histograms, generations 0–9)"),
    "policies.accumulate": Claim("accumulating data keeps the error bounded (π²/6 × one "
                                 "generation's in linear regression)",
                                 "Gerstgrasser et al. 2024, text"),
    "policies.fresh": Claim("a share of fresh real data each generation keeps the chain "
                            "stationary (no collapse)", "the paper's γ share of original data; "
                                                        "docs/theory.md §4 (data policies)"),
    "policies.subsample": Claim("a fixed budget subsampled from all data lies between replace "
                                "and accumulate", "Kazdan et al. 2024, text"),
}
