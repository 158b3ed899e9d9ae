// analytic.cpp — the analytic sampler targets and their factory
// (anila/targets/analytic.h); definitions and derivations in docs/targets.md.
//
// Notation: z: [B, D] states, f: [B] log density, g = ∇_z f: [B, D]; ξ ~ N(0, I)
// fresh from the caller's generator (float64, CPU); N(x; μ, σ²) the 1D normal
// density; log2π = log(2π). f and g are written out by hand (no autograd) and
// computed in z's dtype and on z's device; every constant tensor is built on
// that device (arange) rather than copied from the host. Each evaluation reads
// the dimension from z itself, so the marginal of the first two coordinates —
// which for every type but gaussian-ill is the same family in D = 2 — is the
// same code run on [n, 2].
//
// Cost per call: O(B·D) elementwise work (plus O(B·K) for the mixture).
#include "anila/targets/analytic.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "anila/config.h"

namespace anila::targets {

namespace {

constexpr double kPi = 3.14159265358979323846;
const double kLog2Pi = std::log(2 * kPi);
constexpr double kInf = std::numeric_limits<double>::infinity();

// Shared parts: name, dimension, input checks, value() without the gradient.
class TargetBase : public AnalyticTarget {
 public:
  TargetBase(std::string name, int64_t dim) : name_(std::move(name)), dim_(dim) {}

  std::string name() const override { return name_; }
  int64_t dim() const override { return dim_; }

  LogDensityValue operator()(const at::Tensor& z) const override {
    check_z(z);
    at::NoGradGuard no_grad;
    return evaluate(z, /*want_grad=*/true);
  }

  at::Tensor value(const at::Tensor& z) const override {
    check_z(z);
    at::NoGradGuard no_grad;
    return evaluate(z, /*want_grad=*/false).f;
  }

  // The closed-form gradient is built from differentiable tensor ops.
  at::Tensor grad_with_graph(const at::Tensor& z) const override {
    check_z(z);
    at::AutoGradMode enable(true);
    return evaluate(z, /*want_grad=*/true).grad;
  }

  // Default: the family itself in D = 2 (true for all types but gaussian-ill).
  at::Tensor marginal2d_log_density(const at::Tensor& xy) const override {
    if (dim_ < 2) return {};
    check_xy(xy);
    at::NoGradGuard no_grad;
    return evaluate(xy, /*want_grad=*/false).f;
  }

 protected:
  // z: [B, d] with d = z.size(1) (d = D, or 2 for the marginal) -> f [B] and,
  // when asked, g [B, d].
  virtual LogDensityValue evaluate(const at::Tensor& z, bool want_grad) const = 0;

  void check_z(const at::Tensor& z) const {
    TORCH_CHECK(z.dim() == 2 && z.size(1) == dim_, name_, ": expected z [B, ", dim_, "], got ",
                z.sizes());
    TORCH_CHECK(at::isFloatingType(z.scalar_type()), name_, ": expected a floating-point z, got ",
                z.scalar_type());
  }
  void check_xy(const at::Tensor& xy) const {
    TORCH_CHECK(xy.dim() == 2 && xy.size(1) == 2, name_,
                ".marginal2d_log_density: expected xy [n, 2], got ", xy.sizes());
    TORCH_CHECK(at::isFloatingType(xy.scalar_type()), name_,
                ".marginal2d_log_density: expected a floating-point xy, got ", xy.scalar_type());
  }
  void check_sample_args(int64_t n, const at::Generator& gen) const {
    TORCH_CHECK(n >= 0, name_, ".sample: n must be >= 0, got ", n);
    TORCH_CHECK(gen.defined() && gen.device().is_cpu(), name_,
                ".sample: expected a CPU generator (exact draws are made on the CPU)");
  }
  at::Tensor normal(int64_t n, at::Generator& gen) const {
    return at::randn({n, dim_}, gen, at::kDouble);
  }
  at::Tensor zeros_mean() const { return at::zeros({dim_}, at::kDouble); }

