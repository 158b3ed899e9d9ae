// dataset2d.cpp — the 2D datasets and their factory (anila/data/dataset2d.h);
// every definition, box and formula is written out in docs/datasets.md.
//
// Notation: n draws; U ~ U[0, 1] and ξ ~ N(0, I) fresh from the caller's
// generator (drawn in float64, returned as float32 [n, 2]); σ the isotropic
// noise sd of a component; N(x; μ, σ²I) the 2D normal density. Log-densities
// are float64 [n].
//
// Families:
//   rings                         closed form in |x| (1/(2π|x|) times a radial mixture)
//   gmm, 8gaussians, 25gaussians  equal-weight isotropic Gaussian mixtures
//   checkerboard                  uniform on 8 unit squares
//   moons, swissroll, 2spirals    x = c(s) + σξ with a latent curve parameter s:
//                                 p(x) = E_s N(x; c(s), σ²I) by composite
//                                 Gauss–Legendre quadrature (512 panels × 4 nodes
//                                 per curve)
//   pinwheel, csv                 Gaussian KDE reference (data/kde.h)
#include "anila/data/dataset2d.h"

#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <tuple>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "anila/config.h"
#include "data/kde.h"
#include "data/points_csv.h"

namespace anila::data {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Quadrature: panels per curve and the 4-point Gauss–Legendre rule on [−1, 1].
constexpr int64_t kCurvePanels = 512;
constexpr std::array<double, 4> kGaussNodes = {-0.8611363115940526, -0.3399810435848563,
                                               0.3399810435848563, 0.8611363115940526};
constexpr std::array<double, 4> kGaussWeights = {0.3478548451374538, 0.6521451548625461,
                                                 0.6521451548625461, 0.3478548451374538};

// rings: |x| is floored here so that the origin, where p ≈ 3e-10/(2π|x|) has an
// integrable singularity, gets a finite log-density.
constexpr double kRingsMinRadius = 1e-6;

// pinwheel: reference KDE size and its fixed seed.
constexpr int64_t kPinwheelKdeSamples = 50000;
constexpr uint64_t kPinwheelKdeSeed = 20240521;

void check_sample_args(int64_t n, const at::Generator& gen, const std::string& name) {
  TORCH_CHECK(n >= 0, name, ".sample: n must be >= 0, got ", n);
  TORCH_CHECK(gen.defined() && gen.device().is_cpu(), name,
              ".sample: expected a CPU generator (data is drawn on the CPU)");
}

// x: [n, 2] any float dtype on the CPU -> contiguous float64.
at::Tensor as_query(const at::Tensor& x, const std::string& name) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == 2, name, ".log_density: expected x [n, 2], got ",
              x.sizes());
  TORCH_CHECK(x.device().is_cpu(), name, ".log_density: expected a CPU tensor, got ", x.device());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), name,
              ".log_density: expected a floating-point tensor, got ", x.scalar_type());
  return x.to(at::kDouble).contiguous();
}

at::Tensor uniform(int64_t n, at::Generator& gen) {
  return at::rand({n}, gen, at::kDouble);
}
at::Tensor normal(int64_t n, int64_t d, at::Generator& gen) {
  return at::randn({n, d}, gen, at::kDouble);
}
at::Tensor pick(int64_t count, int64_t n, at::Generator& gen) {
  return at::randint(count, {n}, gen, at::kLong);
}

// Shared parts of every toy dataset: its name, box and to_json().
class ToyData : public Dataset2D {
 public:
  ToyData(std::string name, Box box) : name_(std::move(name)), box_(box) {}
  std::string name() const override { return name_; }
  Box box() const override { return box_; }
  bool log_density_exact() const override { return true; }
  Json to_json() const override { return Json{{"type", name_}}; }

 protected:
  std::string name_;
  Box box_;
};

// ---- rings ------------------------------------------------------------------
// k ~ U{1..4}, r = k + σξ₁, θ = 2πU, x = r(cos θ, sin θ), σ = 0.15.
// p(x) = 1/(2π|x|) · ¼ Σ_k [N(|x|; k, σ²) + N(|x|; −k, σ²)]; the −k term is the
// density of the (rare, P < 1e-11) draws with r < 0, which land at |x| = −r.
class RingsData : public ToyData {
 public:
  static constexpr double kSd = 0.15;
  static constexpr int kRings = 4;
  RingsData() : ToyData("rings", {-5, 5, -5, 5}) {}

