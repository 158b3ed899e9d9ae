// image_metrics.h (private) — sample quality of image EBMs in a feature space:
// Fréchet distance and KID of generated images against a reference split,
// used during training (eval.features) and by `anila eval`.
//
// Notation: N generated images, R reference images, D feature dimension.
// Every number carries the extractor's tag in its name: `fd_<tag>`,
// `kid_<tag>`, `kid_<tag>_se` (tag "fmnist" for the built-in classifier, the
// file stem for a TorchScript file, e.g. "inception"), so FD on the
// Fashion-MNIST classifier is never mistaken for Inception FID.
//
// Reference images: the "test" split for idx and cifar10 data (same class
// filter), the training folder itself for image_folder data (it has no split).
#pragma once

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "anila/common.h"
#include "anila/eval/features.h"
#include "anila/eval/fid.h"

namespace anila {

// "fmnist" -> "fmnist"; "models/inception.pt" -> "inception" (letters, digits, '_' kept).
std::string feature_tag(const std::string& spec);

// Checks a features spec without loading it ("" = off): UserError naming `key`
// for a missing file. "fmnist" is always valid (trained on first use).
void check_feature_spec(const std::string& spec, const std::string& key);

// Trains the built-in classifier into the per-user cache
// (eval::default_fmnist_features_path()) unless it is there, saying so on stderr
// first (also when quiet) with how long it takes.
void ensure_fmnist_classifier(bool quiet);

class ImageMetrics {
 public:
  // spec: "fmnist" (the built-in classifier, trained once into the per-user
  // cache when missing, see ensure_fmnist_classifier) or a TorchScript file. data_section:
  // the run's resolved data section. max_reference: at most this many reference
  // images (0 = all).
  ImageMetrics(const std::string& spec, const Json& data_section, c10::Device device,
               int64_t max_reference = 10000, bool quiet = false);
  const std::string& tag() const { return tag_; }
  std::string extractor_name() const { return extractor_->name(); }
  std::vector<std::string> columns() const;  // fd_<tag>, kid_<tag>, kid_<tag>_se
  int64_t reference_size() const { return reference_features_.size(0); }
  // samples: [N, C, H, W] in [−1, 1], N ≥ 2 -> {fd_<tag>, kid_<tag>, kid_<tag>_se}.
  Json evaluate(const at::Tensor& samples, uint64_t seed) const;

 private:
  std::string tag_;
  eval::FeatureExtractorPtr extractor_;
  at::Tensor reference_features_;  // [R, D]
  eval::FeatureStats reference_stats_;
};

}  // namespace anila
