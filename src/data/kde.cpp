// kde.cpp — Gaussian mixture log-densities and the gridded KDE (see kde.h).
//
// Notation as in kde.h: x [n, 2] queries, μ [Q, 2] centres, log w [Q], h = (h_x, h_y).
// The direct sum works on blocks of rows: for each row it writes the exponents
// e_q = log w_q − ½((x−μ_q)_x²/h_x² + (x−μ_q)_y²/h_y²), keeps those within
// 40 + log Q of the row maximum m, exponentiates the kept ones in one vectorised
// at::exp_ call, and returns m + log Σ exp(e_q − m) − log(2π h_x h_y).
#include "data/kde.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

namespace anila::data::internal {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kInf = std::numeric_limits<double>::infinity();
// Exponent buffer per block of rows (2 MiB of float64): big enough to amortise
// the at::exp_ call, small enough to stay in cache.
constexpr int64_t kBlockElements = int64_t{1} << 18;
// A gridded density below this is treated as underflowed (evaluated directly).
constexpr double kTinyDensity = 1e-280;

at::Tensor as_points(const at::Tensor& x, const char* what) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == 2, what, ": expected points [n, 2], got ", x.sizes());
  TORCH_CHECK(x.device().is_cpu(), what, ": expected a CPU tensor, got ", x.device());
  return x.to(at::kDouble).contiguous();
}

// The symmetric Toeplitz kernel matrix K[i][j] = exp(−½((i − j)/k)²) on n nodes,
// k = kKdeNodesPerBandwidth nodes per bandwidth.
at::Tensor node_kernel(int64_t n) {
  at::Tensor idx = at::arange(n, at::kDouble);
  const double var = double(kKdeNodesPerBandwidth * kKdeNodesPerBandwidth) - 1.0 / 6.0;
  at::Tensor diff = idx.unsqueeze(1) - idx.unsqueeze(0);
  return (diff * diff * (-0.5 / var)).exp_();
}

// Catmull–Rom cubic weights for the nodes at −1, 0, 1, 2 at offset t ∈ [0, 1]:
// the interpolant reproduces quadratics, so its error is O(δ³).
void catmull_rom_weights(double t, double w[4]) {
  const double t2 = t * t, t3 = t2 * t;
  w[0] = 0.5 * (-t3 + 2 * t2 - t);
  w[1] = 0.5 * (3 * t3 - 5 * t2 + 2);
  w[2] = 0.5 * (-3 * t3 + 4 * t2 + t);
  w[3] = 0.5 * (t3 - t2);
}

}  // namespace

