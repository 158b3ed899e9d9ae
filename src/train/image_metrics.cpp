// image_metrics.cpp — FD/KID of generated images against a reference split
// (see image_metrics.h).
#include "train/image_metrics.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "anila/data/images.h"

namespace fs = std::filesystem;

namespace anila {

namespace {

// KID on N generated images: subsets of min(1000, N/2) (so subsets differ and
// the standard error means something), 50 of them.
constexpr int64_t kKidSubsets = 50;
constexpr int64_t kKidMaxSubset = 1000;
// What training the classifier takes (measured, docs/metrics.md).
constexpr char kFmnistTrainEstimate[] = "1 minute of CPU time";

Json reference_section(const Json& data_section, int64_t max_reference) {
  Json ref = data_section;
  ref.erase("noise");
  ref.erase("limit");
  const std::string type = ref.value("type", std::string("idx"));
  if (type == "idx" || type == "cifar10") ref["split"] = "test";
  if (max_reference > 0) ref["limit"] = max_reference;
  return ref;
}

}  // namespace

void ensure_fmnist_classifier(bool quiet) {
  const std::string file = eval::default_fmnist_features_path();
  if (fs::exists(file)) return;
  // One line even when quiet: a run never waits on this without saying why.
  std::cerr << "anila: FD-fmnist needs the Fashion-MNIST feature classifier, which is not in "
               "the cache yet: training it once into "
            << file << " (about " << kFmnistTrainEstimate
            << " on one core; set ANILA_CACHE_DIR to keep it elsewhere, or run anila features "
               "train beforehand)\n";
  eval::ClassifierTrainOptions o;
  eval::train_fmnist_classifier(o, file, quiet);
}

std::string feature_tag(const std::string& spec) {
  if (spec == "fmnist") return "fmnist";
  std::string stem = fs::path(spec).stem().string(), tag;
  for (char c : stem) {
    tag += std::isalnum(static_cast<unsigned char>(c)) ? char(std::tolower(c)) : '_';
  }
  return tag.empty() ? "features" : tag;
}

void check_feature_spec(const std::string& spec, const std::string& key) {
  if (spec.empty() || spec == "fmnist") return;
  std::error_code ec;
  if (!fs::is_regular_file(spec, ec)) {
    throw UserError(key + ": feature extractor file " + spec +
                    " not found (give \"fmnist\" for the built-in Fashion-MNIST classifier, a "
                    "TorchScript file such as an exported Inception network, or \"\" for none)");
  }
}

ImageMetrics::ImageMetrics(const std::string& spec, const Json& data_section, c10::Device device,
                           int64_t max_reference, bool quiet)
    : tag_(feature_tag(spec)) {
  check_feature_spec(spec, "eval.features");
  if (spec == "fmnist") ensure_fmnist_classifier(quiet);
  extractor_ = eval::load_feature_extractor(spec, device);
  data::ImageDataset ref =
      data::load_image_dataset(reference_section(data_section, max_reference), "data");
  reference_features_ = extractor_->extract(ref.images);
  reference_stats_ = eval::feature_stats(reference_features_);
}

std::vector<std::string> ImageMetrics::columns() const {
  return {"fd_" + tag_, "kid_" + tag_, "kid_" + tag_ + "_se"};
}

Json ImageMetrics::evaluate(const at::Tensor& samples, uint64_t seed) const {
  const at::Tensor features = extractor_->extract(samples);
  const double fd = eval::frechet_distance(eval::feature_stats(features), reference_stats_);
  at::Generator gen = make_generator(seed, at::kCPU);
  const int64_t subset = std::max<int64_t>(
      2, std::min({kKidMaxSubset, features.size(0) / 2, reference_features_.size(0) / 2}));
  eval::KidResult kid =
      eval::kernel_inception_distance(features, reference_features_, gen, kKidSubsets, subset);
  return {{"fd_" + tag_, fd}, {"kid_" + tag_, kid.mean}, {"kid_" + tag_ + "_se", kid.se}};
}

}  // namespace anila
