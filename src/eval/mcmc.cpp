// mcmc.cpp — MCMC convergence diagnostics and the energy distance (see anila/eval/mcmc.h for
// the definitions and references: Vehtari et al. 2021 [VGSCB21], posterior's R/convergence.R).
//
// Notation: S draws per chain, C chains, D coordinates; after splitting, N draws in each of
// M = 2C split chains. Internally a set of chains is a `Chains`: n draws in each of m chains,
// stored chain-major (chain j occupies v[j·n, (j+1)·n)), float64 on the CPU. Autocovariances
// use one batched real FFT per call (zero-padded to length >= 2n, so no wrap-around).
#include "anila/eval/mcmc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

namespace anila::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kEnergyMaxRows = 2000;  // rows kept per side by energy_distance

struct Chains {
  int64_t n = 0;  // draws per chain
  int64_t m = 0;  // chains
  std::vector<double> v;
  const double* chain(int64_t j) const { return v.data() + j * n; }
};

// draws [S, C] -> Chains (chain-major float64), after the shape checks every entry point makes.
Chains load_chains(const at::Tensor& draws, const char* fn) {
  TORCH_CHECK(draws.defined() && draws.dim() == 2, fn,
              ": expected draws [S, C] (S draws per chain, C chains), got shape ",
              draws.defined() ? draws.sizes() : at::IntArrayRef{});
  TORCH_CHECK(!at::isComplexType(draws.scalar_type()) && draws.scalar_type() != at::kBool, fn,
              ": draws must be real numbers, got ", draws.scalar_type());
  TORCH_CHECK(draws.size(0) >= 4, fn, ": need at least 4 draws per chain, got S = ", draws.size(0));
  TORCH_CHECK(draws.size(1) >= 1, fn, ": need at least one chain, got C = ", draws.size(1));
  at::Tensor t = draws.detach().to(at::kCPU, at::kDouble).t().contiguous();  // [C, S]
  Chains x;
  x.n = draws.size(0);
  x.m = draws.size(1);
  x.v.assign(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
  return x;
}

// [N, 2C] split chains: chain j < C is the first N draws of chain j, chain C + j its last N.
Chains split(const Chains& x) {
  Chains s;
  s.n = x.n / 2;
  s.m = 2 * x.m;
  s.v.resize(static_cast<size_t>(s.n * s.m));
  for (int64_t j = 0; j < x.m; ++j) {
    const double* c = x.chain(j);
    std::copy(c, c + s.n, s.v.begin() + j * s.n);
    std::copy(c + (x.n - s.n), c + x.n, s.v.begin() + (x.m + j) * s.n);
  }
  return s;
}

bool all_finite(const std::vector<double>& v) {
  for (double a : v)
    if (!std::isfinite(a)) return false;
  return true;
}

bool all_equal(const double* p, int64_t n) {
  for (int64_t i = 1; i < n; ++i)
    if (p[i] != p[0]) return false;
  return true;
}

// True when a diagnostic of these values is undefined: a non-finite value, or all equal.
bool undefined(const std::vector<double>& v) {
  return !all_finite(v) || all_equal(v.data(), static_cast<int64_t>(v.size()));
}

// Mean and (n−1)-variance of p[0..n); exactly (p[0], 0) for a constant sequence, so that
// rounding never makes a constant chain look variable.
void moments(const double* p, int64_t n, double& mean, double& var) {
  if (all_equal(p, n)) {
    mean = p[0];
    var = 0;
    return;
  }
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += p[i];
  mean = s / static_cast<double>(n);
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += (p[i] - mean) * (p[i] - mean);
  var = n > 1 ? ss / static_cast<double>(n - 1) : kNaN;
}

double sample_variance(const std::vector<double>& v) {
  double mean = 0, var = 0;
  moments(v.data(), static_cast<int64_t>(v.size()), mean, var);
  return var;
}

// Normal scores z = Φ⁻¹((r − 3/8)/(n + 1/4)) of n values from their ascending order
// `order` (value, position): z[position] for each value, ties sharing their average rank.
// `table` holds the scores of the integer ranks 1..n (what a value without ties gets).
using Order = std::vector<std::pair<double, int64_t>>;

std::vector<double> rank_table(int64_t n) {
  at::Tensor p = at::arange(1, n + 1, at::kDouble).sub_(0.375).div_(static_cast<double>(n) + 0.25);
  at::Tensor z = at::special_ndtri(p).contiguous();
  return std::vector<double>(z.data_ptr<double>(), z.data_ptr<double>() + n);
}

std::vector<double> normal_scores(const Order& order, const std::vector<double>& table) {
  const int64_t n = static_cast<int64_t>(order.size());
  std::vector<double> z(static_cast<size_t>(n));
  std::vector<double> tie_p;                            // p of each tie group
  std::vector<std::pair<int64_t, int64_t>> tie_groups;  // [begin, end) in `order`
  for (int64_t i = 0; i < n;) {
    int64_t j = i + 1;
    while (j < n && order[j].first == order[i].first) ++j;
    if (j == i + 1) {
      z[order[i].second] = table[i];
    } else {
      const double rank = 0.5 * static_cast<double>(i + 1 + j);  // mean of ranks i+1 .. j
      tie_p.push_back((rank - 0.375) / (static_cast<double>(n) + 0.25));
      tie_groups.emplace_back(i, j);
    }
    i = j;
  }
  if (!tie_p.empty()) {
    at::Tensor tz = at::special_ndtri(at::tensor(tie_p, at::kDouble)).contiguous();
    const double* pz = tz.data_ptr<double>();
    for (size_t g = 0; g < tie_groups.size(); ++g)
      for (int64_t k = tie_groups[g].first; k < tie_groups[g].second; ++k)
        z[order[k].second] = pz[g];
  }
  return z;
}

Order ascending(const std::vector<double>& v) {
  Order order(v.size());
  for (size_t i = 0; i < v.size(); ++i) order[i] = {v[i], static_cast<int64_t>(i)};
  std::sort(order.begin(), order.end());
  return order;
}

// The ascending order of |v − center| from the ascending order of v, by merging the values
// below the centre (walking down) with those at or above it (walking up): O(n), no sort.
Order folded_order(const Order& order, double center) {
  const int64_t n = static_cast<int64_t>(order.size());
  int64_t up = std::lower_bound(order.begin(), order.end(), std::make_pair(center, int64_t{-1})) -
               order.begin();
  int64_t down = up - 1;
  Order out;
  out.reserve(order.size());
  while (down >= 0 || up < n) {
    const double fd = down >= 0 ? center - order[down].first : kNaN;
    const double fu = up < n ? order[up].first - center : kNaN;
    if (up >= n || (down >= 0 && fd <= fu)) {
      out.emplace_back(fd, order[down--].second);
    } else {
      out.emplace_back(fu, order[up++].second);
    }
  }
  return out;
}

Chains with_values(const Chains& layout, std::vector<double> v) {
  Chains c;
  c.n = layout.n;
  c.m = layout.m;
  c.v = std::move(v);
  return c;
}

// What the rank-based diagnostics of one quantity share: the split chains, their ascending
// order, their normal scores, and all S·C draws sorted (for the median and the quantiles).
struct Ranked {
  Chains split;
  Order order;
  Chains z_split;
  std::vector<double> sorted_all;
};

Ranked rank_chains(const Chains& x, const std::vector<double>& table) {
  Ranked r;
  r.split = split(x);
  r.order = ascending(r.split.v);
  r.z_split = with_values(r.split, normal_scores(r.order, table));
  if (r.split.v.size() == x.v.size()) {  // even S: the split draws are all the draws
    r.sorted_all.resize(r.order.size());
    for (size_t i = 0; i < r.order.size(); ++i) r.sorted_all[i] = r.order[i].first;
  } else {
    r.sorted_all = x.v;
    std::sort(r.sorted_all.begin(), r.sorted_all.end());
  }
  return r;
}

// Type-7 quantile (R's default: linear interpolation between order statistics) of sorted v.
double quantile7(const std::vector<double>& sorted, double prob) {
  const double h = static_cast<double>(sorted.size() - 1) * prob;
  const size_t lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

// Split-R̂ of chains x (already split): sqrt((N−1)/N + var_m(x̄_m)/W).  [VGSCB21 eqs. 3–4]
double rhat_core(const Chains& x) {
  if (undefined(x.v)) return kNaN;
  std::vector<double> means(static_cast<size_t>(x.m));
  double w = 0;
  for (int64_t j = 0; j < x.m; ++j) {
    double var = 0;
    moments(x.chain(j), x.n, means[j], var);
    w += var;
  }
  w /= static_cast<double>(x.m);
  const double n = static_cast<double>(x.n);
  const double b_over_n = x.m > 1 ? sample_variance(means) : 0.0;
  return std::sqrt((n - 1) / n + b_over_n / w);  // W = 0 < B: +inf
}

// Smallest 2^a 3^b 5^c >= k (a size pocketfft/MKL transform quickly).
int64_t fft_size(int64_t k) {
  for (int64_t s = std::max<int64_t>(k, 1);; ++s) {
    int64_t r = s;
    for (int64_t f : {2, 3, 5})
      while (r % f == 0) r /= f;
    if (r == 1) return s;
  }
}

// Autocovariance sums Σ_{i<n−t} y_i y_{i+t}, t = 0..n−1, of the centred chains y (a constant
// chain centres to exact zeros). Returns [n] (summed over chains) if `sum_chains`, else [m, n].
at::Tensor autocov_sums(const Chains& x, bool sum_chains) {
  const int64_t len = fft_size(2 * x.n);
  at::Tensor y = at::zeros({x.m, len}, at::kDouble);
  double* py = y.data_ptr<double>();
  for (int64_t j = 0; j < x.m; ++j) {
    const double* c = x.chain(j);
    double mean = 0, var = 0;
    moments(c, x.n, mean, var);
    if (var == 0) continue;
    for (int64_t i = 0; i < x.n; ++i) py[j * len + i] = c[i] - mean;
  }
  at::Tensor spec = at::fft_rfft(y, len, /*dim=*/1);
  at::Tensor power = at::real(spec).square() + at::imag(spec).square();  // [m, len/2 + 1]
  if (sum_chains) power = power.sum(0);
  at::Tensor ac = at::fft_irfft(power.to(at::kComplexDouble), len, /*dim=*/-1);
  return ac.narrow(-1, 0, x.n).contiguous();
}

// ESS of chains x (already split, rank-normalised or not), following posterior's .ess.
double ess_core(const Chains& x) {
  const int64_t n = x.n, m = x.m;
  if (n < 3 || undefined(x.v)) return kNaN;
  at::Tensor sums = autocov_sums(x, /*sum_chains=*/true);
  const double* s = sums.data_ptr<double>();
  const double dn = static_cast<double>(n);
  // mean over chains of the biased autocovariance γ̂_m(t) = sums_m(t)/n
  auto acov = [&](int64_t t) { return s[t] / (dn * static_cast<double>(m)); };
  const double mean_var = acov(0) * dn / (dn - 1);  // W
  double var_plus = mean_var * (dn - 1) / dn;
  if (m > 1) {
    std::vector<double> means(static_cast<size_t>(m));
    for (int64_t j = 0; j < m; ++j) {
      double var = 0;
      moments(x.chain(j), n, means[j], var);
    }
    var_plus += sample_variance(means);
  }
  auto rho_at = [&](int64_t t) { return 1 - (mean_var - acov(t)) / var_plus; };

  // Geyer's initial positive sequence.
  std::vector<double> rho(static_cast<size_t>(n), 0.0);
  double even = 1, odd = rho_at(1);
  rho[0] = even;
  rho[1] = odd;
  int64_t t = 0;
  while (t < n - 5 && !std::isnan(even + odd) && even + odd > 0) {
    t += 2;
    even = rho_at(t);
    odd = rho_at(t + 1);
    if (even + odd >= 0) {
      rho[t] = even;
      rho[t + 1] = odd;
    }
  }
  const int64_t max_t = t;
  if (even > 0) rho[max_t] = even;  // used by the improved (antithetic-friendly) estimate

  // Geyer's initial monotone sequence.
  for (t = 2; t <= max_t - 2; t += 2) {
    const double prev = rho[t - 2] + rho[t - 1];
    if (rho[t] + rho[t + 1] > prev) rho[t] = rho[t + 1] = prev / 2;
  }

  // τ̂ = −1 + 2 Σ_{t<t_max} ρ̂_t + ρ̂_{t_max}; for t_max = 0 posterior's sum(rho[1:0]) is ρ̂_0.
  double head = 0;
  if (max_t == 0) {
    head = rho[0];
  } else {
    for (t = 0; t < max_t; ++t) head += rho[t];
  }
  const double total = dn * static_cast<double>(m);
  const double tau = std::max(-1 + 2 * head + rho[max_t], 1 / std::log10(total));
  return total / tau;
}

// The diagnostics of one quantity from its Ranked form; the public functions and
// summarize_draws share these, so a summary entry is bit-identical to the scalar function.
// Callers have checked that the draws are finite and not all equal.
double rhat_impl(const Ranked& r, const std::vector<double>& table) {
  const double bulk = rhat_core(r.z_split);
  const double median = quantile7(r.sorted_all, 0.5);
  const Chains z_fold = with_values(r.split, normal_scores(folded_order(r.order, median), table));
  const double tail = rhat_core(z_fold);
  if (std::isnan(tail)) return bulk;  // the folded draws are constant: see rhat() in mcmc.h
  if (std::isnan(bulk)) return tail;
  return std::max(bulk, tail);
}

double ess_quantile_impl(const Chains& x, const std::vector<double>& sorted_all, double prob) {
  const double q = quantile7(sorted_all, prob);
  Chains ind = x;
  for (double& a : ind.v) a = a <= q ? 1.0 : 0.0;
  return ess_core(split(ind));
}

double ess_tail_impl(const Chains& x, const std::vector<double>& sorted_all) {
  const double lo = ess_quantile_impl(x, sorted_all, 0.05);
  const double hi = ess_quantile_impl(x, sorted_all, 0.95);
  if (std::isnan(lo) || std::isnan(hi)) return kNaN;
  return std::min(lo, hi);
}

// ---- energy distance helpers ----

// x [n, d] -> contiguous float64 rows that are finite, then at most kEnergyMaxRows of them,
// rows ⌊i·n/k⌋.
at::Tensor energy_rows(const at::Tensor& x) {
  at::Tensor d = x.detach().to(at::kCPU, at::kDouble).contiguous();
  at::Tensor keep = at::isfinite(d).all(/*dim=*/1);
  if (!keep.all().item<bool>()) d = d.index_select(0, keep.nonzero().reshape({-1})).contiguous();
  const int64_t n = d.size(0);
  if (n <= kEnergyMaxRows) return d;
  at::Tensor idx = at::empty({kEnergyMaxRows}, at::kLong);
  int64_t* pi = idx.data_ptr<int64_t>();
  for (int64_t i = 0; i < kEnergyMaxRows; ++i) pi[i] = i * n / kEnergyMaxRows;
  return d.index_select(0, idx).contiguous();
}

inline double dist(const double* a, const double* b, int64_t d) {
  double r2 = 0;
  for (int64_t k = 0; k < d; ++k) {
    const double t = a[k] - b[k];
    r2 += t * t;
  }
  return std::sqrt(r2);
}

// mean over all ordered pairs (i, j) of ‖a_i − b_j‖.
double mean_dist_between(const at::Tensor& a, const at::Tensor& b) {
  const int64_t n = a.size(0), m = b.size(0), d = a.size(1);
  const double* pa = a.data_ptr<double>();
  const double* pb = b.data_ptr<double>();
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    double row = 0;
    for (int64_t j = 0; j < m; ++j) row += dist(pa + i * d, pb + j * d, d);
    s += row;
  }
  return s / (static_cast<double>(n) * static_cast<double>(m));
}

}  // namespace