  at::Tensor sample(int64_t n, at::Generator& gen) const override {
    check_sample_args(n, gen, name_);
    at::Tensor k = pick(kRings, n, gen).to(at::kDouble) + 1;
    at::Tensor r = k + kSd * normal(n, 1, gen).squeeze(1);
    at::Tensor theta = 2 * kPi * uniform(n, gen);
    return at::stack({r * theta.cos(), r * theta.sin()}, 1).to(at::kFloat);
  }

  at::Tensor log_density(const at::Tensor& x) const override {
    const at::Tensor q = as_query(x, name_);
    const at::Tensor r = q.norm(2, 1).clamp_min(kRingsMinRadius).unsqueeze(1);            // [n, 1]
    const at::Tensor mu = at::tensor({1., 2., 3., 4., -1., -2., -3., -4.}, at::kDouble);  // [8]
    const at::Tensor z = (r - mu) / kSd;
    const at::Tensor log_normal = z * z * -0.5 - std::log(kSd * std::sqrt(2 * kPi));
    return at::logsumexp(log_normal, 1) - std::log(double(kRings)) -
           (r.squeeze(1) * (2 * kPi)).log();
  }
};

// ---- equal-weight isotropic Gaussian mixtures ---------------------------------
// k ~ U{0..K−1}, x = μ_k + σξ;  p(x) = (1/K) Σ_k N(x; μ_k, σ²I).
class MixtureData : public ToyData {
 public:
  MixtureData(std::string name, Box box, at::Tensor centres, double sd)
      : ToyData(std::move(name), box), centres_(std::move(centres)), sd_(sd) {
    log_weights_ = at::full({centres_.size(0)}, -std::log(double(centres_.size(0))), at::kDouble);
  }

  at::Tensor sample(int64_t n, at::Generator& gen) const override {
    check_sample_args(n, gen, name_);
    at::Tensor k = pick(centres_.size(0), n, gen);
    return (centres_.index_select(0, k) + sd_ * normal(n, 2, gen)).to(at::kFloat);
  }

  at::Tensor log_density(const at::Tensor& x) const override {
    return internal::log_gauss_mixture(as_query(x, name_), centres_, log_weights_, sd_, sd_);
  }

 private:
  at::Tensor centres_;  // [K, 2] float64
  at::Tensor log_weights_;
  double sd_;
};

// K centres on the circle of radius R at angles 2πk/K.
at::Tensor circle_centres(int64_t k, double radius) {
  at::Tensor angle = at::arange(k, at::kDouble) * (2 * kPi / double(k));
  return at::stack({radius * angle.cos(), radius * angle.sin()}, 1);
}

// The 5×5 grid {−2, −1, 0, 1, 2}².
at::Tensor grid_centres() {
  at::Tensor v = at::arange(-2, 3, at::kDouble);
  return at::stack({v.repeat({5}), v.repeat_interleave(5)}, 1);
}

// ---- checkerboard ----------------------------------------------------------
// The 8 "black" unit squares [i, i+1) × [j, j+1) ⊂ [−2, 2)² with i + j even;
// pick one uniformly, then a uniform point in it. p = 1/8 on them, 0 elsewhere.
// The box [−2.56, 2.56]² puts the square edges on cell edges of R×R grids for
// R = 64, 128, 256, 512 (cell width 0.08 ... 0.01), so grid sums are exact there.
class CheckerboardData : public ToyData {
 public:
  CheckerboardData() : ToyData("checkerboard", {-2.56, 2.56, -2.56, 2.56}) {
    std::vector<double> corners;
    for (int j = -2; j < 2; ++j) {
      for (int i = -2; i < 2; ++i) {
        if ((i + j) % 2 == 0) corners.insert(corners.end(), {double(i), double(j)});
      }
    }
    corners_ = at::tensor(corners, at::kDouble).reshape({-1, 2});
  }

  at::Tensor sample(int64_t n, at::Generator& gen) const override {
    check_sample_args(n, gen, name_);
    at::Tensor k = pick(corners_.size(0), n, gen);
    return (corners_.index_select(0, k) + at::rand({n, 2}, gen, at::kDouble)).to(at::kFloat);
  }

  at::Tensor log_density(const at::Tensor& x) const override {
    const at::Tensor q = as_query(x, name_);
    const at::Tensor a = q.select(1, 0), b = q.select(1, 1);
    const at::Tensor on_board = (a >= -2) & (a < 2) & (b >= -2) & (b < 2);
    const at::Tensor black = at::remainder(a.floor() + b.floor(), 2) == 0;
    at::Tensor out = at::full({q.size(0)}, -kInf, at::kDouble);
    out.masked_fill_(on_board & black, std::log(1.0 / 8.0));
    return out.masked_fill_(a.isnan() | b.isnan(), std::numeric_limits<double>::quiet_NaN());
  }

