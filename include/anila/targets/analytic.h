// analytic.h — analytic target densities for testing samplers ("sampling mode").
//
// Notation: z: [B, D] chain states (B chains in D dimensions); f(z): [B] the log
// density; ∇_z f: [B, D]; n number of exact draws; s, κ, ρ, σ, a, b the
// parameters of the types below. Every target is a `LogDensity` whose f and
// ∇f are closed forms (no autograd), computed in z's dtype and on z's device,
// and comes with exact draws and exact moments, so a sampler's output can be
// checked against the truth. Definitions, moments and their derivations are in
// docs/targets.md.
//
// Types (the `type` key of a target section):
//   gaussian        N(0, s² I)                        scale s
//   gaussian-ill    N(0, diag(κ^(−i/(D−1))))          condition κ (= cond(Σ) exactly)
//   gaussian-corr   N(0, Σ), Σ_ij = ρ^|i−j|           rho ρ (AR(1), unit variances)
//   mixture         K equal-weight isotropic Gaussians components K, separation, sd
//   funnel          Neal's funnel: v ~ N(0, σ²), z_i | v ~ N(0, e^v)   scale σ
//   banana          Haario et al.'s twisted Gaussian  a, b
//
//   auto t = anila::targets::make_target({{"type", "funnel"}, {"dim", 10}});
//   auto [f, grad] = (*t)(z);        // z: [B, 10] -> f: [B], grad: [B, 10]
//   at::Tensor x = t->sample(1000, gen);   // [1000, 10] float64, exact draws
//   at::Tensor m = t->mean(), c = t->covariance();  // [10], [10, 10] float64
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "anila/common.h"
#include "anila/logdensity.h"

namespace anila::targets {

class AnalyticTarget : public LogDensity {
 public:
  // The type name ("gaussian", "funnel", ...).
  virtual std::string name() const = 0;
  // D, the number of coordinates.
  virtual int64_t dim() const = 0;
  // Exact draws: [n, D] float64 on the CPU, using only `gen` (a CPU generator).
  virtual at::Tensor sample(int64_t n, at::Generator& gen) const = 0;
  // Exact mean [D] and covariance [D, D], float64 on the CPU.
  virtual at::Tensor mean() const = 0;
  virtual at::Tensor covariance() const = 0;
  // True when f is normalised (exp f integrates to 1); every type here is.
  virtual bool normalised() const { return true; }
  // Resolved options, including "type" and "dim".
  virtual Json to_json() const = 0;
  // A 2D box {xmin, xmax, ymin, ymax} holding most (≳ 99%) of the mass of the
  // first two coordinates, for plots.
  virtual std::array<double, 4> box2d() const = 0;
  // xy: [n, 2] -> log density of the marginal of (z_0, z_1): [n], in xy's
  // dtype and device; undefined when D < 2 or the marginal has no closed form.
  virtual at::Tensor marginal2d_log_density(const at::Tensor& xy) const { return {}; }
};

// Builds a target from its config section ({"type": ..., "dim": ..., params});
// UserError on an unknown type (listing the valid ones), an unknown key or a
// value out of range. `path` names the section in messages.
std::unique_ptr<AnalyticTarget> make_target(const Json& section,
                                            const std::string& path = "target");

// The valid values of the `type` key.
std::vector<std::string> target_types();

}  // namespace anila::targets
