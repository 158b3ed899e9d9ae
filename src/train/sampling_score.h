// sampling_score.h (private) — how `anila sample` scores a sampler's draws
// against an analytic target at the temperature the sampler ran at.
//
// A sampler with noise scale ε targets exp(f/T), T = ε². For the Gaussian target
// types (gaussian, gaussian-ill, gaussian-corr) that law is N(μ, TΣ), with exact
// draws μ + √T (x − μ); the other types have no closed form at T ≠ 1, so their
// draws are not scored there (tempered_target_problem says why).
#pragma once

#include <string>

#include <ATen/core/Tensor.h>

#include "anila/common.h"

namespace anila {

namespace targets {
class AnalyticTarget;
}

// "" when exp(f/T) of `target` has closed-form moments and draws, else the reason.
std::string tempered_target_problem(const targets::AnalyticTarget& target, double T);

// Adds mean_error (max |mean − μ_i| / sd_i), var_error (max |var_i − σ_i²| / σ_i²),
// cov_error (‖Ĉ − Σ‖_F / ‖Σ‖_F), mmd and energy_distance to exact draws (seed) to
// `row`, on the stored coordinates `coords`, for the target at temperature T.
// draws: [S, C, D'].
void score_draws(Json& row, const at::Tensor& draws, const at::Tensor& coords,
                 const targets::AnalyticTarget& target, double T, uint64_t seed);

}  // namespace anila
