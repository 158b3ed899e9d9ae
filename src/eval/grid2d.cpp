// grid2d.cpp — exact grid evaluation of 2D energy models and sample-quality distances
// (see anila/eval/grid2d.h and docs/metrics.md, "Exact evaluation in 2D").
//
// Notation: R cells per axis, Δ = dx·dy cell area, g a cell centre, f the model's log
// unnormalised density, T its temperature, log Z = logsumexp_g(f(g)/T) + log Δ.
// B histogram bins per axis (B divides R, so a coarse bin is (R/B)² fine cells).
// Everything is computed in float64 on the CPU; grid points handed to f are float32.
#include "anila/eval/grid2d.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace anila::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// f on x [n, 2] in chunks, without autograd: [n] float64 on the CPU.
at::Tensor eval_field(const ScalarField& f, const at::Tensor& x, int64_t chunk) {
  TORCH_CHECK(chunk > 0, "eval: chunk must be positive, got ", chunk);
  at::NoGradGuard no_grad;
  const int64_t n = x.size(0);
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t len = std::min(chunk, n - start);
    at::Tensor out = f(x.narrow(0, start, len));
    TORCH_CHECK(out.numel() == len, "eval: the field returned ", out.numel(), " values for ", len,
                " points; expected f: [n]");
    parts.push_back(out.reshape({len}).to(at::kCPU, at::kDouble));
  }
  if (parts.empty()) return at::empty({0}, at::kDouble);
  return parts.size() == 1 ? parts[0] : at::cat(parts);
}

// x [n, d] as contiguous CPU float64, keeping only rows that are finite everywhere.
at::Tensor finite_rows(const at::Tensor& x) {
  at::Tensor d = x.to(at::kCPU, at::kDouble).contiguous();
  at::Tensor keep = at::isfinite(d).all(/*dim=*/1);
  if (keep.all().item<bool>()) return d;
  return d.index_select(0, keep.nonzero().reshape({-1})).contiguous();
}

// Bandwidth factors of mmd2, relative to the median distance m. The kernel sums are
// computed from u = exp(−r²/(2·(2m)²)) for the widest bandwidth by repeated squaring:
// h = m·{2, 1, 0.5, 0.2, 0.1} ↔ u^{1, 4, 16, 100, 400} (one exp per pair, not five).
constexpr std::array<double, 5> kMmdBandwidths = {0.1, 0.2, 0.5, 1.0, 2.0};
using KernelSums = std::array<double, 5>;  // indexed like kMmdBandwidths

inline void add_kernels(double r2, double inv_8m2, KernelSums& s) {
  const double u = std::exp(-r2 * inv_8m2);  // h = 2m
  const double u2 = u * u, u4 = u2 * u2;     // h = m
  const double u8 = u4 * u4, u16 = u8 * u8;  // h = m/2
  const double u32 = u16 * u16, u64 = u32 * u32;
  const double u100 = u64 * u32 * u4;  // h = m/5
  const double u200 = u100 * u100;     // h = m/10: u200²
  s[0] += u200 * u200;
  s[1] += u100;
  s[2] += u16;
  s[3] += u4;
  s[4] += u;
}

inline double sq_dist(const double* a, const double* b, int64_t d) {
  double r2 = 0;
  for (int64_t k = 0; k < d; ++k) {
    const double t = a[k] - b[k];
    r2 += t * t;
  }
  return r2;
}

// Σ_{i<j} k(a_i, a_j) for each bandwidth (a [n, d] contiguous float64).
KernelSums kernel_sums_within(const at::Tensor& a, double inv_8m2) {
  KernelSums s{};
  const int64_t n = a.size(0), d = a.size(1);
  const double* p = a.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) add_kernels(sq_dist(p + i * d, p + j * d, d), inv_8m2, s);
  return s;
}

// Σ_{i,j} k(a_i, b_j) for each bandwidth.
KernelSums kernel_sums_between(const at::Tensor& a, const at::Tensor& b, double inv_8m2) {
  KernelSums s{};
  const int64_t n = a.size(0), m = b.size(0), d = a.size(1);
  const double* p = a.data_ptr<double>();
  const double* q = b.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) add_kernels(sq_dist(p + i * d, q + j * d, d), inv_8m2, s);
  return s;
}

// Up to `k` evenly spaced rows of a.
at::Tensor spaced_rows(const at::Tensor& a, int64_t k) {
  const int64_t n = a.size(0);
  if (n <= k) return a;
  at::Tensor idx = at::arange(k, at::kLong).mul_(n).div_(k, "floor");
  return a.index_select(0, idx).contiguous();
}

