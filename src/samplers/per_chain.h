// per_chain.h (private) — per-chain quantities of chain states: reductions over
// all but the batch axis, and the log-target ratio of Metropolis–Hastings.
#pragma once

#include <ATen/ATen.h>

namespace anila {

// Σ over all but the batch axis: [B, ...] -> [B].
inline at::Tensor sum_per_chain(const at::Tensor& x) {
  return x.reshape({x.size(0), -1}).sum(1);
}

// (f_to − f_from) / T per chain in float64, the difference formed before the
// division: at image temperatures (T = 5e-5) float32 rounding of f, amplified by
// 1/T, would move the acceptance (docs/samplers.md, "Precision").
inline at::Tensor log_target_ratio(const at::Tensor& f_to, const at::Tensor& f_from, double T) {
  return (f_to.to(at::kDouble) - f_from.to(at::kDouble)) / T;
}

}  // namespace anila