  std::string name_;
  int64_t dim_;
};

// ---- gaussian ---------------------------------------------------------------
// f = −|z|²/(2s²) − (D/2) log(2πs²);  g = −z/s².  Draws sξ; mean 0, Σ = s²I.
class GaussianTarget : public TargetBase {
 public:
  GaussianTarget(int64_t dim, double scale) : TargetBase("gaussian", dim), scale_(scale) {}

  at::Tensor sample(int64_t n, at::Generator& gen) const override {
    check_sample_args(n, gen);
    return normal(n, gen).mul_(scale_);
  }
  at::Tensor mean() const override { return zeros_mean(); }
  at::Tensor covariance() const override {
    return at::eye(dim_, at::kDouble).mul_(scale_ * scale_);
  }
  Json to_json() const override { return {{"type", name_}, {"dim", dim_}, {"scale", scale_}}; }
  std::array<double, 4> box2d() const override {
    return {-4 * scale_, 4 * scale_, -4 * scale_, 4 * scale_};
  }

 protected:
  LogDensityValue evaluate(const at::Tensor& z, bool want_grad) const override {
    const double d = double(z.size(1)), prec = 1 / (scale_ * scale_);
    at::Tensor f = (z * z).sum(1).mul_(-0.5 * prec).sub_(0.5 * d * (kLog2Pi - std::log(prec)));
    return {f, want_grad ? z * -prec : at::Tensor()};
  }

 private:
  double scale_;
};

// ---- gaussian-ill -------------------------------------------------------------
// Diagonal, variances σ_i² = κ^(−i/(D−1)) for i = 0..D−1 (log-spaced from 1 down
// to 1/κ), precisions p_i = κ^(i/(D−1)). Σ_i log p_i = log κ · Σ_i i/(D−1) = (D/2) log κ, so
// f = −½ Σ_i p_i z_i² − (D/2) log2π + (D/4) log κ;  g = −p ⊙ z.
class IllConditionedTarget : public TargetBase {
 public:
  IllConditionedTarget(int64_t dim, double condition)
      : TargetBase("gaussian-ill", dim), condition_(condition) {}

  at::Tensor sample(int64_t n, at::Generator& gen) const override {
    check_sample_args(n, gen);
    return normal(n, gen).mul_(variances().sqrt_());
  }
  at::Tensor mean() const override { return zeros_mean(); }
  at::Tensor covariance() const override { return at::diag(variances()); }
  Json to_json() const override {
    return {{"type", name_}, {"dim", dim_}, {"condition", condition_}};
  }
  std::array<double, 4> box2d() const override {
    const double sd1 = std::pow(condition_, -0.5 / double(dim_ - 1));
    return {-4, 4, -4 * sd1, 4 * sd1};
  }
  // (z_0, z_1) ~ N(0, diag(1, κ^(−1/(D−1)))).
  at::Tensor marginal2d_log_density(const at::Tensor& xy) const override {
    check_xy(xy);
    at::NoGradGuard no_grad;
    const double p1 = std::pow(condition_, 1 / double(dim_ - 1));
    const at::Tensor x = xy.select(1, 0), y = xy.select(1, 1);
    return (x * x + y * y * p1).mul_(-0.5).add_(0.5 * std::log(p1) - kLog2Pi);
  }

 protected:
  LogDensityValue evaluate(const at::Tensor& z, bool want_grad) const override {
    const double d = double(dim_), log_k = std::log(condition_);
    const at::Tensor prec = at::arange(dim_, z.options()).mul_(log_k / (d - 1)).exp_();  // [D]
    at::Tensor pz = z * prec;
    at::Tensor f = (pz * z).sum(1).mul_(-0.5).add_(-0.5 * d * kLog2Pi + 0.25 * d * log_k);
    return {f, want_grad ? pz.neg_() : at::Tensor()};
  }