 private:
  at::Tensor corners_;  // [8, 2] lower-left corners
};

// ---- curves plus noise --------------------------------------------------------
// One curve of a curve dataset: the latent parameter s ∈ [0, 1] has density
// rho(s) and is drawn as s = param(U); the noiseless point is point(s).
struct Curve {
  std::function<double(double)> param;
  std::function<double(double)> rho;
  std::function<std::array<double, 2>(double)> point;
};

// Equal-weight mixture over curves: c ~ U{curves}, s = param_c(U), x = point_c(s) + σξ;
// p(x) = (1/C) Σ_c ∫ rho_c(s) N(x; point_c(s), σ²I) ds by quadrature.
class CurveData : public ToyData {
 public:
  CurveData(std::string name, Box box, std::vector<Curve> curves, double sd)
      : ToyData(std::move(name), box), curves_(std::move(curves)), sd_(sd) {
    const int64_t q_count = int64_t(curves_.size()) * kCurvePanels * 4;
    std::vector<double> nodes, log_w;
    nodes.reserve(2 * q_count);
    log_w.reserve(q_count);
    const double half_panel = 0.5 / double(kCurvePanels);
    for (const Curve& c : curves_) {
      for (int64_t p = 0; p < kCurvePanels; ++p) {
        const double mid = (double(p) + 0.5) / double(kCurvePanels);
        for (size_t g = 0; g < 4; ++g) {
          const double s = mid + half_panel * kGaussNodes[g];
          const std::array<double, 2> at_s = c.point(s);
          nodes.insert(nodes.end(), {at_s[0], at_s[1]});
          log_w.push_back(
              std::log(kGaussWeights[g] * half_panel * c.rho(s) / double(curves_.size())));
        }
      }
    }
    nodes_ = at::tensor(nodes, at::kDouble).reshape({q_count, 2});
    log_weights_ = at::tensor(log_w, at::kDouble);
  }

  at::Tensor sample(int64_t n, at::Generator& gen) const override {
    check_sample_args(n, gen, name_);
    const at::Tensor which = pick(int64_t(curves_.size()), n, gen);
    const at::Tensor u = uniform(n, gen);
    at::Tensor x = sd_ * normal(n, 2, gen);
    const int64_t* w = which.data_ptr<int64_t>();
    const double* up = u.data_ptr<double>();
    double* xp = x.data_ptr<double>();
    for (int64_t i = 0; i < n; ++i) {
      const Curve& c = curves_[w[i]];
      const std::array<double, 2> at_s = c.point(c.param(up[i]));
      xp[2 * i] += at_s[0];
      xp[2 * i + 1] += at_s[1];
    }
    return x.to(at::kFloat);
  }

  at::Tensor log_density(const at::Tensor& x) const override {
    return internal::log_gauss_mixture(as_query(x, name_), nodes_, log_weights_, sd_, sd_);
  }

 private:
  std::vector<Curve> curves_;
  double sd_;
  at::Tensor nodes_;        // [Q, 2] quadrature nodes c(s_q)
  at::Tensor log_weights_;  // [Q] log(ρ(s_q) · quadrature weight / C)
};

double identity(double u) {
  return u;
}
double flat(double) {
  return 1.0;
}

// moons: the two half circles of scikit-learn's make_moons, centred and doubled.
std::unique_ptr<Dataset2D> make_moons() {
  Curve upper{
      identity, flat, [](double s) {
        return std::array<double, 2>{-1 + 2 * std::cos(kPi * s), -0.5 + 2 * std::sin(kPi * s)};
      }};
  Curve lower{identity, flat, [](double s) {
                return std::array<double, 2>{1 + 2 * std::cos(kPi * (1 + s)),
                                             0.5 + 2 * std::sin(kPi * (1 + s))};
              }};
  return std::make_unique<CurveData>("moons", Box{-4, 4, -4, 4}, std::vector<Curve>{upper, lower},
                                     0.2);
}

// swissroll: t = 1.5π(1 + 2s), c = (t cos t, t sin t)/5.
std::unique_ptr<Dataset2D> make_swissroll() {
  Curve roll{identity, flat, [](double s) {
               const double t = 1.5 * kPi * (1 + 2 * s);
               return std::array<double, 2>{t * std::cos(t) / 5, t * std::sin(t) / 5};
             }};
  return std::make_unique<CurveData>("swissroll", Box{-3.25, 3.25, -3.25, 3.25},
                                     std::vector<Curve>{roll}, 0.1);
}