at::Tensor log_gauss_mixture(const at::Tensor& x, const at::Tensor& centres,
                             const at::Tensor& log_weights, double hx, double hy) {
  const at::Tensor xs = as_points(x, "log_gauss_mixture(x)");
  const at::Tensor mu = as_points(centres, "log_gauss_mixture(centres)");
  const int64_t n = xs.size(0), q_count = mu.size(0);
  TORCH_CHECK(q_count > 0, "log_gauss_mixture: no centres");
  TORCH_CHECK(log_weights.dim() == 1 && log_weights.size(0) == q_count,
              "log_gauss_mixture: expected log_weights [", q_count, "], got ", log_weights.sizes());
  TORCH_CHECK(hx > 0 && hy > 0, "log_gauss_mixture: bandwidths must be > 0, got ", hx, ", ", hy);

  const at::Tensor lw = log_weights.to(at::kDouble).contiguous();
  std::vector<double> cx(q_count), cy(q_count), w(q_count);
  {
    const double* m = mu.data_ptr<double>();
    const double* l = lw.data_ptr<double>();
    for (int64_t q = 0; q < q_count; ++q) cx[q] = m[2 * q], cy[q] = m[2 * q + 1], w[q] = l[q];
  }
  const double ax = -0.5 / (hx * hx), ay = -0.5 / (hy * hy);
  const double log_norm = -std::log(2 * kPi * hx * hy);
  const double prune = 40.0 + std::log(double(q_count));
  const int64_t rows = std::max<int64_t>(1, kBlockElements / q_count);

  at::Tensor out = at::empty({n}, at::kDouble);
  const double* xp = xs.data_ptr<double>();
  double* op = out.data_ptr<double>();
  at::parallel_for(0, n, rows, [&](int64_t begin, int64_t end) {
    at::Tensor buffer = at::empty({std::min(rows, end - begin) * q_count}, at::kDouble);
    double* kept = buffer.data_ptr<double>();
    std::vector<double> e(q_count), row_max(rows);
    std::vector<int64_t> offset(rows + 1);
    for (int64_t start = begin; start < end; start += rows) {
      const int64_t stop = std::min(end, start + rows);
      int64_t k = 0;
      for (int64_t i = start; i < stop; ++i) {
        const double a = xp[2 * i], b = xp[2 * i + 1];
        offset[i - start] = k;
        double m = -kInf;
        for (int64_t q = 0; q < q_count; ++q) {
          const double u = a - cx[q], v = b - cy[q];
          e[q] = w[q] + ax * u * u + ay * v * v;
          m = e[q] > m ? e[q] : m;
        }
        row_max[i - start] = m;
        if (!std::isfinite(m)) continue;  // NaN or infinite query: handled below
        const double limit = m - prune;
        for (int64_t q = 0; q < q_count; ++q) {
          kept[k] = e[q] - m;
          k += e[q] > limit;
        }
      }
      offset[stop - start] = k;
      if (k > 0) buffer.narrow(0, 0, k).exp_();
      for (int64_t i = start; i < stop; ++i) {
        const double a = xp[2 * i], b = xp[2 * i + 1];
        const double m = row_max[i - start];
        if (std::isnan(a) || std::isnan(b)) {
          op[i] = std::numeric_limits<double>::quiet_NaN();
        } else if (!std::isfinite(m)) {
          op[i] = -kInf;  // an infinite query (or one so far out every term is −inf)
        } else {
          double s = 0;
          for (int64_t j = offset[i - start]; j < offset[i - start + 1]; ++j) s += kept[j];
          op[i] = m + std::log(s) + log_norm;
        }
      }
    }
  });
  return out;
}

std::pair<double, double> scott_bandwidth(const at::Tensor& points) {
  const at::Tensor p = as_points(points, "scott_bandwidth");
  const int64_t n = p.size(0);
  TORCH_CHECK(n >= 2, "scott_bandwidth: need at least 2 points, got ", n);
  const at::Tensor sd = p.std(/*dim=*/0, /*unbiased=*/true);
  const double factor = std::pow(double(n), -1.0 / 6.0);
  double hx = factor * sd[0].item<double>(), hy = factor * sd[1].item<double>();
  if (!(hx > 0)) hx = hy;
  if (!(hy > 0)) hy = hx;
  if (!(hx > 0)) return {0.0, 0.0};
  return {hx, hy};
}

