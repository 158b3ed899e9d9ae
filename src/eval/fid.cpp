// fid.cpp — Fréchet distance, KID and precision/recall in a feature space (definitions and
// references in anila/eval/fid.h).
//
// Notation: N samples of D features per side; m the KID subset size; k the neighbour rank
// of precision/recall. Features stay on their device and are converted to float64 there
// chunk by chunk; the D×D linear algebra of the Fréchet distance runs on the CPU.
#include "anila/eval/fid.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "anila/io/files.h"

namespace anila::eval {

namespace {

constexpr int64_t kChunkElements = int64_t{2} << 20;  // float64 entries per chunk (16 MB)
constexpr double kFdRoundOff = 1e-9;                  // relative size of a negative FD set to 0

std::string shape_text(const at::Tensor& t) {
  return anila::shape_text(t.sizes());
}

// UserError unless every value of x is finite (x real).
void check_finite(const at::Tensor& x, const char* fn, const char* name) {
  if (x.numel() > 0 && !at::isfinite(x).all().item<bool>()) {
    throw UserError(
        fmt::format("{}: {} contains NaN or Inf values; features must be finite", fn, name));
  }
}

// features must be a finite real [N, D] tensor with N >= min_rows and D >= 1.
void check_features(const at::Tensor& x, const char* fn, const char* name, int64_t min_rows = 2) {
  if (!x.defined() || x.dim() != 2) {
    throw UserError(
        fmt::format("{}: {} must be a 2-D tensor [N, D] (N samples, D features), got {}", fn, name,
                    x.defined() ? "shape " + shape_text(x) : "no tensor"));
  }
  if (at::isComplexType(x.scalar_type()) || x.scalar_type() == at::kBool) {
    throw UserError(fmt::format("{}: {} must hold real numbers, got dtype {}", fn, name,
                                c10::toString(x.scalar_type())));
  }
  if (x.size(0) < min_rows) {
    throw UserError(
        fmt::format("{}: {} needs at least {} samples, got N = {}", fn, name, min_rows, x.size(0)));
  }
  if (x.size(1) < 1) {
    throw UserError(fmt::format("{}: {} has no feature coordinates (D = 0)", fn, name));
  }
  check_finite(x, fn, name);
}

void check_same_dim(const at::Tensor& a, const at::Tensor& b, const char* fn, const char* name_a,
                    const char* name_b) {
  if (a.size(1) != b.size(1)) {
    throw UserError(fmt::format("{}: feature dimensions differ: {} has D = {}, {} has D = {}", fn,
                                name_a, a.size(1), name_b, b.size(1)));
  }
}

// Rows per chunk so that a chunk of `rows` × `cols` float64 entries stays near kChunkElements.
int64_t chunk_rows(int64_t cols) {
  return std::max<int64_t>(1, kChunkElements / std::max<int64_t>(cols, 1));
}

// mean [D] and cov [D, D] must be finite float-convertible tensors of matching D.
void check_stats(const FeatureStats& s, const char* fn, const char* name) {
  if (!s.mean.defined() || !s.cov.defined() || s.mean.dim() != 1 || s.cov.dim() != 2 ||
      s.cov.size(0) != s.mean.size(0) || s.cov.size(1) != s.mean.size(0) || s.mean.size(0) < 1) {
    throw UserError(
        fmt::format("{}: {} must have mean [D] and cov [D, D] with D >= 1, got mean {} and cov {}",
                    fn, name, s.mean.defined() ? shape_text(s.mean) : "(none)",
                    s.cov.defined() ? shape_text(s.cov) : "(none)"));
  }
  check_finite(s.mean, fn, (std::string(name) + ".mean").c_str());
  check_finite(s.cov, fn, (std::string(name) + ".cov").c_str());
}

// Symmetric PSD square root of (S + Sᵀ)/2 (S [D, D] float64), negative eigenvalues set to 0.
at::Tensor psd_sqrt(const at::Tensor& s) {
  auto [w, v] = at::linalg_eigh((s + s.t()) / 2);
  return (v * w.clamp_min(0).sqrt()).mm(v.t());
}

// Sum over i ≠ j (off_diagonal) or all i, j of k(x_i, y_j) = (x_iᵀ y_j / D + 1)³; x, y float64.
double poly_kernel_sum(const at::Tensor& x, const at::Tensor& y, bool off_diagonal) {
  at::Tensor k = (x.mm(y.t()) / static_cast<double>(x.size(1)) + 1).pow(3);
  double total = k.sum().item<double>();
  if (off_diagonal) total -= k.diagonal().sum().item<double>();
  return total;
}

// radius[i] = distance from x[i] to its k-th nearest other row of x: [N] float64.
at::Tensor knn_radii(const at::Tensor& x, int64_t k) {
  const int64_t n = x.size(0);
  const int64_t rows = chunk_rows(n);
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < n; i += rows) {
    at::Tensor d = at::cdist(x.slice(0, i, std::min(n, i + rows)), x);  // [c, N]
    // Index k of the ascending distances: position 0 is the sample itself (distance 0), so
    // the k-th nearest other sample sits at k. An exact duplicate also has distance 0 and may
    // take position 0 instead; the value at k is the same either way.
    parts.push_back(std::get<0>(at::kthvalue(d, k + 1, /*dim=*/1)));
  }
  return at::cat(parts);
}

// Fraction of rows of `query` within distance <= radius[j] of at least one row j of `ref`.
double fraction_covered(const at::Tensor& query, const at::Tensor& ref, const at::Tensor& radius) {
  const int64_t n = query.size(0);
  const int64_t rows = chunk_rows(ref.size(0));
  int64_t covered = 0;
  for (int64_t i = 0; i < n; i += rows) {
    at::Tensor d = at::cdist(query.slice(0, i, std::min(n, i + rows)), ref);  // [c, Nref]
    covered += d.le(radius.unsqueeze(0)).any(/*dim=*/1).sum().item<int64_t>();
  }
  return static_cast<double>(covered) / static_cast<double>(n);
}

}  // namespace

