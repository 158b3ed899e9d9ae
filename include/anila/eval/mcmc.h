// mcmc.h — MCMC convergence diagnostics: split-R̂, rank-normalised R̂, bulk/tail ESS,
// Monte Carlo standard errors, autocorrelation, and the energy distance between samples.
//
// Definitions follow Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021),
// "Rank-normalization, folding, and localization: An improved R̂ for assessing
// convergence of MCMC", Bayesian Analysis 16(2), 667–718 [VGSCB21], as implemented in the
// R package `posterior` (R/convergence.R, the authors' reference implementation; where the
// two differ in detail, posterior's current code is followed and the detail named here).
//
// Notation: draws of ONE scalar quantity are a tensor [S, C]: S draws per chain, C chains
// (any real dtype, converted to float64 on the CPU). Splitting a chain cuts it in half:
// N = ⌊S/2⌋ draws in each of M = 2C split chains (for odd S the middle draw is dropped,
// as in posterior's .split_chains). x̄_m, s²_m are the mean and (N−1)-variance of split
// chain m; W = mean_m s²_m; B/N = var_m(x̄_m) (with the M−1 denominator);
// var⁺ = (N−1)/N·W + B/N; R̂ = sqrt(var⁺ / W)            [VGSCB21, split-R̂; Gelman et al. BDA3]
// Rank normalisation (pooled over all values): average ranks r for ties,
// z = Φ⁻¹((r − 3/8)/(n + 1/4)) for n values (Blom's offset)      [VGSCB21, rank normalisation]
// Folding: ζ = |x − median(x)| (median over all S·C draws)             [VGSCB21, folding]
// ESS of M chains of N draws (Geyer 1992 truncation as in posterior's .ess):
//   γ̂_m(t) = (1/N) Σ_{i<N−t} (x_{i,m} − x̄_m)(x_{i+t,m} − x̄_m)   (biased autocovariance)
//   ρ̂_t = 1 − (W − mean_m γ̂_m(t)) / var⁺, ρ̂_0 := 1                       [VGSCB21 §3.2]
//   initial positive sequence: keep the pairs P_k = ρ̂_{2k} + ρ̂_{2k+1}, k = 0, 1, ..., up
//   to the first one that is not positive (a negative one is dropped) or up to lag N−3;
//   t_max is the even lag of the last pair looked at, and ρ̂_{t_max} is kept when it is
//   positive; initial monotone sequence: a kept pair larger than the pair before it is
//   replaced by that pair's value (ρ̂_t = ρ̂_{t+1} = P_{k−1}/2); then
//   τ̂ = −1 + 2 Σ_{t<t_max} ρ̂_t + ρ̂_{t_max}  (the "improved" estimate that reduces the
//   variance for antithetic chains), τ̂ ≥ 1/log10(N·M), ESS = N·M / τ̂.
//   So ESS ≤ N·M·log10(N·M). With t_max = 0 (N ≤ 5, or ρ̂_0 + ρ̂_1 ≤ 0) the sum is empty;
//   posterior's R code then gives τ̂ = 2 (its sum(rho[1:0]) is ρ̂_0), and so do we: ESS = N·M/2.
//
// Undefined values are NaN, never an exception: every diagnostic (R̂, ESS, MCSE) is NaN
// when some draw is not finite or when all S·C draws are equal (a constant quantity);
// ESS is also NaN when N < 3. A single constant chain among varying ones is not special
// (as in posterior's current code). R̂ is +inf when every split chain is constant but they
// differ.
// Malformed input (not [S, C], S < 4, C < 1) is a programming error: TORCH_CHECK.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "anila/common.h"