// Median pairwise distance of the pooled rows (mean of the two middles for an even count).
double median_distance(const at::Tensor& pooled) {
  const int64_t n = pooled.size(0), d = pooled.size(1);
  const double* p = pooled.data_ptr<double>();
  std::vector<double> dist;
  dist.reserve(static_cast<size_t>(n * (n - 1) / 2));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) dist.push_back(std::sqrt(sq_dist(p + i * d, p + j * d, d)));
  if (dist.empty()) return 1.0;
  const size_t mid = dist.size() / 2;
  std::nth_element(dist.begin(), dist.begin() + mid, dist.end());
  double median = dist[mid];
  if (dist.size() % 2 == 0)
    median = 0.5 * (median + *std::max_element(dist.begin(), dist.begin() + mid));
  return median > 0 ? median : 1.0;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Grid

at::Tensor Grid2D::points() const {
  TORCH_CHECK(resolution > 0, "Grid2D: resolution must be positive, got ", resolution);
  TORCH_CHECK(box.xmax > box.xmin && box.ymax > box.ymin, "Grid2D: empty box [", box.xmin, ", ",
              box.xmax, "] x [", box.ymin, ", ", box.ymax, "]");
  const double dx = (box.xmax - box.xmin) / resolution, dy = (box.ymax - box.ymin) / resolution;
  at::Tensor centre = at::arange(resolution, at::kDouble).add_(0.5);
  at::Tensor xs = centre.mul(dx).add_(box.xmin);
  at::Tensor ys = centre.mul(dy).add_(box.ymin);
  // Row-major [iy, ix]: x varies fastest.
  at::Tensor gx = xs.unsqueeze(0).expand({resolution, resolution});
  at::Tensor gy = ys.unsqueeze(1).expand({resolution, resolution});
  return at::stack({gx.reshape({-1}), gy.reshape({-1})}, /*dim=*/1).to(at::kFloat);
}

double Grid2D::cell_area() const {
  return (box.xmax - box.xmin) / resolution * ((box.ymax - box.ymin) / resolution);
}

Json Grid2D::to_json() const {
  return {{"xmin", box.xmin},
          {"xmax", box.xmax},
          {"ymin", box.ymin},
          {"ymax", box.ymax},
          {"resolution", resolution}};
}

// ---------------------------------------------------------------------------------------
// Model density on the grid

GridDensity normalize_on_grid(const at::Tensor& log_unnormalized, double cell_area) {
  TORCH_CHECK(cell_area > 0, "normalize_on_grid: cell area must be positive, got ", cell_area);
  at::Tensor v = log_unnormalized.to(at::kCPU, at::kDouble);
  const double log_z =
      at::logsumexp(v.reshape({-1}), /*dim=*/0).item<double>() + std::log(cell_area);
  if (!std::isfinite(log_z)) return {at::full_like(v, kNaN), kNaN};
  return {v - log_z, log_z};
}

GridDensity grid_density(const ScalarField& f, double temperature, const Grid2D& grid,
                         int64_t chunk) {
  TORCH_CHECK(temperature > 0, "grid_density: temperature must be positive, got ", temperature);
  const int64_t r = grid.resolution;
  at::Tensor f_over_t = eval_field(f, grid.points(), chunk).div_(temperature).reshape({r, r});
  return normalize_on_grid(f_over_t, grid.cell_area());
}

at::Tensor grid_log_density(const ScalarField& f, double temperature, const Grid2D& grid,
                            int64_t chunk) {
  return grid_density(f, temperature, grid, chunk).log_density;
}

double grid_tv(const at::Tensor& log_p, const at::Tensor& log_q, double cell_area) {
  TORCH_CHECK(log_p.sizes() == log_q.sizes(), "grid_tv: shapes differ: ", log_p.sizes(), " vs ",
              log_q.sizes());
  at::Tensor p = log_p.to(at::kCPU, at::kDouble).exp();
  at::Tensor q = log_q.to(at::kCPU, at::kDouble).exp();
  return 0.5 * cell_area * (p - q).abs().sum().item<double>();
}

at::Tensor model_log_prob(const ScalarField& f, double temperature, double log_z,
                          const at::Tensor& x) {
  TORCH_CHECK(temperature > 0, "model_log_prob: temperature must be positive, got ", temperature);
  TORCH_CHECK(x.dim() == 2, "model_log_prob: expected x: [n, 2], got ", x.sizes());
  return eval_field(f, x, /*chunk=*/16384).div_(temperature).sub_(log_z);
}

// ---------------------------------------------------------------------------------------
// Sample distances