 private:
  // [D] float64; the last one is κ^(−1) exactly as pow rounds it.
  at::Tensor variances() const {
    at::Tensor v = at::empty({dim_}, at::kDouble);
    double* p = v.data_ptr<double>();
    for (int64_t i = 0; i < dim_; ++i) {
      p[i] = i == 0 ? 1.0 : std::pow(condition_, -double(i) / double(dim_ - 1));
    }
    return v;
  }
  double condition_;
};

// ---- gaussian-corr ------------------------------------------------------------
// Σ_ij = ρ^|i−j| (stationary AR(1), unit variances). Its precision Q is
// tridiagonal: Q = [diag(1, 1+ρ², …, 1+ρ², 1) − ρ(off-diagonals)] / (1 − ρ²), and
// det Σ = (1 − ρ²)^(D−1). f = −½ zᵀQz − (D/2) log2π − ((D−1)/2) log(1 − ρ²); g = −Qz.
// Draws: z_0 = ξ_0, z_i = ρ z_{i−1} + √(1−ρ²) ξ_i.
class CorrelatedTarget : public TargetBase {
 public:
  CorrelatedTarget(int64_t dim, double rho) : TargetBase("gaussian-corr", dim), rho_(rho) {}

  at::Tensor sample(int64_t n, at::Generator& gen) const override {
    check_sample_args(n, gen);
    at::Tensor x = normal(n, gen);  // contiguous [n, D]; overwritten row by row in place
    const double c = std::sqrt(1 - rho_ * rho_);
    double* p = x.data_ptr<double>();
    for (int64_t r = 0; r < n; ++r) {
      double* row = p + r * dim_;
      for (int64_t i = 1; i < dim_; ++i) row[i] = rho_ * row[i - 1] + c * row[i];
    }
    return x;
  }
  at::Tensor mean() const override { return zeros_mean(); }
  at::Tensor covariance() const override {
    at::Tensor s = at::empty({dim_, dim_}, at::kDouble);
    double* p = s.data_ptr<double>();
    for (int64_t i = 0; i < dim_; ++i) {
      for (int64_t j = 0; j < dim_; ++j) p[i * dim_ + j] = std::pow(rho_, double(std::abs(i - j)));
    }
    return s;
  }
  Json to_json() const override { return {{"type", name_}, {"dim", dim_}, {"rho", rho_}}; }
  std::array<double, 4> box2d() const override { return {-4, 4, -4, 4}; }

 protected:
  LogDensityValue evaluate(const at::Tensor& z, bool want_grad) const override {
    const int64_t d = z.size(1);
    const double r2 = rho_ * rho_, inv = 1 / (1 - r2);
    // qz = (1 − ρ²)·Qz: (1+ρ²)z_i − ρ(z_{i−1} + z_{i+1}), minus ρ² z_i at i = 0 and
    // i = D−1 (for D = 1 both: 1 + ρ² − 2ρ² = 1 − ρ², so Q = 1).
    at::Tensor qz = z * (1 + r2);
    if (d > 1) {
      qz.narrow(1, 0, d - 1).sub_(z.narrow(1, 1, d - 1), rho_);
      qz.narrow(1, 1, d - 1).sub_(z.narrow(1, 0, d - 1), rho_);
    }
    qz.select(1, 0).sub_(z.select(1, 0), r2);
    qz.select(1, d - 1).sub_(z.select(1, d - 1), r2);
    qz.mul_(inv);
    at::Tensor f = (qz * z).sum(1).mul_(-0.5).add_(-0.5 * double(d) * kLog2Pi -
                                                   0.5 * double(d - 1) * std::log(1 - r2));
    return {f, want_grad ? qz.neg_() : at::Tensor()};
  }

 private:
  double rho_;
};

// ---- mixture ------------------------------------------------------------------
// p = (1/K) Σ_k N(z; c_k, σ²I) with σ = sd and centres c_k = R(cos 2πk/K, sin 2πk/K, 0, …)
// on the circle of radius R = separation / (2 sin(π/K)), so neighbouring centres
// are `separation` apart (K = 2: c = ±(separation/2) e_0; for D = 1 only K = 2).
// With logits l_k = (z·c_k − |c_k|²/2)/σ² and w = softmax(l):
//   f = logsumexp_k l_k − |z|²/(2σ²) − log K − (D/2) log(2πσ²),
//   g = (Σ_k w_k c_k − z)/σ².
// Draws: k ~ U{0..K−1} (all n first), then c_k + σξ.
// Moments: μ = (1/K) Σ c_k, Σ = σ²I + (1/K) Σ_k c_k c_kᵀ − μμᵀ.
class MixtureTarget : public TargetBase {
 public:
  MixtureTarget(int64_t dim, int64_t components, double separation, double sd)
      : TargetBase("mixture", dim),
        components_(components),
        separation_(separation),
        sd_(sd),
        radius_(separation / (2 * std::sin(kPi / double(components)))) {}

