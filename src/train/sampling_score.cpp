// sampling_score.cpp — scoring `anila sample` draws against a target (see sampling_score.h).
#include "train/sampling_score.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "anila/eval/grid2d.h"
#include "anila/eval/mcmc.h"
#include "anila/targets/analytic.h"

namespace anila {

std::string tempered_target_problem(const targets::AnalyticTarget& target, double T) {
  if (std::abs(T - 1) < 1e-12) return "";
  const std::string name = target.name();
  if (name == "gaussian" || name == "gaussian-ill" || name == "gaussian-corr") return "";
  return fmt::format(
      "not scored: the sampler targets exp(f/T) at T = noise_scale² = {:.4g}, and the {} "
      "target has no exact moments or draws at T != 1 (use noise_scale 1, or a gaussian "
      "target)",
      T, name);
}

void score_draws(Json& row, const at::Tensor& draws, const at::Tensor& coords,
                 const targets::AnalyticTarget& target, double T, uint64_t seed) {
  const int64_t Dk = coords.size(0);
  at::Tensor pooled = draws.reshape({-1, Dk}).to(at::kDouble);
  at::Tensor mu = target.mean().index_select(0, coords);
  at::Tensor cov = target.covariance().index_select(0, coords).index_select(1, coords) * T;
  at::Tensor var = cov.diagonal();
  row["mean_error"] = ((pooled.mean(0) - mu).abs() / var.sqrt()).max().item<double>();
  at::Tensor centred = pooled - pooled.mean(0);
  at::Tensor emp = centred.t().mm(centred) / (pooled.size(0) - 1);
  row["var_error"] = ((emp.diagonal() - var).abs() / var).max().item<double>();
  row["cov_error"] = ((emp - cov).norm() / cov.norm()).item<double>();
  row["temperature"] = T;
  // Distances to exact draws of exp(f/T), on the stored coordinates.
  at::Generator exact_gen = make_generator(seed, at::kCPU);
  const int64_t n = std::min<int64_t>(2000, pooled.size(0));
  at::Tensor exact = target.sample(n, exact_gen).index_select(1, coords);
  exact = (exact - mu) * std::sqrt(T) + mu;
  at::Tensor sub = pooled.index_select(0, at::linspace(0, pooled.size(0) - 1, n).to(at::kLong));
  row["mmd"] = eval::mmd2(sub, exact);
  row["energy_distance"] = eval::energy_distance(sub, exact);
}

}  // namespace anila