// 2spirals: s = √U (density 2s), t = 3πs, c = ±(−t cos t, t sin t)/3.
std::unique_ptr<Dataset2D> make_two_spirals() {
  auto sqrt_u = [](double u) { return std::sqrt(u); };
  auto rho = [](double s) { return 2 * s; };
  Curve first{sqrt_u, rho, [](double s) {
                const double t = 3 * kPi * s;
                return std::array<double, 2>{-t * std::cos(t) / 3, t * std::sin(t) / 3};
              }};
  Curve second{sqrt_u, rho, [](double s) {
                 const double t = 3 * kPi * s;
                 return std::array<double, 2>{t * std::cos(t) / 3, -t * std::sin(t) / 3};
               }};
  return std::make_unique<CurveData>("2spirals", Box{-4, 4, -4, 4},
                                     std::vector<Curve>{first, second}, 0.1);
}

// ---- pinwheel --------------------------------------------------------------
// k ~ U{0..4}, f = (1 + 0.3ξ₁, 0.1ξ₂), θ = 2πk/5 + 0.25·exp(f₀),
// x = 1.5·(f₀ cos θ + f₁ sin θ, −f₀ sin θ + f₁ cos θ). Reference density: a
// Gaussian KDE of 50,000 draws (fixed seed), Scott's bandwidth per axis.
at::Tensor pinwheel_draws(int64_t n, at::Generator& gen) {
  const at::Tensor k = pick(5, n, gen).to(at::kDouble);
  const at::Tensor xi = normal(n, 2, gen);
  const at::Tensor f0 = 1 + 0.3 * xi.select(1, 0), f1 = 0.1 * xi.select(1, 1);
  const at::Tensor theta = k * (2 * kPi / 5) + 0.25 * f0.exp();
  const at::Tensor c = theta.cos(), s = theta.sin();
  return 1.5 * at::stack({f0 * c + f1 * s, -f0 * s + f1 * c}, 1);
}

class PinwheelData : public Dataset2D {
 public:
  std::string name() const override { return "pinwheel"; }
  Box box() const override { return {-4, 4, -4, 4}; }
  bool log_density_exact() const override { return false; }
  Json to_json() const override { return Json{{"type", "pinwheel"}}; }

  at::Tensor sample(int64_t n, at::Generator& gen) const override {
    check_sample_args(n, gen, "pinwheel");
    return pinwheel_draws(n, gen).to(at::kFloat);
  }

  at::Tensor log_density(const at::Tensor& x) const override {
    const internal::GaussianKde& kde = kde_.get([this] {
      at::Generator gen = make_generator(kPinwheelKdeSeed, c10::Device(c10::kCPU));
      const at::Tensor points = pinwheel_draws(kPinwheelKdeSamples, gen);
      const auto [hx, hy] = internal::scott_bandwidth(points);
      return internal::GaussianKde(points, hx, hy, box());
    });
    return kde.log_density(as_query(x, "pinwheel"));
  }

 private:
  internal::LazyKde kde_;
};

// ---- csv -------------------------------------------------------------------
// The rows of `all` [N, 2] split into ⌈holdout·N⌉ held-out rows and the rest, by a
// permutation drawn from `seed`; each part keeps the file's order. UserError when
// fewer than 2 training rows would remain.
std::pair<at::Tensor, at::Tensor> split_holdout(const at::Tensor& all, double holdout,
                                                uint64_t seed, const std::string& file) {
  const int64_t n = all.size(0);
  const auto k = static_cast<int64_t>(std::ceil(holdout * static_cast<double>(n) - 1e-9));
  if (k <= 0) return {all, at::Tensor()};
  if (n - k < 2) {
    throw UserError(fmt::format(
        "eval.holdout: holding out {} of the {} points of {} leaves fewer than 2 to train on; "
        "lower eval.holdout (0 trains on every point)",
        k, n, file));
  }
  at::Generator gen = make_generator(seed ^ 0x5EEDC5F0ULL, c10::Device(c10::kCPU));
  const at::Tensor perm = at::randperm(n, gen, at::TensorOptions().dtype(at::kLong));
  const at::Tensor held = std::get<0>(perm.narrow(0, 0, k).sort());
  const at::Tensor kept = std::get<0>(perm.narrow(0, k, n - k).sort());
  return {all.index_select(0, kept), all.index_select(0, held)};
}