namespace anila::eval {

// ---- building blocks ---------------------------------------------------------------

// draws: [S, C] -> [N, 2C] split chains, N = ⌊S/2⌋: column c is the first half of chain c,
// column C + c its last N draws (the middle draw of an odd S is dropped). float64.
at::Tensor split_chains(const at::Tensor& draws);

// x: any shape -> same shape, float64: z = Φ⁻¹((r − 3/8)/(n + 1/4)) with r the average
// rank of each value among all n values (ties share their mean rank). NaN in x is a
// programming error (TORCH_CHECK); ±inf are ranked like any other value.
at::Tensor rank_normalize(const at::Tensor& x);

// ---- R̂ ------------------------------------------------------------------------------

// draws: [S, C]. Classic split-R̂ (no rank normalisation): sqrt(var⁺/W) on split chains.
double rhat_basic(const at::Tensor& draws);

// draws: [S, C]. Rank-normalised split-R̂ of VGSCB21 (their recommended R̂):
// max(R̂ of rank_normalize(split(x)), R̂ of rank_normalize(split(|x − median(x)|))).
// One difference from posterior (which returns NA then): when the folded draws are all
// equal (the draws take two values, split evenly about their midpoint) the folded part is
// undefined and the bulk part alone is returned, so that e.g. chains stuck at two
// different values give +inf rather than NaN.
double rhat(const at::Tensor& draws);

// ---- effective sample size and MCSE ---------------------------------------------------

// draws: [S, C]. ESS of the split chains, no rank normalisation (posterior's ess_basic).
double ess_basic(const at::Tensor& draws);

// draws: [S, C]. Bulk-ESS: ESS of rank_normalize(split(x)).
double ess_bulk(const at::Tensor& draws);

// draws: [S, C]. Tail-ESS: min over q ∈ {q05, q95} of the ESS of the split indicator
// chains I(x ≤ q), where q is the type-7 (linear interpolation) sample quantile of all S·C
// draws. NaN if either is NaN (e.g. when more than ~5% of the draws tie at the maximum,
// the indicator at q95 is constant).
double ess_tail(const at::Tensor& draws);

// draws: [S, C]. ESS for the mean: ess_basic.
double ess_mean(const at::Tensor& draws);

// draws: [S, C]. Monte Carlo standard error of the mean: sd(x)/sqrt(ess_mean(x)), sd over
// all S·C draws with the n−1 denominator.
double mcse_mean(const at::Tensor& draws);

// draws: [S, C] -> [max_lag + 1] float64: mean over the C (unsplit) chains of each chain's
// autocorrelation γ̂_c(t)/γ̂_c(0) (biased autocovariance, as above); entry 0 is 1.
// 0 <= max_lag < S. A constant chain has no autocorrelation: its 0/0 makes the lags NaN.
at::Tensor autocorrelation(const at::Tensor& draws, int64_t max_lag);

// ---- comparing samples ----------------------------------------------------------------

// x: [n, d], y: [m, d] -> the energy distance (Székely & Rizzo) as a V-statistic:
//   2·mean_{i,j} ‖x_i − y_j‖ − mean_{i,i'} ‖x_i − x_i'‖ − mean_{j,j'} ‖y_j − y_j'‖,
// all means over every ordered pair, the i = i' zeros included. It is the energy distance
// between the two empirical distributions, so it is >= 0 (up to rounding) and exactly 0
// for identical sets; for samples of sizes n, m from the same law its expectation is
// E‖X−X'‖·(1/n + 1/m). Rows that are not finite are dropped first; NaN if a side is then
// empty. Each side then keeps at most 2000 rows, evenly spaced: rows ⌊i·n/2000⌋,
// i = 0..1999 (so the cost is bounded and the result deterministic). Float64.
double energy_distance(const at::Tensor& x, const at::Tensor& y);

// ---- per-coordinate summary --------------------------------------------------------------

struct DrawsSummary {
  int64_t num_draws = 0;   // S
  int64_t num_chains = 0;  // C
  // Per coordinate, [D] float64: mean and sd (n−1) over all S·C draws, and the
  // diagnostics above (identical to calling the scalar functions on draws[:, :, d]).
  at::Tensor mean, sd, mcse_mean, ess_bulk, ess_tail, rhat;
  // Over the coordinates whose value is not NaN (NaN if all are):
  double min_ess_bulk = 0, min_ess_tail = 0, max_rhat = 0;
  // Coordinates where rhat, ess_bulk or ess_tail is NaN (constant or non-finite draws);
  // they are left out of the three extremes above, so look here too.
  int64_t num_undefined = 0;

  // {"num_draws","num_chains","dim","min_ess_bulk","min_ess_tail","max_rhat",
  //  "num_undefined"} and, if per_coordinate, arrays "mean","sd","mcse_mean","ess_bulk",
  // "ess_tail","rhat" of length D. JSON has no NaN or infinity: NaN (undefined) is written
  // as null and ±inf (R̂ of chains stuck at different values) as the string "inf"/"-inf".
  Json to_json(bool per_coordinate = false) const;
};

// draws: [S, C, D] (D coordinates of the chain state) -> the summary above.
DrawsSummary summarize_draws(const at::Tensor& draws);

}  // namespace anila::eval
