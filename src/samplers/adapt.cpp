// adapt.cpp — dual-averaging step-size adaptation (see anila/samplers/adapt.h).
#include "anila/samplers/adapt.h"

#include <cmath>

#include <ATen/ATen.h>

namespace anila {

DualAveraging::DualAveraging(double initial_step, double target_accept)
    : mu_(std::log(10 * initial_step)),
      target_(target_accept),
      log_step_bar_(std::log(initial_step)) {}

double DualAveraging::update(double accept_prob) {
  if (!std::isfinite(accept_prob)) accept_prob = 0;
  ++t_;
  const double t = static_cast<double>(t_);
  h_bar_ = (1 - 1 / (t + kT0)) * h_bar_ + (target_ - accept_prob) / (t + kT0);
  const double log_step = mu_ - std::sqrt(t) / kGamma * h_bar_;
  const double w = std::pow(t, -kKappa);
  log_step_bar_ = w * log_step + (1 - w) * log_step_bar_;
  return std::exp(log_step);
}

double DualAveraging::final_step() const {
  return std::exp(log_step_bar_);
}

double warm_up(Sampler& sampler, ChainState& state, const LogDensity& logp, int64_t warmup,
               bool adapt, at::Generator& gen) {
  if (!adapt || !sampler.options().metropolis()) {
    sampler.run(state, logp, warmup, gen);
    return sampler.options().step_size;
  }
  DualAveraging da(sampler.options().step_size, sampler.options().adapt_target());
  for (int64_t t = 0; t < warmup; ++t) {
    sampler.step(state, logp, gen, nullptr);
    sampler.set_step_size(da.update(state.accept_prob.mean().item<double>()));
  }
  if (warmup > 0) sampler.set_step_size(da.final_step());
  return sampler.options().step_size;
}

}  // namespace anila
