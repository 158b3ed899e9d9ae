// grid2d.h — exact evaluation of 2D energy models on a grid, and sample-quality
// distances (docs/metrics.md, "Exact evaluation in 2D").
//
// Notation: f is the model's log unnormalised density, T = ε² its temperature,
// p_θ(x) = exp(f(x)/T) / Z. On an R×R grid of cell centres over a box with
// cell area Δ:  log Z = logsumexp_g(f(g)/T) + log Δ.
//
// Two different things are measured, and reported side by side:
//   model quality  — kl = KL(p_data ‖ p_θ) in nats (Monte Carlo on fresh data
//                    with the data's log-density), tv (grid), nll = −E log p_θ(x)
//   sample quality — sample_tv: total variation between the histogram of chain
//                    samples and p_data on a coarser histogram grid;
//                    sample_tv_model: the same against p_θ; sample_mmd: MMD²
//                    between samples and fresh data. sample_tv_floor is the
//                    sample_tv of an equally large batch of exact data samples
//                    (the value a perfect sampler would get).
// In the short-run regime (noise-initialised chains, small ε) the two disagree
// by design: good samples, poor density.
#pragma once

#include <functional>
#include <string>

#include <ATen/core/Tensor.h>

#include "anila/common.h"
#include "anila/data/dataset2d.h"

