"""The sections of the chains with exact laws: discrete resampling, the Gaussian chain and the
follow-ups' data policies (each figure also a ``collapse-theory figure`` command: same seed,
same sizes, same picture; a figure's ``i``-th curve uses ``fold_in(key(seed), i)``, so the
numbers are those of the drawn chains)."""

from __future__ import annotations

import jax
import numpy as np

from .. import discrete, gaussian, regression
from ..figures import discrete as fdiscrete
from ..figures import gaussian as fgaussian
from ..figures import policies as fpolicies
from ..theory import discrete as tdiscrete
from ..theory import gaussian as tgaussian
from ..theory import policies as tpolicies
from .paper import CLAIMS
from .section import Context, Figure, Row, Section, csv, figure_path, key, mean_se


# ---------------------------------------------------------------------------------------------
# 1. Discrete resampling


def discrete_section(ctx: Context) -> Section:
    s, seed = ctx.sizes, ctx.seed
    run = dict(progress=ctx.progress)
    figures, rows = [], []

    k, expo, m, g, t = s["tail"]
    name, path = figure_path(ctx, "discrete_tail_loss.png")
    fdiscrete.tail_loss_figure(path, categories=k, exponent=expo, sample_size=m, generations=g,
                               trials=t, seed=seed, **run)
    figures.append(Figure(name, f"Zipf(s = {expo:g}) p0 on K = {k}, M = {m}: one chain's fitted "
                                "probabilities by rank (left) and the surviving categories "
                                "against the exact chain (right).",
                          f"collapse-theory figure tail-loss --out {name} --zipf {k},{expo:g} "
                          f"--sample-size {m} --generations {g} --trials {t} --seed {seed}"))
    p0 = discrete.zipf(k, expo)
    # The figure's own call (same arguments: its compiled chain is reused), read at n = G.
    res = discrete.simulate(key(seed), p0, sample_size=m, generations=g, trials=t)
    support = np.asarray(discrete.support_size(res), np.float64)[:, -1]
    rows.append(Row(f"Zipf K = {k}, M = {m}: categories left at n = {g}", "—",
                    f"{mean_se(support)} (exact {tdiscrete.expected_support(p0, m, g)[-1]:.4g})",
                    "the exact chain (no number in the paper)"))

    k_z, k_w, m_h, gens, t_h = s["hist"]
    name, path = figure_path(ctx, "discrete_tail_histograms.png")
    laws = fdiscrete.histogram_sources((k_z, 1.1), ("en", k_w))
    results = fdiscrete.histogram_results(key(seed), laws, sample_size=m_h, generations=gens,
                                          trials=t_h, **run)
    fdiscrete.histograms(path, results, generations=gens)
    figures.append(Figure(name, "Log-count histograms across generations, with the 1/M line: "
                                "Zipf's law (left) and real English word frequencies (right).",
                          f"collapse-theory figure tail-histograms --out {name} --zipf "
                          f"{k_z},1.1 --words en,{k_w} --sample-size {m_h} --generations "
                          f"{csv(gens)} --trials {t_h} --seed {seed}"))
    shown = sorted({min(x for x in gens if x >= 1), max(gens)})
    tails = []
    for label, r in results.items():
        p = np.asarray(r.probs0)
        recorded = list(np.asarray(r.generation))
        below, above = p < 1.0 / m_h, p >= 1.0 / m_h
        parts = []
        for n in shown:
            lost = np.asarray(r.counts)[:, recorded.index(n)] == 0
            parts.append(f"n = {n}: {lost[:, below].mean():.1%} of the {below.sum():,} below "
                         f"1/M, {lost[:, above].mean():.1%} of the {above.sum():,} above")
        tails.append(parts[0])
        rows.append(Row(f"{label}, M = {m_h:,}: categories lost", CLAIMS["discrete.tails"].value,
                        "; ".join(parts), CLAIMS["discrete.tails"].source))

    x0s, (m_s, g_s, t_s) = (1, 2, 5, 10, 25), s["survival"]
    name, path = figure_path(ctx, "discrete_survival.png")
    fdiscrete.survival_figure(path, original_counts=x0s, sample_size=m_s, generations=g_s,
                              trials=t_s, seed=seed, **run)
    figures.append(Figure(name, "P(a category survives) for original counts x0, simulated "
                                "(circles) against the exact binomial chain (lines).",
                          f"collapse-theory figure survival --out {name} --sample-size {m_s} "
                          f"--generations {g_s} --trials {t_s} --seed {seed}"))
    _, p_s = fdiscrete.survival_law(x0s, m_s)
    res = discrete.simulate(key(seed), p_s, sample_size=m_s, generations=g_s, trials=t_s)
    counts = np.asarray(res.counts)[:, -1]
    fixed = counts == m_s
    exact_fix = tdiscrete.fixation_probability(p_s, m_s, g_s)[-1]
    j = int(np.argmax(p_s))
    se = np.sqrt(exact_fix[j] * (1 - exact_fix[j]) / t_s)
    rows.append(Row(f"M = {m_s}, category with p0 = {p_s[j]:.2f}: P(sole survivor by n = {g_s})",
                    f"→ {p_s[j]:.2f} as n → ∞ (" + CLAIMS["discrete.absorption"].value + ")",
                    f"{fixed[:, j].mean():.4f} (exact {exact_fix[j]:.4f} ± {se:.2g} SE; "
                    f"limit {tdiscrete.fixation_probability(p_s, m_s)[j]:.4f})",
                    CLAIMS["discrete.absorption"].source))

    m_a, k_a, g_a, t_a = s["absorption"]
    name, path = figure_path(ctx, "discrete_absorption.png")
    fdiscrete.absorption_figure(path, sample_size=m_a, categories=k_a, generations=g_a,
                                trials=t_a, seed=seed, **run)
    figures.append(Figure(name, "Absorption times against the exact law (Kimura's and "
                                "Littler's diffusion means dotted).",
                          f"collapse-theory figure absorption --out {name} --sample-size {m_a} "
                          f"--categories {k_a} --generations {g_a} --trials {t_a} --seed {seed}"))
    p_a = np.full(k_a, 1.0 / k_a)
    res = discrete.simulate(key(seed), p_a, sample_size=m_a, generations=g_a, trials=t_a,
                            record=[g_a])
    fix = np.asarray(res.fixation)
    done = fix[fix >= 0]
    rows.append(Row(f"K = {k_a}, M = {m_a}: generations to one category (mean)", "—",
                    f"{mean_se(done)} ({fix.size - done.size} chains beyond n = {g_a}; exact "
                    f"{tdiscrete.fixation_time_mean(p_a, m_a):.4g}, Littler "
                    f"{tdiscrete.littler_fixation_time(p_a, m_a):.4g})",
                    "the exact chain (the paper: absorption certain)"))
    return Section(
        "discrete", "1. Discrete resampling: tails first, then a delta",
        rows, figures,
        "The paper states these laws without simulating them at a given size; ours are the "
        "exact Wright–Fisher chain, so simulation and exact values agree within Monte Carlo "
        "error, and English word frequencies behave like the Zipf law of the same size.",
        Row("Discrete: tail below 1/M lost first", CLAIMS["discrete.tails"].value, tails[-1],
            CLAIMS["discrete.tails"].source))


