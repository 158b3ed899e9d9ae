// adapt.h — step-size adaptation by dual averaging (Hoffman & Gelman 2014, §3.2.1).
//
// During a warm-up the step size is tuned so that the mean Metropolis–Hastings
// acceptance probability approaches a target δ (0.574 for MALA-type samplers,
// 0.8 for HMC by default; SamplerOptions::adapt_target()). With α_t the mean
// acceptance probability over the chains at warm-up step t:
//   H̄_t = (1 − 1/(t + t0)) H̄_{t−1} + (δ − α_t)/(t + t0)
//   log s_t = μ − (√t / γ) H̄_t,     μ = log(10 s_0)
//   log s̄_t = t^{−κ} log s_t + (1 − t^{−κ}) log s̄_{t−1}
// with γ = 0.05, t0 = 10, κ = 0.75. After the warm-up the step is frozen at s̄.
// One step size is shared by all chains (they sample the same target).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "anila/samplers/sampler.h"

namespace anila {

class DualAveraging {
 public:
  DualAveraging(double initial_step, double target_accept);
  // Feeds the acceptance probability of step t (1-based); returns the next step size.
  double update(double accept_prob);
  double final_step() const;  // s̄ (exp of the averaged log step)
  int64_t steps() const { return t_; }

 private:
  double mu_, target_;
  double h_bar_ = 0, log_step_bar_ = 0;
  int64_t t_ = 0;
  static constexpr double kGamma = 0.05, kT0 = 10.0, kKappa = 0.75;
};

// Threshold adaptation for the AniLA types (docs/samplers.md): at warm-up step t
// the threshold follows q_t, the `quantile`-quantile over all chains of the
// magnitude γ compares with b (|∂_i f| per coordinate, or the pixel/sample L2
// norm), averaged in log space with the same weights as s̄:
//   log b̄_t = t^{−κ} log q_t + (1 − t^{−κ}) log b̄_{t−1},   κ = 0.75,
// and b = b̄_t is used for the next step. So a fraction ≈ 1 − quantile of the
// coordinates (pixels, chains) has γ < 1: b scales with the target's gradients
// instead of being a fixed number. After the warm-up b is frozen at b̄.
//
// Training (threshold "auto", docs/samplers.md) feeds it once per iteration and
// never freezes it; there the weight is max(t^{−κ}, min_weight), so b keeps
// following a model whose gradients change (an exponential average with rate
// min_weight once t^{−κ} drops below it).
class ThresholdAdaptation {
 public:
  explicit ThresholdAdaptation(double quantile, double min_weight = 0);
  // Feeds the gradients of step t ([B, ...]); returns the threshold for the next step.
  double update(const at::Tensor& grad, const std::string& norm);
  double final_threshold() const { return std::exp(log_b_bar_); }
  int64_t steps() const { return t_; }
  // What a checkpoint keeps: [t, log b̄] as float64 [2]; set_state restores it exactly.
  at::Tensor state() const;
  void set_state(const at::Tensor& state);

 private:
  double quantile_, min_weight_, log_b_bar_ = 0;
  int64_t t_ = 0;
};

// The averaging weight's floor in training (ThresholdAdaptation::min_weight):
// after ~20 iterations b is an exponential average of the per-iteration quantiles
// over the last ~1/0.05 = 20 iterations.
inline constexpr double kTrainThresholdRate = 0.05;

// Runs `warmup` steps of `sampler` from `state`, adapting its step size when
// `adapt` is true and the sampler is a Metropolis–Hastings one, and its AniLA
// threshold b when threshold_quantile > 0 and the type reads a threshold; the
// final values are left set on the sampler. Returns the step size used afterwards.
double warm_up(Sampler& sampler, ChainState& state, const LogDensity& logp, int64_t warmup,
               bool adapt, at::Generator& gen, double threshold_quantile = 0);

}  // namespace anila
