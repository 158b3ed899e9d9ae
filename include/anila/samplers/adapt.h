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

#include <cstdint>

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

// Runs `warmup` steps of `sampler` from `state`, adapting its step size when
// `adapt` is true and the sampler is a Metropolis–Hastings one; the final step
// size is left set on the sampler. Returns the step size used afterwards.
double warm_up(Sampler& sampler, ChainState& state, const LogDensity& logp, int64_t warmup,
               bool adapt, at::Generator& gen);

}  // namespace anila