# ---------------------------------------------------------------------------------------------
# 2. The Gaussian chain


def gaussian_section(ctx: Context) -> Section:
    s, seed = ctx.sizes, ctx.seed
    run = dict(progress=ctx.progress)
    sizes, g, t = s["drift"]
    name, path = figure_path(ctx, "gaussian_drift.png")
    fgaussian.drift_figure(path, sample_sizes=sizes, generations=g, trials=t, seed=seed, **run)
    figures = [Figure(name, "Drift of the fitted mean and std from D0 = N(0, 1) for several M "
                            "(the paper's Fig. 4 with many chains per M), against closed forms.",
                      f"collapse-theory figure drift --out {name} --sample-sizes {csv(sizes)} "
                      f"--generations {g} --trials {t} --seed {seed}")]
    with jax.enable_x64(True):  # the figure's first curve, read at n = G
        res = gaussian.simulate(key(seed, 0), sample_size=sizes[0], generations=g, trials=t,
                                record="log")
        gap = np.abs(1.0 - np.exp(0.5 * np.asarray(res.log_det)[:, -1]))
    exact_gap = float(fgaussian.std_gap_quantiles([g], sizes[0], [0.5])[0, 0])
    rows = [Row(f"M = {sizes[0]}: median |σ0 − σn| at n = {g}", CLAIMS["gaussian.drift"].value,
                f"{np.median(gap):.4g} (exact law's median {exact_gap:.4g})",
                CLAIMS["gaussian.drift"].source)]

    m_list, dims, m_d, g_w, t_w = s["w2"]
    name, path = figure_path(ctx, "gaussian_w2.png")
    one, multi = fgaussian.w2_results(key(seed), sample_sizes=m_list, dims=dims,
                                      dim_sample_size=m_d, generations=g_w, trials=t_w, **run)
    fgaussian.w2(path, one, multi, dim_sample_size=m_d)
    figures.append(Figure(name, "E W2² per generation against the exact form and the paper's "
                                "(3/2) n/M (left); Theorem 3.1 in d dimensions (right).",
                          f"collapse-theory figure gaussian-w2 --out {name} --sample-sizes "
                          f"{csv(m_list)} --dims {csv(dims)} --dim-sample-size {m_d} "
                          f"--generations {g_w} --trials {t_w} --seed {seed}"))
    for m in (m_list[-1], m_list[0]):
        w = fgaussian.w2_squared(one[m])[:, -1]
        rows.append(Row(f"M = {m}: E W2² at n = {g_w}",
                        f"{tgaussian.paper_w2_squared([g_w], m)[-1]:.4g} ((3/2) n/M)",
                        f"mean {mean_se(w)}, median {np.median(w):.3g} (exact E "
                        f"{tgaussian.expected_w2_squared([g_w], m)[-1]:.4g})",
                        CLAIMS["gaussian.w2"].source))
    headline_w = rows[-2]
    d = max(dims)
    log_det = np.asarray(multi[d].log_det, np.float64)[:, -1]
    rows.append(Row(f"d = {d}, M = {m_d}: E log det Σn at n = {g_w}; chains with det Σn < 1e-10",
                    CLAIMS["gaussian.theorem"].value,
                    f"{mean_se(log_det)} (closed form {tgaussian.expected_log_det([g_w], m_d, d)[-1]:.4g}); "
                    f"{np.mean(log_det < np.log(1e-10)):.1%}", CLAIMS["gaussian.theorem"].source))
    return Section(
        "gaussian", "2. The Gaussian chain: a random walk of the mean, collapse of the variance",
        rows, figures,
        f"The paper's (3/2) Σ 1/M is a second-order approximation, accurate while n ≪ M: at "
        f"M = {m_list[-1]}, n = {g_w} it gives {tgaussian.paper_w2_squared([g_w], m_list[-1])[-1]:.3g} "
        f"against the exact {tgaussian.expected_w2_squared([g_w], m_list[-1])[-1]:.3g}; at "
        f"M = {m_list[0]}, {tgaussian.paper_w2_squared([g_w], m_list[0])[-1]:.3g} against "
        f"{tgaussian.expected_w2_squared([g_w], m_list[0])[-1]:.3g}. For n ≳ M that expectation "
        "is carried by rare chains whose σ has not collapsed, so the mean over chains falls "
        "short of it and the median saturates near μ∞² + 1 (the sample mean of a heavy-tailed "
        "quantity; the figure shows both).",
        Row("Gaussian: E W2² (M = " + f"{m_list[-1]}, n = {g_w})", headline_w.paper,
            headline_w.ours, headline_w.source))