// ---- Fréchet distance ----------------------------------------------------------------

FeatureStats feature_stats(const at::Tensor& features) {
  constexpr const char* kFn = "feature_stats";
  check_features(features, kFn, "features");
  const at::Tensor x = features.detach();
  const int64_t n = x.size(0), d = x.size(1);
  const int64_t rows = chunk_rows(d);
  const auto f64 = x.options().dtype(at::kDouble);

  at::Tensor sum = at::zeros({d}, f64);
  for (int64_t i = 0; i < n; i += rows)
    sum += x.slice(0, i, std::min(n, i + rows)).to(at::kDouble).sum(0);
  const at::Tensor mean = sum / static_cast<double>(n);

  // Two passes (mean first, then centred cross products) so large means do not cancel.
  at::Tensor scatter = at::zeros({d, d}, f64);
  for (int64_t i = 0; i < n; i += rows) {
    const at::Tensor c = x.slice(0, i, std::min(n, i + rows)).to(at::kDouble) - mean;
    scatter.addmm_(c.t(), c);
  }
  FeatureStats stats;
  stats.mean = mean.cpu();
  stats.cov = (scatter / static_cast<double>(n - 1)).cpu();
  stats.n = n;
  return stats;
}

double frechet_distance(const FeatureStats& a, const FeatureStats& b) {
  constexpr const char* kFn = "frechet_distance";
  check_stats(a, kFn, "stats a");
  check_stats(b, kFn, "stats b");
  if (a.mean.size(0) != b.mean.size(0)) {
    throw UserError(
        fmt::format("{}: feature dimensions differ: stats a has D = {}, stats b has D = {}", kFn,
                    a.mean.size(0), b.mean.size(0)));
  }
  const auto cpu64 = [](const at::Tensor& t) { return t.detach().to(at::kCPU, at::kDouble); };
  const at::Tensor mu_a = cpu64(a.mean), mu_b = cpu64(b.mean);
  const at::Tensor cov_a = cpu64(a.cov), cov_b = cpu64(b.cov);

  const double mean_term = (mu_a - mu_b).square().sum().item<double>();
  const double tr_a = cov_a.trace().item<double>();
  const double tr_b = cov_b.trace().item<double>();
  // tr((Σa^{1/2} Σb Σa^{1/2})^{1/2}) = nuclear norm of Σa^{1/2} Σb^{1/2} (see the header).
  const double tr_cross =
      at::linalg_svdvals(psd_sqrt(cov_a).mm(psd_sqrt(cov_b))).sum().item<double>();

  const double fd = mean_term + tr_a + tr_b - 2 * tr_cross;
  const double scale = mean_term + std::abs(tr_a) + std::abs(tr_b);
  if (fd < 0 && fd > -kFdRoundOff * scale) return 0.0;
  return fd;
}

double frechet_distance(const at::Tensor& features_a, const at::Tensor& features_b) {
  constexpr const char* kFn = "frechet_distance";
  check_features(features_a, kFn, "features_a");
  check_features(features_b, kFn, "features_b");
  check_same_dim(features_a, features_b, kFn, "features_a", "features_b");
  return frechet_distance(feature_stats(features_a), feature_stats(features_b));
}

void save_feature_stats(const std::string& dir, const FeatureStats& stats) {
  check_stats(stats, "save_feature_stats", "stats");
  io::make_dirs(dir);
  io::write_npy(dir + "/mu.npy", stats.mean.detach().to(at::kCPU, at::kDouble));
  io::write_npy(dir + "/sigma.npy", stats.cov.detach().to(at::kCPU, at::kDouble));
  io::write_npy(dir + "/n.npy", at::full({1}, stats.n, at::kLong));
}

