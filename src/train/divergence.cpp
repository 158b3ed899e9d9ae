// divergence.cpp — the divergence guard (see train/divergence.h).
#include "train/divergence.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace anila {

namespace {
constexpr double kStateVersion = 2;
constexpr int64_t kStateSize = 12;  // 3 × (now, recent, old), D, seen, version

// "" unless value > factor · (scale + floor) (factor 0: off).
std::string ratio_check(const char* what, double value, double scale, double factor, double floor) {
  if (factor <= 0) return "";
  const double limit = factor * (scale + floor);
  if (value <= limit) return "";
  return fmt::format("{} {:.4g} exceeds {:g}× its running scale ({:.4g} + {:g})", what, value,
                     factor, scale, floor);
}
}  // namespace

void DivergenceGuard::observe_data(const at::Tensor& x) {
  if (o_.chain_range <= 0 || !x.defined() || x.numel() == 0) return;
  data_max_ = std::max(data_max_, x.detach().abs().max().item<double>());
}

bool DivergenceGuard::chains_out_of_range(const at::Tensor& z) const {
  if (o_.chain_range <= 0 || data_max_ <= 0) return false;
  return z.detach().abs().max().item<double>() > chain_limit();
}

std::string DivergenceGuard::check(double f_data, double f_samples, double grad_norm) {
  const double f = std::max(std::abs(f_data), std::abs(f_samples));
  const double gap = std::abs(f_data - f_samples);
  const int64_t window = std::max<int64_t>(1, o_.warmup);
  if (seen_ >= window) {
    for (const std::string& why :
         {ratio_check("energy max(|mean f(x)|, |mean f(z)|)", f, f_.old, o_.energy_factor,
                      o_.floor),
          ratio_check("energy gap |mean f(x) - mean f(z)|", gap, gap_.old, o_.gap_factor, o_.floor),
          ratio_check("parameter gradient norm", grad_norm, grad_.old, o_.grad_factor, o_.floor)}) {
      if (!why.empty()) return why;
    }
  }
  // Running means: the plain mean until 1/rate iterations, then exponential.
  const double w = std::max(o_.rate, 1.0 / double(seen_ + 1));
  ++seen_;
  for (auto [scale, v] : {std::pair<Scale*, double>{&f_, f}, {&gap_, gap}, {&grad_, grad_norm}}) {
    scale->now += w * (v - scale->now);
    if (seen_ == window) scale->old = scale->recent = scale->now;  // the first window
    if (seen_ % window == 0) {
      scale->old = scale->recent;
      scale->recent = scale->now;
    }
  }
  return "";
}

at::Tensor DivergenceGuard::state() const {
  std::vector<double> v;
  for (const Scale* s : {&f_, &gap_, &grad_}) {
    v.insert(v.end(), {s->now, s->recent, s->old});
  }
  v.insert(v.end(), {data_max_, double(seen_), kStateVersion});
  return at::tensor(v, at::kDouble);
}

void DivergenceGuard::set_state(const at::Tensor& state) {
  const at::Tensor t = state.to(at::kCPU, at::kDouble).contiguous();
  if (t.numel() != kStateSize || t[kStateSize - 1].item<double>() != kStateVersion) {
    return;  // another layout: start over
  }
  const double* v = t.data_ptr<double>();
  for (Scale* s : {&f_, &gap_, &grad_}) {
    s->now = v[0];
    s->recent = v[1];
    s->old = v[2];
    v += 3;
  }
  data_max_ = v[0];
  seen_ = static_cast<int64_t>(v[1]);
}

}  // namespace anila