  at::Tensor sample(int64_t n, at::Generator& gen) const override {
    check_sample_args(n, gen);
    const at::Tensor k = at::randint(components_, {n}, gen, at::kLong);
    at::Tensor x = normal(n, gen).mul_(sd_);
    const at::Tensor c = centres(at::TensorOptions().dtype(at::kDouble), plane_dims(dim_));
    x.narrow(1, 0, c.size(1)).add_(c.index_select(0, k));
    return x;
  }
  at::Tensor mean() const override {
    at::Tensor m = zeros_mean();
    const at::Tensor c = padded_centres();
    return m.add_(c.mean(0));
  }
  at::Tensor covariance() const override {
    const at::Tensor c = padded_centres(), m = c.mean(0);
    return at::eye(dim_, at::kDouble).mul_(sd_ * sd_) + c.t().mm(c).div_(double(components_)) -
           at::outer(m, m);
  }
  Json to_json() const override {
    return {{"type", name_},
            {"dim", dim_},
            {"components", components_},
            {"separation", separation_},
            {"sd", sd_}};
  }
  std::array<double, 4> box2d() const override {
    const double h = radius_ + 4 * sd_;
    return {-h, h, -h, h};
  }

 protected:
  LogDensityValue evaluate(const at::Tensor& z, bool want_grad) const override {
    const int64_t d = z.size(1), dp = plane_dims(d);
    const double prec = 1 / (sd_ * sd_);
    const at::Tensor c = centres(z.options(), dp);                  // [K, dp]
    const at::Tensor zp = z.narrow(1, 0, dp);                       // [B, dp]
    const at::Tensor half_c2 = (c * c).sum(1).mul_(0.5);            // [K]
    const at::Tensor logits = (zp.mm(c.t()) - half_c2).mul_(prec);  // [B, K]
    at::Tensor f =
        at::logsumexp(logits, 1)
            .sub_((z * z).sum(1), 0.5 * prec)
            .sub_(std::log(double(components_)) + 0.5 * double(d) * (kLog2Pi - std::log(prec)));
    if (!want_grad) return {f, {}};
    at::Tensor g = z * -prec;
    g.narrow(1, 0, dp).add_(at::softmax(logits, 1).mm(c), prec);
    return {f, g};
  }

 private:
  // Number of coordinates the centres live in: 2, or 1 when D = 1 (then K = 2).
  static int64_t plane_dims(int64_t d) { return d < 2 ? 1 : 2; }
  // [K, dp] centres built on the target device: R (cos 2πk/K, sin 2πk/K)[:dp].
  at::Tensor centres(const at::TensorOptions& options, int64_t dp) const {
    const at::Tensor angle = at::arange(components_, options).mul_(2 * kPi / double(components_));
    at::Tensor c = dp == 1 ? angle.cos().unsqueeze(1) : at::stack({angle.cos(), angle.sin()}, 1);
    return c.mul_(radius_);
  }
  // [K, D] float64 CPU.
  at::Tensor padded_centres() const {
    at::Tensor c = at::zeros({components_, dim_}, at::kDouble);
    const int64_t dp = plane_dims(dim_);
    c.narrow(1, 0, dp).copy_(centres(at::TensorOptions().dtype(at::kDouble), dp));
    return c;
  }

  int64_t components_;
  double separation_, sd_, radius_;
};

// ---- funnel -------------------------------------------------------------------
// v = z_0 ~ N(0, σ²), z_i | v ~ N(0, e^v) for i = 1..D−1. With S = Σ_{i≥1} z_i²:
//   f = −v²/(2σ²) − ½ log(2πσ²) − ((D−1)/2)(v + log2π) − ½ e^(−v) S,
//   g_0 = −v/σ² − (D−1)/2 + ½ e^(−v) S,   g_i = −e^(−v) z_i.
// Draws: v = σξ_0, z_i = e^(v/2) ξ_i. Moments: mean 0, Var v = σ², Var z_i = E e^v
// = e^(σ²/2), all covariances 0 (E[z_i | v] = 0).
class FunnelTarget : public TargetBase {
 public:
  FunnelTarget(int64_t dim, double scale) : TargetBase("funnel", dim), scale_(scale) {}