FeatureStats load_feature_stats(const std::string& dir) {
  FeatureStats stats;
  const std::string mu_path = dir + "/mu.npy", sigma_path = dir + "/sigma.npy",
                    n_path = dir + "/n.npy";
  const at::Tensor mu = io::read_npy(mu_path);
  const at::Tensor sigma = io::read_npy(sigma_path);
  const at::Tensor n = io::read_npy(n_path);
  if (mu.dim() != 1 || !at::isFloatingType(mu.scalar_type())) {
    throw UserError("feature stats file " + mu_path + ": expected a float vector [D], got shape " +
                    shape_text(mu));
  }
  const int64_t d = mu.size(0);
  if (sigma.dim() != 2 || sigma.size(0) != d || sigma.size(1) != d ||
      !at::isFloatingType(sigma.scalar_type())) {
    throw UserError(
        fmt::format("feature stats file {}: expected a float matrix [{}, {}] to match "
                    "mu.npy, got shape {}",
                    sigma_path, d, d, shape_text(sigma)));
  }
  if (n.numel() != 1 || n.scalar_type() != at::kLong) {
    throw UserError("feature stats file " + n_path +
                    ": expected one int64 sample count, got shape " + shape_text(n));
  }
  stats.mean = mu.to(at::kDouble);
  stats.cov = sigma.to(at::kDouble);
  stats.n = n.item<int64_t>();
  return stats;
}

// ---- kernel inception distance ---------------------------------------------------------

KidResult kernel_inception_distance(const at::Tensor& fa, const at::Tensor& fb, at::Generator& gen,
                                    int64_t subsets, int64_t subset_size) {
  constexpr const char* kFn = "kernel_inception_distance";
  check_features(fa, kFn, "fa");
  check_features(fb, kFn, "fb");
  check_same_dim(fa, fb, kFn, "fa", "fb");
  if (subsets < 1) {
    throw UserError(fmt::format("{}: subsets must be >= 1, got {}", kFn, subsets));
  }
  if (subset_size < 2) {
    throw UserError(fmt::format("{}: subset_size must be >= 2, got {}", kFn, subset_size));
  }
  const at::Tensor a = fa.detach().to(at::kDouble);
  const at::Tensor b = fb.detach().to(a.device(), at::kDouble);  // one device for the products
  const int64_t na = a.size(0), nb = b.size(0);
  const int64_t m = std::min({subset_size, na, nb});
  const auto index_options = at::TensorOptions().dtype(at::kLong).device(gen.device());
  const auto md = static_cast<double>(m);

  std::vector<double> est(static_cast<size_t>(subsets));
  for (int64_t s = 0; s < subsets; ++s) {
    const at::Tensor ia = at::randperm(na, gen, index_options).slice(0, 0, m).to(a.device());
    const at::Tensor ib = at::randperm(nb, gen, index_options).slice(0, 0, m).to(a.device());
    const at::Tensor x = a.index_select(0, ia), y = b.index_select(0, ib);
    est[static_cast<size_t>(s)] = poly_kernel_sum(x, x, /*off_diagonal=*/true) / (md * (md - 1)) +
                                  poly_kernel_sum(y, y, /*off_diagonal=*/true) / (md * (md - 1)) -
                                  2 * poly_kernel_sum(x, y, /*off_diagonal=*/false) / (md * md);
  }

  KidResult r;
  r.subsets = subsets;
  r.subset_size = m;
  double sum = 0;
  for (double e : est) sum += e;
  r.mean = sum / static_cast<double>(subsets);
  if (subsets < 2) {
    r.sd = r.se = std::numeric_limits<double>::quiet_NaN();
  } else {
    double ss = 0;
    for (double e : est) ss += (e - r.mean) * (e - r.mean);
    r.sd = std::sqrt(ss / static_cast<double>(subsets - 1));
    r.se = r.sd / std::sqrt(static_cast<double>(subsets));
  }
  return r;
}

// ---- precision and recall ----------------------------------------------------------------

PrecisionRecall precision_recall(const at::Tensor& real, const at::Tensor& fake, int64_t k) {
  constexpr const char* kFn = "precision_recall";
  check_features(real, kFn, "real");
  check_features(fake, kFn, "fake");
  check_same_dim(real, fake, kFn, "real", "fake");
  if (k < 1 || k >= real.size(0) || k >= fake.size(0)) {
    throw UserError(fmt::format(
        "{}: k must be >= 1 and smaller than both sample counts (Nr = {}, Nf = {}), got k = {}",
        kFn, real.size(0), fake.size(0), k));
  }
  // Both sides on real's device (cdist needs one device).
  const at::Tensor r = real.detach().to(at::kDouble);
  const at::Tensor f = fake.detach().to(r.device(), at::kDouble);
  PrecisionRecall out;
  out.k = k;
  out.precision = fraction_covered(f, r, knn_radii(r, k));
  out.recall = fraction_covered(r, f, knn_radii(f, k));
  return out;
}

}  // namespace anila::eval
