// fid.h — sample-quality metrics in a feature space: Fréchet distance (FD, "FID" when the
// features come from Inception), kernel inception distance (KID) and precision/recall.
//
// Notation: features are a tensor [N, D] — N samples, D feature coordinates (any real
// dtype, any device; all arithmetic is float64). `a`/`b` (or real/fake) name the two sets.
// μ ∈ R^D is a mean, Σ ∈ R^{D×D} an unbiased covariance (divisor N−1).
//
//   FD  = ‖μa − μb‖² + tr Σa + tr Σb − 2·tr((Σa^{1/2} Σb Σa^{1/2})^{1/2})
//         [Fréchet 1957; Dowson & Landau 1982; Heusel et al. 2017 (FID)]
//   KID = mean over random subsets of the unbiased MMD² with k(x, y) = (xᵀy/D + 1)³
//         [Bińkowski, Sutherland, Arbel & Gretton 2018]
//   precision / recall with k-nearest-neighbour balls around each sample
//         [Kynkäänniemi, Karras, Laine, Lehtinen & Aila 2019]
//
// Usage:
//   FeatureStats real = feature_stats(real_features);      // cache it: save_feature_stats
//   double fd = frechet_distance(real, feature_stats(fake_features));
//   at::Generator gen = make_generator(0, at::kCPU);
//   KidResult kid = kernel_inception_distance(real_features, fake_features, gen);
//   PrecisionRecall pr = precision_recall(real_features, fake_features, /*k=*/3);
//
// Bad input (not [N, D], N < 2, different D on the two sides, NaN/Inf values) is a
// UserError with a one-line message naming the function and the argument.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include "anila/common.h"

namespace anila::eval {

// ---- Fréchet distance ----------------------------------------------------------------

// First two moments of a feature set. mean: [D] float64, cov: [D, D] float64 on the CPU;
// n: the number of samples they came from (0 when unknown).
struct FeatureStats {
  at::Tensor mean;
  at::Tensor cov;
  int64_t n = 0;
};

// features: [N, D], N >= 2 -> mean and unbiased covariance (divisor N−1), computed in
// float64 on the features' device (in row chunks, so no float64 copy of all of `features`
// is made) and returned on the CPU.
FeatureStats feature_stats(const at::Tensor& features);

// Fréchet distance between N(μa, Σa) and N(μb, Σb) (formula above), in float64.
// Both covariances are symmetrised ((Σ + Σᵀ)/2) and square-rooted by a symmetric
// eigendecomposition, with eigenvalues below 0 (round-off; a rank-deficient Σ from N <= D
// samples) set to 0, so a singular covariance never gives NaN. The trace term is computed
// as the sum of singular values of Σa^{1/2} Σb^{1/2}: since Σa^{1/2} Σb Σa^{1/2} = C Cᵀ
// with C = Σa^{1/2} Σb^{1/2}, tr((Σa^{1/2} Σb Σa^{1/2})^{1/2}) = Σ σ_i(C). This is the same
// quantity as Σ sqrt(eigenvalues of Σa^{1/2} Σb Σa^{1/2}), but it avoids square-rooting
// round-off-sized eigenvalues of that product (which costs ~1e-7 relative accuracy for a
// rank-deficient Σ; the singular values stay within ~1e-15).
// A negative result smaller in size than 1e-9·(tr Σa + tr Σb + ‖μa − μb‖²) is round-off
// and returned as 0; any other value is returned as computed.
double frechet_distance(const FeatureStats& a, const FeatureStats& b);
// features_a: [Na, D], features_b: [Nb, D] -> frechet_distance(feature_stats(a), feature_stats(b)).
double frechet_distance(const at::Tensor& features_a, const at::Tensor& features_b);

// Writes `stats` into the folder `dir` (created if missing) as NumPy files: mu.npy [D]
// and sigma.npy [D, D] (float64), n.npy [1] (int64). UserError if it cannot be written.
void save_feature_stats(const std::string& dir, const FeatureStats& stats);
// The inverse; UserError naming the file if one is missing, unreadable or of the wrong shape.
FeatureStats load_feature_stats(const std::string& dir);

// ---- kernel inception distance ---------------------------------------------------------

struct KidResult {
  double mean = 0;          // KID: mean of the per-subset unbiased MMD² estimates
  double sd = 0;            // their standard deviation (divisor subsets−1; NaN if subsets = 1)
  double se = 0;            // sd / sqrt(subsets)
  int64_t subsets = 0;      // number of subsets averaged
  int64_t subset_size = 0;  // m actually used: min(subset_size, Na, Nb)
};

// fa: [Na, D], fb: [Nb, D]. For each of `subsets` rounds, m = min(subset_size, Na, Nb) rows
// are drawn without replacement from each side (random permutations from `gen`, a generator
// on the CPU or on fa's device; fb is moved to fa's device) and the unbiased MMD² is
// computed in float64:
//   Σ_{i≠j} k(a_i, a_j)/(m(m−1)) + Σ_{i≠j} k(b_i, b_j)/(m(m−1)) − 2 Σ_{i,j} k(a_i, b_j)/m²,
// k(x, y) = (xᵀy/D + 1)³. The estimate is unbiased, so it can be negative. se measures the
// spread between subsets only; subsets overlap when m is not much smaller than Na and Nb,
// and se then understates the uncertainty about the population value.
// UserError if subsets < 1 or subset_size < 2.
KidResult kernel_inception_distance(const at::Tensor& fa, const at::Tensor& fb, at::Generator& gen,
                                    int64_t subsets = 100, int64_t subset_size = 1000);

// ---- precision and recall ----------------------------------------------------------------

struct PrecisionRecall {
  double precision = 0;  // fraction of fake samples inside the real manifold estimate
  double recall = 0;     // fraction of real samples inside the fake manifold estimate
  int64_t k = 3;         // neighbour rank used for the radii
};

// real: [Nr, D], fake: [Nf, D], 1 <= k < min(Nr, Nf). The radius of a real sample is the
// Euclidean distance to its k-th nearest other real sample (the sample itself does not
// count; an exact duplicate does, at distance 0). precision = fraction of fake samples
// within distance <= radius of at least one real sample; recall = the same with the roles
// of real and fake swapped. Distances are at::cdist in float64 on real's device, in
// row chunks of at most ~2M distances (16 MB), so memory stays bounded for large N; they
// carry an absolute error of about 1e-8·‖x‖ (cdist's matrix-product form), which matters
// only for points lying exactly on a ball's boundary.
PrecisionRecall precision_recall(const at::Tensor& real, const at::Tensor& fake, int64_t k = 3);

}  // namespace anila::eval