  at::Tensor sample(int64_t n, at::Generator& gen) const override {
    check_sample_args(n, gen);
    at::Tensor x = normal(n, gen);
    at::Tensor v = x.select(1, 0).mul_(scale_);
    x.narrow(1, 1, dim_ - 1).mul_(v.mul(0.5).exp_().unsqueeze(1));
    return x;
  }
  at::Tensor mean() const override { return zeros_mean(); }
  at::Tensor covariance() const override {
    at::Tensor c = at::eye(dim_, at::kDouble).mul_(std::exp(0.5 * scale_ * scale_));
    c[0][0] = scale_ * scale_;
    return c;
  }
  Json to_json() const override { return {{"type", name_}, {"dim", dim_}, {"scale", scale_}}; }
  // v within ±3σ (99.7%); |z_1| ≤ 2e^σ holds ≥ 99.3% of z_1 for σ ≤ 3 (the
  // heavy-tailed marginal needs a much wider box for more).
  std::array<double, 4> box2d() const override {
    const double h = 2 * std::exp(scale_);
    return {-3 * scale_, 3 * scale_, -h, h};
  }

 protected:
  LogDensityValue evaluate(const at::Tensor& z, bool want_grad) const override {
    const int64_t d = z.size(1);
    const double prec = 1 / (scale_ * scale_), m = double(d - 1);
    const at::Tensor v = z.select(1, 0);
    const at::Tensor rest = z.narrow(1, 1, d - 1);
    const at::Tensor e = v.neg().exp_();                                // e^(−v)  [B]
    const at::Tensor half_es = (rest * rest).sum(1).mul_(e).mul_(0.5);  // ½ e^(−v) S
    at::Tensor f = (v * v)
                       .mul_(-0.5 * prec)
                       .sub_(v, 0.5 * m)
                       .sub_(half_es)
                       .sub_(0.5 * (kLog2Pi - std::log(prec)) + 0.5 * m * kLog2Pi);
    if (!want_grad) return {f, {}};
    at::Tensor g = at::empty_like(z);
    g.narrow(1, 1, d - 1).copy_(rest * e.neg().unsqueeze(1));
    g.select(1, 0).copy_(v * -prec).add_(half_es).sub_(0.5 * m);
    return {f, g};
  }

 private:
  double scale_;
};

// ---- banana -------------------------------------------------------------------
// Haario et al. (1999): x ~ N(0, diag(a², 1, …, 1)) twisted by
// x_1 ← x_1 + b(x_0² − a²) (unit Jacobian). With y = z_1 − b(z_0² − a²):
//   f = −z_0²/(2a²) − y²/2 − ½ Σ_{i≥2} z_i² − (D/2) log2π − log a,
//   g_0 = −z_0/a² + 2b z_0 y,   g_1 = −y,   g_i = −z_i.
// Moments: mean 0 (E z_1 = b(E z_0² − a²) = 0); Var z_0 = a²;
// Var z_1 = 1 + b² Var(z_0²) = 1 + 2b²a⁴; Cov(z_0, z_1) = b E[z_0³] = 0; the rest I.
class BananaTarget : public TargetBase {
 public:
  BananaTarget(int64_t dim, double a, double b) : TargetBase("banana", dim), a_(a), b_(b) {}

  at::Tensor sample(int64_t n, at::Generator& gen) const override {
    check_sample_args(n, gen);
    at::Tensor x = normal(n, gen);
    at::Tensor x0 = x.select(1, 0).mul_(a_);
    x.select(1, 1).add_((x0 * x0).sub_(a_ * a_), b_);
    return x;
  }
  at::Tensor mean() const override { return zeros_mean(); }
  at::Tensor covariance() const override {
    at::Tensor c = at::eye(dim_, at::kDouble);
    c[0][0] = a_ * a_;
    c[1][1] = 1 + 2 * b_ * b_ * std::pow(a_, 4);
    return c;
  }
  Json to_json() const override { return {{"type", name_}, {"dim", dim_}, {"a", a_}, {"b", b_}}; }
  // z_0 within ±3a (99.7%); z_1 within 3 of the ridge b(z_0² − a²), which spans
  // [−ba², 8ba²] there (reversed for b < 0).
  std::array<double, 4> box2d() const override {
    const double lo = std::min(-b_ * a_ * a_, 8 * b_ * a_ * a_);
    const double hi = std::max(-b_ * a_ * a_, 8 * b_ * a_ * a_);
    return {-3 * a_, 3 * a_, lo - 3, hi + 3};
  }