// Rows of a point file (less the held-out ones), resampled uniformly with
// replacement; reference density a Gaussian KDE over the training rows
// (bandwidth: the option, or Scott's rule per axis); the box covers every row.
class CsvData : public Dataset2D {
 public:
  CsvData(std::string path, double bandwidth, const std::string& bandwidth_key,
          const Dataset2DOptions& options)
      : path_(std::move(path)), bandwidth_(bandwidth) {
    const at::Tensor all = internal::read_points_csv(path_);
    std::tie(points_, held_) = split_holdout(all, options.holdout, options.seed, path_);
    points_f_ = points_.to(at::kFloat);
    if (bandwidth_ > 0) {
      hx_ = hy_ = bandwidth_;
    } else {
      std::tie(hx_, hy_) = internal::scott_bandwidth(points_);
      if (!(hx_ > 0)) {
        throw UserError(path_ + ": all " + std::to_string(points_.size(0)) +
                        " points are identical, so Scott's rule gives bandwidth 0; set " +
                        bandwidth_key + " > 0");
      }
    }
    const at::Tensor lo = std::get<0>(all.min(0)), hi = std::get<0>(all.max(0));
    const double x0 = lo[0].item<double>(), x1 = hi[0].item<double>();
    const double y0 = lo[1].item<double>(), y1 = hi[1].item<double>();
    const double pad_x = 0.1 * (x1 - x0) + 3 * hx_, pad_y = 0.1 * (y1 - y0) + 3 * hy_;
    box_ = {x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y};
  }

  std::string name() const override { return "csv"; }
  Box box() const override { return box_; }
  bool log_density_exact() const override { return false; }
  Json to_json() const override {
    return Json{{"type", "csv"}, {"path", path_}, {"kde_bandwidth", bandwidth_}};
  }

  at::Tensor sample(int64_t n, at::Generator& gen) const override {
    check_sample_args(n, gen, "csv");
    return points_f_.index_select(0, pick(points_f_.size(0), n, gen));
  }

  at::Tensor log_density(const at::Tensor& x) const override {
    const internal::GaussianKde& kde =
        kde_.get([this] { return internal::GaussianKde(points_, hx_, hy_, box_); });
    return kde.log_density(as_query(x, "csv"));
  }

  at::Tensor held_out() const override {
    return held_.defined() ? held_.to(at::kFloat) : at::Tensor();
  }

 private:
  std::string path_;
  double bandwidth_;
  at::Tensor points_;    // [N, 2] float64, the training rows
  at::Tensor held_;      // [k, 2] float64, the held-out rows (undefined: none)
  at::Tensor points_f_;  // [N, 2] float32, what sample() hands out
  double hx_ = 0, hy_ = 0;
  Box box_;
  internal::LazyKde kde_;
};

}  // namespace

std::vector<std::string> dataset2d_types() {
  return {"rings", "gmm",       "8gaussians", "25gaussians", "checkerboard",
          "moons", "swissroll", "2spirals",   "pinwheel",    "csv"};
}

bool dataset2d_density_exact(const std::string& type) {
  return type != "pinwheel" && type != "csv";
}

std::unique_ptr<Dataset2D> make_dataset2d(const Json& section, const std::string& path,
                                          const Dataset2DOptions& options) {
  ConfigReader r(section, path);
  const std::string type = r.choice("type", "rings", dataset2d_types());
  r.allow({"noise"});  // data noise σ_data, applied by the trainer
  if (type == "csv") {
    if (!r.has("path")) throw UserError(r.key_path("path") + ": required for type csv");
    const std::string file = r.string("path", "");
    const double bandwidth = r.number("kde_bandwidth", 0.0, Range::non_negative());
    r.finish();
    return std::make_unique<CsvData>(file, bandwidth, r.key_path("kde_bandwidth"), options);
  }
  r.finish();
  if (type == "rings") return std::make_unique<RingsData>();
  if (type == "gmm") {
    return std::make_unique<MixtureData>("gmm", Box{-2, 2, -2, 2}, circle_centres(8, 1.0), 0.15);
  }
  if (type == "8gaussians") {
    return std::make_unique<MixtureData>("8gaussians", Box{-3, 3, -3, 3}, circle_centres(8, 2.0),
                                         0.1);
  }
  if (type == "25gaussians") {
    return std::make_unique<MixtureData>("25gaussians", Box{-3, 3, -3, 3}, grid_centres(), 0.1);
  }
  if (type == "checkerboard") return std::make_unique<CheckerboardData>();
  if (type == "moons") return make_moons();
  if (type == "swissroll") return make_swissroll();
  if (type == "2spirals") return make_two_spirals();
  if (type == "pinwheel") return std::make_unique<PinwheelData>();
  TORCH_CHECK(false, "make_dataset2d: type ", type, " is listed but not built");
}

}  // namespace anila::data