GaussianKde::GaussianKde(const at::Tensor& points, double hx, double hy, const Box& cover)
    : points_(as_points(points, "GaussianKde(points)")), hx_(hx), hy_(hy) {
  const int64_t n = points_.size(0);
  TORCH_CHECK(n >= 1, "GaussianKde: no points");
  TORCH_CHECK(hx > 0 && hy > 0, "GaussianKde: bandwidths must be > 0, got ", hx, ", ", hy);
  log_weights_ = at::full({n}, -std::log(double(n)), at::kDouble);
  if (n <= kKdeDirectMaxPoints) return;

  // The grid holds the cover box and every point with 4 bandwidths to spare,
  // plus two nodes so that every query in there has its 4×4 stencil.
  const at::Tensor lo = std::get<0>(points_.min(0)), hi = std::get<0>(points_.max(0));
  const double xmin = std::min(cover.xmin, lo[0].item<double>() - 4 * hx);
  const double xmax = std::max(cover.xmax, hi[0].item<double>() + 4 * hx);
  const double ymin = std::min(cover.ymin, lo[1].item<double>() - 4 * hy);
  const double ymax = std::max(cover.ymax, hi[1].item<double>() + 4 * hy);
  dx_ = hx / kKdeNodesPerBandwidth;
  dy_ = hy / kKdeNodesPerBandwidth;
  const double span_x = std::ceil((xmax - xmin) / dx_) + 5,
               span_y = std::ceil((ymax - ymin) / dy_) + 5;
  if (!(span_x <= kKdeMaxNodesPerAxis && span_y <= kKdeMaxNodesPerAxis)) return;  // direct
  nx_ = int64_t(span_x);
  ny_ = int64_t(span_y);
  x0_ = xmin - 2 * dx_;
  y0_ = ymin - 2 * dy_;

  // Linear binning: each point spreads its weight over the four nodes around it
  // (this keeps the total weight and the mean of every point).
  at::Tensor counts = at::zeros({ny_, nx_}, at::kDouble);
  double* c = counts.data_ptr<double>();
  const double* p = points_.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    const double fx = (p[2 * i] - x0_) / dx_, fy = (p[2 * i + 1] - y0_) / dy_;
    const int64_t ix = std::clamp<int64_t>(int64_t(fx), 0, nx_ - 2);
    const int64_t iy = std::clamp<int64_t>(int64_t(fy), 0, ny_ - 2);
    const double tx = fx - ix, ty = fy - iy;
    double* row = c + iy * nx_ + ix;
    row[0] += (1 - tx) * (1 - ty);
    row[1] += tx * (1 - ty);
    row[nx_] += (1 - tx) * ty;
    row[nx_ + 1] += tx * ty;
  }
  // Separable convolution: D = K_y · counts · K_xᵀ, then normalise.
  at::Tensor density = at::matmul(at::matmul(node_kernel(ny_), counts), node_kernel(nx_));
  const double shrink = double(kKdeNodesPerBandwidth * kKdeNodesPerBandwidth) - 1.0 / 6.0;
  const double kernel_area =
      2 * kPi * hx * hy * shrink / double(kKdeNodesPerBandwidth * kKdeNodesPerBandwidth);
  density.mul_(1.0 / (double(n) * kernel_area));
  table_ = at::where(density > kTinyDensity, density.log(), at::full({}, -kInf, at::kDouble));
  grid_ = true;
}

at::Tensor GaussianKde::log_density(const at::Tensor& x) const {
  const at::Tensor xs = as_points(x, "GaussianKde::log_density");
  if (!grid_) return log_gauss_mixture(xs, points_, log_weights_, hx_, hy_);

  const int64_t n = xs.size(0);
  at::Tensor out = at::empty({n}, at::kDouble);
  const double* xp = xs.data_ptr<double>();
  const double* t = table_.data_ptr<double>();
  double* op = out.data_ptr<double>();
  std::vector<int64_t> direct;  // rows off the grid or next to an underflowed node
  for (int64_t i = 0; i < n; ++i) {
    const double fx = (xp[2 * i] - x0_) / dx_, fy = (xp[2 * i + 1] - y0_) / dy_;
    // The 4×4 stencil of nodes ix−1..ix+2, iy−1..iy+2 must lie on the grid.
    if (!(fx >= 1 && fx <= nx_ - 2 && fy >= 1 && fy <= ny_ - 2)) {
      direct.push_back(i);
      continue;
    }
    const int64_t ix = std::min<int64_t>(int64_t(fx), nx_ - 3);
    const int64_t iy = std::min<int64_t>(int64_t(fy), ny_ - 3);
    double wx[4], wy[4];
    catmull_rom_weights(fx - ix, wx);
    catmull_rom_weights(fy - iy, wy);
    double value = 0;
    bool finite = true;
    for (int r = 0; r < 4; ++r) {
      const double* row = t + (iy - 1 + r) * nx_ + (ix - 1);
      const double along = wx[0] * row[0] + wx[1] * row[1] + wx[2] * row[2] + wx[3] * row[3];
      finite = finite && row[0] > -kInf && row[1] > -kInf && row[2] > -kInf && row[3] > -kInf;
      value += wy[r] * along;
    }
    if (!finite) {
      direct.push_back(i);
      continue;
    }
    op[i] = value;
  }
  if (!direct.empty()) {
    const at::Tensor idx = at::tensor(direct, at::kLong);
    out.index_copy_(0, idx,
                    log_gauss_mixture(xs.index_select(0, idx), points_, log_weights_, hx_, hy_));
  }
  return out;
}

}  // namespace anila::data::internal
