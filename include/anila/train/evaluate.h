// evaluate.h — `anila eval`: sample quality of a trained image EBM in a feature
// space (Fréchet distance and KID against the test split).
//
// Notation: N generated images, K sampler steps, D feature dimension. The N
// chains start from the run's noise init (its chain source's `noise`) and run
// K steps of the chosen sampler with θ frozen, in chunks of `batch` chains.
// Features: "fmnist" (the built-in Fashion-MNIST classifier; trained once into
// the per-user cache when missing, eval::default_fmnist_features_path()) or a TorchScript file
// (e.g. an exported Inception network; see docs/metrics.md). Metric names carry the extractor's
// tag: fd_fmnist, kid_fmnist, kid_fmnist_se — FD on the Fashion-MNIST
// classifier is not Inception FID.
//
// Writes OUT/eval.json (the returned object: metrics, features, n, sampler,
// steps, reference size, weights (ema or raw), seconds) and OUT/samples.png (the first 64 images).
//
//   anila::ImageEvalOptions o;  o.n = 10000;  o.features = "fmnist";
//   anila::Json r = anila::evaluate_checkpoint("runs/fashion_mnist", o);
#pragma once

#include <cstdint>
#include <string>

#include "anila/common.h"

namespace anila {

struct ImageEvalOptions {
  int64_t n = 10000;          // N generated images
  std::string sampler;        // sampler type ("" = the run's); settings as in compare
  int64_t steps = -1;         // K (-1: the run's train.mcmc_steps)
  std::string features;       // "" = the run's eval.features, else "fmnist"
  int64_t reference = 10000;  // at most this many test images
  int64_t batch = 500;        // chains sampled at once
  uint64_t seed = 0;
  std::string weights;  // "ema" | "raw" | "" (the run's choice; see load_run)
  std::string out_dir;  // "" = RUN/eval-<sampler>
  bool quiet = false;
};

// `checkpoint`: a run folder or its checkpoints/last.pt or best.pt. UserError for a 2D
// run, a missing/corrupt/mismatched checkpoint, an unknown sampler, or a
// missing feature file.
Json evaluate_checkpoint(const std::string& checkpoint, const ImageEvalOptions& options);

}  // namespace anila
