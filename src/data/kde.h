// kde.h — batched log-densities of Gaussian mixtures with one shared diagonal
// covariance (private to src/data): the closed-form mixtures, the quadrature
// over a curve, and the Gaussian KDE references all reduce to this.
//
// Notation: x [n, 2] query points; μ [Q, 2] centres (mixture means, quadrature
// nodes or KDE data points); w [Q] weights with Σ w = 1, passed as log w;
// h = (h_x, h_y) the per-axis standard deviations. Everything is float64.
//
//   log p(x) = log Σ_q w_q N(x; μ_q, diag(h_x², h_y²))
//
// `log_gauss_mixture` evaluates the sum directly (O(n·Q), exact to rounding).
// `GaussianKde` is the equal-weight case for many points: above
// kKdeDirectMaxPoints points it bins the data linearly onto a grid of spacing
// h/16, convolves with the kernel once (two matrix products), and answers
// queries by bilinear interpolation of the gridded log-density (O(1) per
// query; relative error below 1e-3, see docs/datasets.md). Queries off the
// grid, or where the gridded density underflowed, are evaluated directly.
#pragma once

#include <cstdint>
#include <mutex>

#include <ATen/core/Tensor.h>

#include "anila/data/dataset2d.h"

namespace anila::data::internal {

// x: [n, 2]; centres: [Q, 2]; log_weights: [Q] (log w_q, Σ w_q = 1);
// returns log p(x): [n] float64. NaN rows give NaN. Terms below e^-40/Q of
// the largest term are skipped (they cannot change a float64 sum).
at::Tensor log_gauss_mixture(const at::Tensor& x, const at::Tensor& centres,
                             const at::Tensor& log_weights, double hx, double hy);

// Scott's rule per axis: h_d = N^(-1/6) · sd_d (sd with N − 1 in the
// denominator). points: [N, 2]. An axis with zero spread borrows the other's
// bandwidth; both zero gives {0, 0} (the caller decides what to say).
std::pair<double, double> scott_bandwidth(const at::Tensor& points);

// Up to this many points a KDE is evaluated directly.
constexpr int64_t kKdeDirectMaxPoints = 1024;
// Grid nodes per bandwidth, and the most nodes per axis, of the gridded KDE.
constexpr int64_t kKdeNodesPerBandwidth = 16;
constexpr int64_t kKdeMaxNodesPerAxis = 1536;

// Equal-weight Gaussian KDE: p(x) = (1/N) Σ_i N(x; X_i, diag(h_x², h_y²)).
class GaussianKde {
 public:
  // points: [N, 2], N >= 1; hx, hy > 0; cover: a box the grid must include
  // (the dataset's evaluation box).
  GaussianKde(const at::Tensor& points, double hx, double hy, const Box& cover);

  // x: [n, 2] -> log p(x): [n] float64.
  at::Tensor log_density(const at::Tensor& x) const;

  bool uses_grid() const { return grid_; }
  double hx() const { return hx_; }
  double hy() const { return hy_; }

 private:
  at::Tensor points_;       // [N, 2] float64
  at::Tensor log_weights_;  // [N], all −log N
  double hx_, hy_;
  bool grid_ = false;
  double x0_ = 0, y0_ = 0, dx_ = 1, dy_ = 1;  // node (i, j) sits at (x0 + i·dx, y0 + j·dy)
  int64_t nx_ = 0, ny_ = 0;
  at::Tensor table_;  // [ny, nx] log p at the nodes; −inf where it underflowed
};

// A KDE built on first use (thread-safe), for datasets whose reference
// density is expensive to set up.
class LazyKde {
 public:
  template <class Build>
  const GaussianKde& get(Build build) const {
    std::call_once(once_, [&] { kde_ = std::make_unique<GaussianKde>(build()); });
    return *kde_;
  }

 private:
  mutable std::once_flag once_;
  mutable std::unique_ptr<GaussianKde> kde_;
};

}  // namespace anila::data::internal