// ---- building blocks ----

at::Tensor split_chains(const at::Tensor& draws) {
  Chains s = split(load_chains(draws, "split_chains"));
  // chain-major [2C, N] -> [N, 2C]
  return at::tensor(s.v, at::kDouble).reshape({s.m, s.n}).t().contiguous();
}

at::Tensor rank_normalize(const at::Tensor& x) {
  TORCH_CHECK(x.defined() && x.numel() > 0, "rank_normalize: expected a non-empty tensor");
  at::Tensor d = x.detach().to(at::kCPU, at::kDouble).contiguous();
  TORCH_CHECK(!at::isnan(d).any().item<bool>(), "rank_normalize: x has NaN entries");
  std::vector<double> v(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
  std::vector<double> z = normal_scores(ascending(v), rank_table(d.numel()));
  return at::tensor(z, at::kDouble).reshape(x.sizes());
}

// ---- R̂ ----

double rhat_basic(const at::Tensor& draws) {
  return rhat_core(split(load_chains(draws, "rhat_basic")));
}

double rhat(const at::Tensor& draws) {
  const Chains x = load_chains(draws, "rhat");
  if (undefined(x.v)) return kNaN;
  const std::vector<double> table = rank_table((x.n / 2) * (2 * x.m));
  return rhat_impl(rank_chains(x, table), table);
}

// ---- ESS and MCSE ----

double ess_basic(const at::Tensor& draws) {
  return ess_core(split(load_chains(draws, "ess_basic")));
}

double ess_bulk(const at::Tensor& draws) {
  const Chains x = load_chains(draws, "ess_bulk");
  if (undefined(x.v)) return kNaN;
  return ess_core(rank_chains(x, rank_table((x.n / 2) * (2 * x.m))).z_split);
}

double ess_tail(const at::Tensor& draws) {
  const Chains x = load_chains(draws, "ess_tail");
  if (undefined(x.v)) return kNaN;
  std::vector<double> sorted_all = x.v;
  std::sort(sorted_all.begin(), sorted_all.end());
  return ess_tail_impl(x, sorted_all);
}

double ess_mean(const at::Tensor& draws) {
  return ess_core(split(load_chains(draws, "ess_mean")));
}

double mcse_mean(const at::Tensor& draws) {
  const Chains x = load_chains(draws, "mcse_mean");
  if (undefined(x.v)) return kNaN;
  return std::sqrt(sample_variance(x.v) / ess_core(split(x)));
}

at::Tensor autocorrelation(const at::Tensor& draws, int64_t max_lag) {
  const Chains x = load_chains(draws, "autocorrelation");
  TORCH_CHECK(max_lag >= 0 && max_lag < x.n, "autocorrelation: max_lag must be in [0, S), got ",
              max_lag, " with S = ", x.n);
  at::Tensor sums = autocov_sums(x, /*sum_chains=*/false).narrow(1, 0, max_lag + 1);  // [C, L+1]
  at::Tensor rho = sums / sums.narrow(1, 0, 1);  // a constant chain: 0/0 = NaN
  return rho.mean(0).contiguous();
}

// ---- energy distance ----

double energy_distance(const at::Tensor& x, const at::Tensor& y) {
  TORCH_CHECK(x.defined() && y.defined() && x.dim() == 2 && y.dim() == 2,
              "energy_distance: expected x [n, d] and y [m, d]");
  TORCH_CHECK(x.size(1) == y.size(1), "energy_distance: x has ", x.size(1), " columns but y has ",
              y.size(1));
  at::Tensor a = energy_rows(x), b = energy_rows(y);
  if (a.size(0) == 0 || b.size(0) == 0) return kNaN;
  // The within terms use the same ordered-pair sums as the cross term, so identical sets
  // give exactly 0.
  return 2 * mean_dist_between(a, b) - mean_dist_between(a, a) - mean_dist_between(b, b);
}

// ---- per-coordinate summary ----

DrawsSummary summarize_draws(const at::Tensor& draws) {
  TORCH_CHECK(draws.defined() && draws.dim() == 3,
              "summarize_draws: expected draws [S, C, D] (S draws per chain, C chains, D "
              "coordinates), got shape ",
              draws.defined() ? draws.sizes() : at::IntArrayRef{});
  TORCH_CHECK(!at::isComplexType(draws.scalar_type()) && draws.scalar_type() != at::kBool,
              "summarize_draws: draws must be real numbers, got ", draws.scalar_type());
  const int64_t S = draws.size(0), C = draws.size(1), D = draws.size(2);
  TORCH_CHECK(S >= 4, "summarize_draws: need at least 4 draws per chain, got S = ", S);
  TORCH_CHECK(C >= 1, "summarize_draws: need at least one chain, got C = ", C);
  at::Tensor all = draws.detach().to(at::kCPU, at::kDouble).permute({2, 1, 0}).contiguous();
  const double* pa = all.data_ptr<double>();  // [D, C, S]

  DrawsSummary out;
  out.num_draws = S;
  out.num_chains = C;
  auto opts = at::TensorOptions().dtype(at::kDouble);
  out.mean = at::empty({D}, opts);
  out.sd = at::empty({D}, opts);
  out.mcse_mean = at::empty({D}, opts);
  out.ess_bulk = at::empty({D}, opts);
  out.ess_tail = at::empty({D}, opts);
  out.rhat = at::empty({D}, opts);
  double* p_mean = out.mean.data_ptr<double>();
  double* p_sd = out.sd.data_ptr<double>();
  double* p_mcse = out.mcse_mean.data_ptr<double>();
  double* p_bulk = out.ess_bulk.data_ptr<double>();
  double* p_tail = out.ess_tail.data_ptr<double>();
  double* p_rhat = out.rhat.data_ptr<double>();

  const std::vector<double> table = rank_table((S / 2) * (2 * C));
  at::parallel_for(0, D, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      Chains x;
      x.n = S;
      x.m = C;
      x.v.assign(pa + k * C * S, pa + (k + 1) * C * S);
      double mean = 0, var = 0;
      moments(x.v.data(), S * C, mean, var);
      p_mean[k] = mean;
      p_sd[k] = std::sqrt(var);
      if (undefined(x.v)) {
        p_mcse[k] = p_bulk[k] = p_tail[k] = p_rhat[k] = kNaN;
        continue;
      }
      const Ranked r = rank_chains(x, table);
      p_rhat[k] = rhat_impl(r, table);
      p_bulk[k] = ess_core(r.z_split);
      p_tail[k] = ess_tail_impl(x, r.sorted_all);
      p_mcse[k] = std::sqrt(var / ess_core(r.split));
    }
  });

  auto extreme = [&](const double* p, bool want_max) {
    double best = kNaN;
    for (int64_t k = 0; k < D; ++k) {
      if (std::isnan(p[k])) continue;
      if (std::isnan(best) || (want_max ? p[k] > best : p[k] < best)) best = p[k];
    }
    return best;
  };
  out.min_ess_bulk = extreme(p_bulk, /*want_max=*/false);
  out.min_ess_tail = extreme(p_tail, /*want_max=*/false);
  out.max_rhat = extreme(p_rhat, /*want_max=*/true);
  for (int64_t k = 0; k < D; ++k)
    if (std::isnan(p_rhat[k]) || std::isnan(p_bulk[k]) || std::isnan(p_tail[k]))
      ++out.num_undefined;
  return out;
}

