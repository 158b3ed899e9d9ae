// adapt.cpp — dual-averaging step-size adaptation (see anila/samplers/adapt.h).
#include "anila/samplers/adapt.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

#include "anila/samplers/anila.h"
#include "anila/samplers/registry.h"

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

ThresholdAdaptation::ThresholdAdaptation(double quantile, double min_weight)
    : quantile_(quantile), min_weight_(min_weight) {}

at::Tensor ThresholdAdaptation::state() const {
  return at::tensor({static_cast<double>(t_), log_b_bar_}, at::kDouble);
}

void ThresholdAdaptation::set_state(const at::Tensor& state) {
  TORCH_CHECK(state.numel() == 2, "ThresholdAdaptation::set_state: expected [2], got ",
              state.sizes());
  const at::Tensor s = state.to(at::kCPU, at::kDouble).reshape({2});
  t_ = static_cast<int64_t>(s[0].item<double>());
  log_b_bar_ = s[1].item<double>();
}

double ThresholdAdaptation::update(const at::Tensor& grad, const std::string& norm) {
  // At most ~65k magnitudes (evenly strided) so the quantile stays cheap for images.
  at::Tensor m = anila_magnitude(grad.detach(), norm).reshape({-1});
  const int64_t stride = std::max<int64_t>(1, m.numel() / 65536);
  m = m.slice(0, 0, m.numel(), stride).to(at::kDouble);
  m = m.masked_select(m.isfinite());
  if (m.numel() == 0) return final_threshold();
  const double q = std::max(at::quantile(m, quantile_).item<double>(), 1e-30);
  ++t_;
  const double w = std::max(std::pow(static_cast<double>(t_), -0.75), min_weight_);
  log_b_bar_ = t_ == 1 ? std::log(q) : w * std::log(q) + (1 - w) * log_b_bar_;
  return final_threshold();
}

double warm_up(Sampler& sampler, ChainState& state, const LogDensity& logp, int64_t warmup,
               bool adapt, at::Generator& gen, double threshold_quantile) {
  const auto& keys = sampler.spec().keys;
  const bool adapt_b = threshold_quantile > 0 && warmup > 0 &&
                       std::find(keys.begin(), keys.end(), "threshold") != keys.end();
  const bool adapt_s = adapt && sampler.options().metropolis();
  if (!adapt_s && !adapt_b) {
    sampler.run(state, logp, warmup, gen);
    return sampler.options().step_size;
  }
  DualAveraging da(sampler.options().step_size, sampler.options().adapt_target());
  ThresholdAdaptation ta(threshold_quantile);
  for (int64_t t = 0; t < warmup; ++t) {
    if (adapt_b) sampler.set_threshold(ta.update(state.grad, sampler.options().norm));
    sampler.step(state, logp, gen, nullptr);
    if (adapt_s) sampler.set_step_size(da.update(state.accept_prob.mean().item<double>()));
  }
  if (adapt_s && warmup > 0) sampler.set_step_size(da.final_step());
  if (adapt_b) sampler.set_threshold(ta.final_threshold());
  return sampler.options().step_size;
}

}  // namespace anila