int64_t histogram_bins(int64_t resolution, int64_t bins) {
  TORCH_CHECK(resolution > 0 && bins > 0, "histogram_bins: need resolution, bins > 0, got ",
              resolution, ", ", bins);
  for (int64_t b = std::min(bins, resolution); b > 1; --b)
    if (resolution % b == 0) return b;
  return 1;
}

double histogram_tv(const at::Tensor& points, const at::Tensor& log_density, const Grid2D& grid,
                    int64_t bins) {
  const int64_t r = grid.resolution;
  TORCH_CHECK(points.dim() == 2 && points.size(1) == 2,
              "histogram_tv: expected points: [n, 2], got ", points.sizes());
  TORCH_CHECK(points.size(0) > 0, "histogram_tv: no points");
  TORCH_CHECK(log_density.dim() == 2 && log_density.size(0) == r && log_density.size(1) == r,
              "histogram_tv: expected log_density: [", r, ", ", r, "], got ", log_density.sizes());
  const int64_t b = histogram_bins(r, bins), w = r / b;

  // Reference: fine-cell masses summed over each (w × w) block, renormalised.
  at::Tensor ref = log_density.to(at::kCPU, at::kDouble).exp().reshape({b, w, b, w}).sum({1, 3});
  ref = (ref / ref.sum()).contiguous();
  const double* pref = ref.data_ptr<double>();

  // Empirical counts; non-finite or out-of-box rows are "outside".
  at::Tensor pts = points.to(at::kCPU, at::kDouble).contiguous();
  const double* p = pts.data_ptr<double>();
  const int64_t n = pts.size(0);
  const data::Box& box = grid.box;
  const double sx = b / (box.xmax - box.xmin), sy = b / (box.ymax - box.ymin);
  std::vector<int64_t> count(static_cast<size_t>(b * b), 0);
  int64_t outside = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = p[2 * i], y = p[2 * i + 1];
    // Written so that NaN compares false and lands outside.
    if (!(x >= box.xmin && x <= box.xmax && y >= box.ymin && y <= box.ymax)) {
      ++outside;
      continue;
    }
    const int64_t ix = std::min(b - 1, static_cast<int64_t>((x - box.xmin) * sx));
    const int64_t iy = std::min(b - 1, static_cast<int64_t>((y - box.ymin) * sy));
    ++count[static_cast<size_t>(iy * b + ix)];
  }
  double tv = 0;
  for (int64_t k = 0; k < b * b; ++k)
    tv += std::abs(static_cast<double>(count[static_cast<size_t>(k)]) / n - pref[k]);
  return 0.5 * tv + 0.5 * static_cast<double>(outside) / n;
}

double mmd2(const at::Tensor& x, const at::Tensor& y) {
  TORCH_CHECK(x.dim() == 2 && y.dim() == 2 && x.size(1) == y.size(1),
              "mmd2: expected x: [n, d], y: [m, d], got ", x.sizes(), " and ", y.sizes());
  const at::Tensor a = finite_rows(x), c = finite_rows(y);
  const int64_t n = a.size(0), m = c.size(0);
  if (n < 2 || m < 2) return kNaN;

  constexpr int64_t kMedianRowsPerSide = 500;
  const at::Tensor pooled =
      at::cat({spaced_rows(a, kMedianRowsPerSide), spaced_rows(c, kMedianRowsPerSide)})
          .contiguous();
  const double median = median_distance(pooled);
  const double inv_8m2 = 1.0 / (8.0 * median * median);

  const KernelSums kxx = kernel_sums_within(a, inv_8m2);
  const KernelSums kyy = kernel_sums_within(c, inv_8m2);
  const KernelSums kxy = kernel_sums_between(a, c, inv_8m2);
  double total = 0;
  for (size_t h = 0; h < kMmdBandwidths.size(); ++h) {
    total += kxx[h] / (0.5 * n * (n - 1)) + kyy[h] / (0.5 * m * (m - 1)) -
             2.0 * kxy[h] / (static_cast<double>(n) * m);
  }
  return total / kMmdBandwidths.size();
}

// ---------------------------------------------------------------------------------------
// Grid checks