namespace {

// JSON has no NaN or infinity: NaN (undefined) becomes null, ±inf the strings "inf"/"-inf".
Json number_json(double v) {
  if (std::isnan(v)) return Json(nullptr);
  if (std::isinf(v)) return Json(v > 0 ? "inf" : "-inf");
  return Json(v);
}

Json array_json(const at::Tensor& t) {
  Json a = Json::array();
  if (!t.defined()) return a;
  at::Tensor c = t.to(at::kCPU, at::kDouble).contiguous();
  const double* p = c.data_ptr<double>();
  for (int64_t i = 0; i < c.numel(); ++i) a.push_back(number_json(p[i]));
  return a;
}

}  // namespace

Json DrawsSummary::to_json(bool per_coordinate) const {
  Json j = {{"num_draws", num_draws},
            {"num_chains", num_chains},
            {"dim", rhat.defined() ? rhat.numel() : 0},
            {"min_ess_bulk", number_json(min_ess_bulk)},
            {"min_ess_tail", number_json(min_ess_tail)},
            {"max_rhat", number_json(max_rhat)},
            {"num_undefined", num_undefined}};
  if (per_coordinate) {
    j["mean"] = array_json(mean);
    j["sd"] = array_json(sd);
    j["mcse_mean"] = array_json(mcse_mean);
    j["ess_bulk"] = array_json(ess_bulk);
    j["ess_tail"] = array_json(ess_tail);
    j["rhat"] = array_json(rhat);
  }
  return j;
}

}  // namespace anila::eval