# ---------------------------------------------------------------------------------------------
# 6. Follow-ups: replace, accumulate, fresh data


def policies_section(ctx: Context) -> Section:
    s, seed = ctx.sizes, ctx.seed
    g, t, m = s["generations"], s["trials"], 10
    names = ("replace", "accumulate", "accumulate-subsample")
    name, path = figure_path(ctx, "policies.png")
    fpolicies.policies_figure(path, generations=g, trials=t, sample_size=m, seed=seed,
                              progress=ctx.progress)
    figures = [Figure(name, "Replace vs accumulate vs accumulate-subsample (Kazdan et al.'s "
                            "three workflows) for the Gaussian, discrete and regression chains, "
                            "against the closed forms (the π²/6 phenomenon).",
                      f"collapse-theory figure policies --out {name} --generations {g} "
                      f"--trials {t} --sample-size {m} --seed {seed}")]
    gs = s["schedule_generations"]
    name, path = figure_path(ctx, "schedules.png")
    fpolicies.schedule_figure(path, generations=gs, trials=t, sample_size=m, seed=seed,
                              progress=ctx.progress)
    figures.append(Figure(name, "Growing sample sizes: the error stays bounded iff Σ 1/Mᵢ < ∞.",
                          f"collapse-theory figure schedules --out {name} --generations {gs} "
                          f"--trials {t} --sample-size {m} --seed {seed}"))
    rows, var, err = [], {}, {}
    rows_t, dim, noise = 2 * m, 4, 0.5
    with jax.enable_x64(True):
        for i, pol in enumerate(names):
            k = key(seed, i)
            # The figure's own calls (their compiled chains are reused), read at n = G.
            res = gaussian.simulate(k, sample_size=m, generations=g, trials=t, estimator="mle",
                                    policy=pol, record="log")
            var[pol] = np.asarray(res.log_det, np.float64)[:, -1]
            res = regression.simulate(k, rows=rows_t, dim=dim, generations=g, trials=t,
                                      noise=noise, design="fixed", policy=pol, record="log")
            err[pol] = np.asarray(res.error, np.float64)[:, -1]
        # Fresh real data (fresh:0.2, 2 of the M = 10 points real each fit): stationary.
        fresh = gaussian.simulate(key(seed, len(names)), sample_size=m, generations=g,
                                  trials=t, estimator="mle", policy="fresh:0.2", record=[g])
        fresh_var = np.exp(np.asarray(fresh.log_det, np.float64)[:, -1])
    # Under replace σ²_n is heavy-tailed (its sample mean is carried by rare chains): its log
    # concentrates, so replace reports E log σ²_n; the other two stay bounded.
    gaussian_cells = {
        "replace": f"E log σ²_n {mean_se(var['replace'])} (exact "
                   f"{tgaussian.expected_log_det([g], m, 1, 'mle')[-1]:.4g})",
        "accumulate": f"E σ²_n {mean_se(np.exp(var['accumulate']))} (exact "
                      f"{tpolicies.accumulate_variance_factor(m, g, 'mle')[-1]:.4g})",
        "accumulate-subsample": f"E σ²_n {mean_se(np.exp(var['accumulate-subsample']))}"}
    exact_err = {p: tpolicies.regression_error(g, rows_t, dim, noise, p)[-1]
                 for p in ("replace", "accumulate")}
    one = tpolicies.regression_error(1, rows_t, dim, noise)[-1]
    for pol in names:
        claim = CLAIMS["policies.subsample" if pol.endswith("subsample")
                       else "policies.accumulate"]
        rows.append(Row(
            f"{pol}: Gaussian σ²_n/σ²_0 (MLE, M = {m}); regression E‖ŵ_n − w*‖² over one "
            f"fit's (T = {rows_t}, d = {dim}); n = {g}",
            "σ²_n → 0; error n × one fit's" if pol == "replace" else claim.value,
            f"{gaussian_cells[pol]}; error ratio {err[pol].mean() / one:.3g}"
            + f" ± {err[pol].std(ddof=1) / np.sqrt(t) / one:.2g}"
            + (f" (exact {exact_err[pol] / one:.4g})" if pol in exact_err else ""),
            claim.source))
    rows.append(Row(f"fresh:0.2 (2 real points of M = {m} each fit): Gaussian E σ²_n/σ²_0 "
                    f"(MLE), n = {g}", CLAIMS["policies.fresh"].value, f"{mean_se(fresh_var)} "
                    f"(exact {tpolicies.fresh_gaussian_moments(m, 0.2, g)[0][-1]:.4g}; "
                    f"stationary {tpolicies.fresh_gaussian_stationary(m, 0.2)[0]:.4g})",
                    CLAIMS["policies.fresh"].source))
    return Section(
        "policies", "6. Follow-ups: replace vs accumulate vs fresh data", rows, figures,
        "These are the follow-up papers' closed forms at small M, where the differences are "
        "large; the accumulate limit is sin(π/√M)/(π/√M) for σ² and π²/6 for the regression "
        "error ratio.",
        Row(f"Accumulate: regression error / one fit's, n = {g}", "≤ π²/6 = 1.645",
            f"{err['accumulate'].mean() / one:.3g} ± "
            f"{err['accumulate'].std(ddof=1) / np.sqrt(t) / one:.2g} (exact "
            f"{exact_err['accumulate'] / one:.4g})",
            CLAIMS["policies.accumulate"].source))