GridCheck check_grid(const ScalarField& f, double temperature, const Grid2D& grid,
                     const GridDensity& model) {
  GridCheck c;
  if (!std::isfinite(model.log_z)) return c;
  const at::Tensor p = model.log_density.exp() * grid.cell_area();
  const int64_t r = grid.resolution;
  const double inner = r > 2 ? p.slice(0, 1, r - 1).slice(1, 1, r - 1).sum().item<double>() : 0;
  c.border_mass = std::max(0.0, p.sum().item<double>() - inner);
  Grid2D half = grid;
  half.resolution = std::max<int64_t>(2, r / 2);
  c.log_z_half = grid_density(f, temperature, half).log_z;
  const double shift = std::abs(model.log_z - c.log_z_half);
  if (c.border_mass > kMaxBorderMass) {
    c.warning = fmt::format(
        "the eval box is too small: {:.2g} of the model's mass lies in its outermost cells "
        "(log Z misses the mass outside); widen eval.box",
        c.border_mass);
  } else if (!(shift <= kMaxLogZShift)) {
    c.warning = fmt::format(
        "the eval grid is too coarse: log Z moves {:.3g} nats between resolution {} and {}; "
        "raise eval.resolution",
        shift, half.resolution, r);
  }
  return c;
}

// ---------------------------------------------------------------------------------------
// Report

Json Report2D::to_json() const {
  Json j = {{"kl", kl},
            {"tv", tv},
            {"nll", nll},
            {"log_z", log_z},
            {"sample_tv", sample_tv},
            {"sample_tv_model", sample_tv_model},
            {"sample_mmd", sample_mmd},
            {"sample_tv_floor", sample_tv_floor},
            {"data_log_density_exact", data_log_density_exact}};
  j["nll_data"] = nll_data;
  j["nll_points"] = nll_points;
  j["border_mass"] = grid_check.border_mass;
  j["log_z_half_res"] = grid_check.log_z_half;
  if (!grid_check.warning.empty()) j["grid_warning"] = grid_check.warning;
  if (!data_log_density_exact) {
    j["kl_note"] =
        "approximate: the data density is a KDE of the training points, so kl can be "
        "negative; nll (on " +
        std::string(nll_data == "held_out" ? "held-out points" : "fresh draws") +
        ") is the model metric";
  }
  return j;
}

Report2D evaluate_2d(const ScalarField& f, double temperature, const data::Dataset2D& data,
                     const at::Tensor& samples, const Grid2D& grid, const EvalOptions& options,
                     at::Generator& gen) {
  TORCH_CHECK(samples.dim() == 2 && samples.size(1) == 2,
              "evaluate_2d: expected samples: [n, 2], got ", samples.sizes());
  TORCH_CHECK(samples.size(0) > 0, "evaluate_2d: no samples");
  TORCH_CHECK(options.n_data > 0 && options.n_mmd > 1 && options.hist_bins > 0,
              "evaluate_2d: need n_data > 0, n_mmd > 1, hist_bins > 0");
  const int64_t r = grid.resolution;
  const double area = grid.cell_area();
  Report2D rep;

  // 1–2. Model and data densities on the grid.
  const GridDensity model = grid_density(f, temperature, grid);
  rep.log_z = model.log_z;
  rep.log_density = model.log_density;
  rep.grid_check = check_grid(f, temperature, grid, model);
  const at::Tensor data_grid = data.log_density(grid.points()).reshape({r, r});
  rep.data_log_density = normalize_on_grid(data_grid, area).log_density;

  // 3. KL and NLL on held-out points, else on fresh data.
  const at::Tensor held = data.held_out();
  const bool use_held = held.defined() && held.size(0) > 0;
  const at::Tensor x = use_held ? held : data.sample(options.n_data, gen);
  rep.nll_data = use_held ? "held_out" : "fresh_draws";
  rep.nll_points = x.size(0);
  const at::Tensor lp_data = data.log_density(x).to(at::kDouble);
  const at::Tensor lp_model = model_log_prob(f, temperature, model.log_z, x);
  rep.kl = (lp_data - lp_model).mean().item<double>();
  rep.nll = -lp_model.mean().item<double>();

  // 4. Grid TV.
  rep.tv = grid_tv(rep.log_density, rep.data_log_density, area);

  // 5. Histogram distances of the samples, and of exact data as the floor.
  const int64_t n = samples.size(0);
  rep.sample_tv = histogram_tv(samples, rep.data_log_density, grid, options.hist_bins);
  rep.sample_tv_model = histogram_tv(samples, rep.log_density, grid, options.hist_bins);
  rep.sample_tv_floor =
      histogram_tv(data.sample(n, gen), rep.data_log_density, grid, options.hist_bins);

  // 6. MMD² between the first n_mmd finite samples and fresh data.
  const at::Tensor finite = finite_rows(samples);
  const at::Tensor y = data.sample(options.n_mmd, gen);
  rep.sample_mmd = mmd2(finite.narrow(0, 0, std::min(options.n_mmd, finite.size(0))), y);

  // 7.
  rep.data_log_density_exact = data.log_density_exact();
  return rep;
}

}  // namespace anila::eval