namespace anila::eval {

// A batched log unnormalised density: x [n, 2] -> f [n] (no gradient needed).
using ScalarField = std::function<at::Tensor(const at::Tensor&)>;

struct Grid2D {
  data::Box box;
  int64_t resolution = 256;   // R: cells per axis
  at::Tensor points() const;  // [R*R, 2] float32 cell centres, row-major [iy, ix]
  double cell_area() const;
  Json to_json() const;  // {"xmin","xmax","ymin","ymax","resolution"}
};

// Normalised log-density of exp(f/T) on the grid: [R, R] float64, indexed [iy, ix].
// f is evaluated on grid.points() (float32, CPU) in chunks of `chunk` points under
// at::NoGradGuard; its output may live on any device and have any float dtype.
// Never throws on bad values: if f is NaN or +inf anywhere (or −inf everywhere), so
// that log Z is not finite, every entry is NaN and callers decide. −inf entries of
// an otherwise finite f are cells of zero density.
at::Tensor grid_log_density(const ScalarField& f, double temperature, const Grid2D& grid,
                            int64_t chunk = 16384);

// A normalised grid log-density together with its log normaliser.
struct GridDensity {
  at::Tensor log_density;  // [R, R] float64, indexed [iy, ix]
  double log_z = 0;        // logsumexp_g(log_unnormalised) + log Δ; NaN if not finite
};

// grid_log_density plus log Z of exp(f/T) (same chunking and NaN rules).
GridDensity grid_density(const ScalarField& f, double temperature, const Grid2D& grid,
                         int64_t chunk = 16384);

// Normalises log unnormalised grid values [R, R] (any float dtype) so that
// Σ exp(log p) Δ = 1. All NaN (log_z NaN) when the total mass is not finite and positive.
GridDensity normalize_on_grid(const at::Tensor& log_unnormalized, double cell_area);

// Total variation between two normalised grid log-densities [R, R]: ½ Σ |p − q| Δ.
double grid_tv(const at::Tensor& log_p, const at::Tensor& log_q, double cell_area);

// log p_θ = f(x)/T − log Z at points x [n, 2] (f under NoGradGuard). Returns [n] float64.
at::Tensor model_log_prob(const ScalarField& f, double temperature, double log_z,
                          const at::Tensor& x);

// Histogram TV between points [n, 2] and a grid log-density [R, R] (normalised on
// `grid`), using `bins`×`bins` bins over the grid box (R must be a multiple of
// `bins`, or bins is reduced to a divisor). Points outside the box count as mass
// outside (adding to the TV).
// Precisely: with B = histogram_bins(R, bins), the reference mass of a coarse bin is
// the sum of exp(log_density)·Δ over its fine cells, renormalised to sum 1; the
// empirical mass is count/n over all n points; rows that are outside the closed box
// or not finite (NaN/inf, a broken sampler) form the outside fraction o, and
// TV = ½ Σ_bins |emp − ref| + ½ o. NaN if log_density has NaN.
double histogram_tv(const at::Tensor& points, const at::Tensor& log_density, const Grid2D& grid,
                    int64_t bins);

// The bins per axis histogram_tv uses: the largest divisor of R that is <= bins.
int64_t histogram_bins(int64_t resolution, int64_t bins);

// Unbiased MMD² with a Gaussian kernel, averaged over bandwidths {0.1, 0.2, 0.5, 1, 2}
// × median pairwise distance of the pooled points: x [n, d], y [m, d].
// Float64; diagonal terms excluded (so it can be slightly negative). Rows that are not
// finite are dropped first; NaN if fewer than 2 rows remain on either side. The median
// uses at most 500 evenly spaced rows of each side (so mmd2(x, y) == mmd2(y, x)), the
// mean of the two middle distances for an even count, and 1 if it is 0.
double mmd2(const at::Tensor& x, const at::Tensor& y);

// Checks that a grid normalises exp(f/T) well enough to trust log Z:
//   border_mass — the model's mass in the outermost ring of cells (box too small
//                 when it exceeds kMaxBorderMass = 1e-3);
//   log_z_half  — log Z on a grid of half the resolution over the same box (grid
//                 too coarse when |log_z − log_z_half| exceeds kMaxLogZShift = 0.05 nats);
//   warning     — "" or one sentence naming what is wrong and what to change.
struct GridCheck {
  double border_mass = 0, log_z_half = 0;
  std::string warning;
};
inline constexpr double kMaxBorderMass = 1e-3, kMaxLogZShift = 0.05;
// `model` is grid_density(f, T, grid); costs one evaluation of f on the half grid.
GridCheck check_grid(const ScalarField& f, double temperature, const Grid2D& grid,
                     const GridDensity& model);

struct Report2D {
  double kl = 0, tv = 0, nll = 0, log_z = 0;  // model quality
  GridCheck grid_check;                       // how far log Z can be trusted
  double sample_tv = 0, sample_tv_model = 0;  // sample quality
  double sample_mmd = 0, sample_tv_floor = 0;
  bool data_log_density_exact = true;
  // Where kl and nll were computed: "held_out" (the data's held_out() points, e.g. a
  // CSV file's eval.holdout fraction, never trained on) or "fresh_draws" (n_data
  // new draws of a generator: held out by construction); nll_points: how many.
  std::string nll_data = "fresh_draws";
  int64_t nll_points = 0;
  at::Tensor log_density;       // [R, R] model, float64
  at::Tensor data_log_density;  // [R, R] data, float64
  // All scalars + grid-free fields; with border_mass, log_z_half_res, grid_warning
  // (when set), and where the data's density is a KDE (not exact) kl_note saying
  // that kl is an approximation that can be negative (nll is the model metric).
  Json to_json() const;
};

struct EvalOptions {
  int64_t resolution = 256;  // grid cells per axis, for callers building the Grid2D
                             // (evaluate_2d uses the grid it is given)
  int64_t hist_bins = 64;    // histogram bins per axis for sample_tv
  int64_t n_data = 10000;    // fresh data points for KL/NLL
  int64_t n_mmd = 2000;      // points per side for MMD
};

// Everything at once. samples: [n, 2] chain samples drawn as training draws them.
// `gen` supplies the fresh data draws (n_data for kl/nll, n for sample_tv_floor,
// n_mmd for sample_mmd, in that order).
// - kl, nll: Monte Carlo on fresh data (or, where the data holds points out of
//   training, on all of data.held_out() instead: no n_data draw then) with
//   data.log_density (exact or KDE) and the grid log Z of the model; tv: grid_tv
//   between the model and the data's
//   log-density renormalised on the grid.
// - Non-finite sample rows count as outside the box for the histograms and are
//   dropped (before taking the first n_mmd) for MMD.
// - If f is NaN or +inf somewhere on the grid, log_z, kl, tv, nll and sample_tv_model
//   are NaN (and so is kl/nll if f is NaN at a data point); nothing is thrown.
Report2D evaluate_2d(const ScalarField& f, double temperature, const data::Dataset2D& data,
                     const at::Tensor& samples, const Grid2D& grid, const EvalOptions& options,
                     at::Generator& gen);

}  // namespace anila::eval