 protected:
  LogDensityValue evaluate(const at::Tensor& z, bool want_grad) const override {
    const int64_t d = z.size(1);
    const at::Tensor x0 = z.select(1, 0), x1 = z.select(1, 1);
    const at::Tensor y = x1 - (x0 * x0).sub_(a_ * a_).mul_(b_);  // [B]
    at::Tensor f = (x0 * x0).mul_(-0.5 / (a_ * a_)).sub_(y * y, 0.5);
    if (d > 2) {
      const at::Tensor rest = z.narrow(1, 2, d - 2);
      f.sub_((rest * rest).sum(1), 0.5);
    }
    f.sub_(0.5 * double(d) * kLog2Pi + std::log(a_));
    if (!want_grad) return {f, {}};
    at::Tensor g = z.neg();
    g.select(1, 0).copy_(x0 * y).mul_(2 * b_).sub_(x0, 1 / (a_ * a_));
    g.select(1, 1).copy_(y).neg_();
    return {f, g};
  }

 private:
  double a_, b_;
};

}  // namespace

std::vector<std::string> target_types() {
  return {"gaussian", "gaussian-ill", "gaussian-corr", "mixture", "funnel", "banana"};
}

std::unique_ptr<AnalyticTarget> make_target(const Json& section, const std::string& path) {
  ConfigReader r(section, path);
  const std::string type = r.choice("type", "gaussian", target_types());
  const Range open_unit{-1.0, 1.0, true, true};
  std::unique_ptr<AnalyticTarget> target;
  if (type == "gaussian") {
    const int64_t dim = r.integer("dim", 2, Range::at_least(1));
    target = std::make_unique<GaussianTarget>(dim, r.number("scale", 1.0, Range::positive()));
  } else if (type == "gaussian-ill") {
    const int64_t dim = r.integer("dim", 100, Range::at_least(2));
    const double condition = r.number("condition", 100.0, {1.0, kInf, false, true});
    target = std::make_unique<IllConditionedTarget>(dim, condition);
  } else if (type == "gaussian-corr") {
    const int64_t dim = r.integer("dim", 2, Range::at_least(1));
    target = std::make_unique<CorrelatedTarget>(dim, r.number("rho", 0.9, open_unit));
  } else if (type == "mixture") {
    const int64_t dim = r.integer("dim", 2, Range::at_least(1));
    const int64_t components = r.integer("components", 2, Range::at_least(2));
    const double separation = r.number("separation", 4.0, Range::positive());
    const double sd = r.number("sd", 0.5, Range::positive());
    if (components > 2 && dim < 2) {
      throw UserError(r.key_path("dim") + ": must be >= 2 for a mixture of " +
                      std::to_string(components) + " components (centres lie on a circle), got " +
                      std::to_string(dim));
    }
    target = std::make_unique<MixtureTarget>(dim, components, separation, sd);
  } else if (type == "funnel") {
    const int64_t dim = r.integer("dim", 10, Range::at_least(2));
    target = std::make_unique<FunnelTarget>(dim, r.number("scale", 3.0, Range::positive()));
  } else if (type == "banana") {
    const int64_t dim = r.integer("dim", 2, Range::at_least(2));
    const double a = r.number("a", 10.0, Range::positive());
    const double b = r.number("b", 0.1, {-kInf, kInf, true, true});
    target = std::make_unique<BananaTarget>(dim, a, b);
  } else {
    TORCH_CHECK(false, "make_target: type ", type, " is listed but not built");
  }
  r.finish();
  return target;
}

}  // namespace anila::targets
