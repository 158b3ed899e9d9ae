// features.h — feature extractors for sample-quality metrics (Fréchet distance, KID):
// a TorchScript module given as a file (e.g. the Inception network of FID), or the
// built-in Fashion-MNIST classifier that anila trains itself (`anila features train`).
//
// Notation: N images, C channels, H×W pixels, D feature dimension. Images are anila's
// float32 [N, C, H, W] in [−1, 1] (anila/data/images.h); features are float32 [N, D]
// on the CPU. See docs/metrics.md, "Feature extractors", for the file formats and for
// exporting the standard FID Inception network to TorchScript.
//
// Extractors:
//   "fmnist" or a built-in classifier file   name "fmnist-classifier", D = 128: the
//        penultimate layer of a small CNN trained on Fashion-MNIST. Input: C = 1, any
//        H×W (bilinearly resized to 28×28 when it differs). Default file:
//        default_fmnist_features_path() (a per-user cache), written by
//        train_fmnist_classifier.
//   a TorchScript archive (torch.jit.save / Module::save)   name "torchscript:<file name>":
//        each batch is adapted per TorchScriptInput (bilinear resize to size×size, channel
//        repeat 1 → 3 or luminance 3 → 1, value range), then `forward` is called; the
//        output (a tensor, or the first tensor of a tuple/list) is flattened to [N, D].
//        D is found at load time by one forward pass on a zero image.
// The file type is recognised from its first bytes, not its extension.
//
//   auto fx = anila::eval::load_feature_extractor("fmnist");
//   at::Tensor f = fx->extract(images);          // [N, 128]
//   auto inc = anila::eval::load_feature_extractor("inception.pt", c10::kCPU, {299, "0_1", 3});
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "anila/common.h"
#include "anila/data/images.h"

namespace anila::eval {

// ---- the interface ----------------------------------------------------------------

class FeatureExtractor {
 public:
  virtual ~FeatureExtractor() = default;
  // "fmnist-classifier" or "torchscript:inception.pt"; metrics carry it ("FD-fmnist-classifier").
  virtual std::string name() const = 0;
  // D, the length of one feature vector.
  virtual int64_t dim() const = 0;
  // images: [N, C, H, W] float32 in [−1, 1] (any device); returns [N, D] float32 on the CPU.
  // Runs without autograd on the extractor's device, `batch` images at a time (batch ≥ 1).
  // UserError (one line) when the images do not suit the extractor.
  virtual at::Tensor extract(const at::Tensor& images, int64_t batch = 200) = 0;
};
using FeatureExtractorPtr = std::shared_ptr<FeatureExtractor>;

// ---- TorchScript extractors -------------------------------------------------------

// How images are adapted before a TorchScript module's forward, in this order:
//   1. resize: bilinear (align_corners = false) to size×size when H or W differ (size ≥ 1);
//   2. channels: C == channels as is; C = 1, channels = 3 repeats the plane;
//      C = 3, channels = 1 takes the luminance 0.299 R + 0.587 G + 0.114 B;
//   3. range: "minus1_1" keeps x; "0_1" gives (x + 1)/2; "imagenet" gives
//      ((x + 1)/2 − mean_c)/std_c with mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)
//      (needs channels = 3).
struct TorchScriptInput {
  int64_t size = 299;
  std::string range = "0_1";
  int64_t channels = 3;
};

// images [N, C, H, W] in [−1, 1] -> [N, input.channels, input.size, input.size] as above
// (same device). UserError on a bad option or a channel count it cannot adapt.
at::Tensor adapt_torchscript_input(const at::Tensor& images, const TorchScriptInput& input);

// ---- loading ----------------------------------------------------------------------

// The per-user cache folder: $ANILA_CACHE_DIR, else $XDG_CACHE_HOME/anila, else
// $HOME/.cache/anila (runs/features when none of them is set).
std::string feature_cache_dir();
// The built-in classifier's file: feature_cache_dir() + "/fmnist-features-v2.pt".
std::string default_fmnist_features_path();

// spec: "fmnist" (the file at default_fmnist_features_path()) or a path to a built-in
// classifier file or a TorchScript archive. `input` applies to TorchScript only.
// UserError (one line, naming the file) when the file is missing, is neither format, is
// corrupt or of an unknown architecture/version, or when the module's forward fails on
// the adapted probe input (the message gives that input's shape).
FeatureExtractorPtr load_feature_extractor(const std::string& spec, c10::Device device = c10::kCPU,
                                           const TorchScriptInput& input = {});

// ---- the built-in Fashion-MNIST classifier ----------------------------------------
//
// Architecture "fmnist-cnn" (version 2), input [N, 1, 28, 28] in [−1, 1]:
//   conv 1→16 3×3 pad 1, ReLU, max-pool 2  -> [N, 16, 14, 14]
//   conv 16→32 3×3 pad 1, ReLU, max-pool 2 -> [N, 32, 7, 7]
//   linear 1568→128, ReLU                  -> [N, 128]   the features
//   linear 128→10                          -> logits
// Version 1 files (32 and 64 conv channels, linear 3136→128) are read as well.
// Trained with Adam and cross-entropy on the IDX train split (shuffled every epoch), the
// learning rate decaying along a half cosine from lr to 0 over all steps; He-normal
// weights, zero biases. For a fixed seed and thread count the file is the
// same byte for byte.

struct ClassifierTrainOptions {
  int64_t epochs = 4;
  int64_t batch = 128;
  double lr = 2e-3;
  uint64_t seed = 0;
  int64_t limit = 0;  // use at most this many training images (0 = all)
  int threads = 0;    // intra-op threads (anila::set_threads); 0 = leave the current setting
  std::string data_path = data::kDefaultFashionMnistPath;  // an IDX folder, labels 0..9
};

// Trains the classifier on `options.data_path` (split "train"), measures its accuracy on
// the "test" split, and writes `out_file` atomically (temporary file + rename; parent
// folders are created). Unless `quiet`, prints one line per epoch (loss, running
// accuracy) and the test accuracy to stderr. Returns {"architecture", "epochs",
// "train_images", "test_images", "loss" (last epoch's mean), "train_accuracy" (last
// epoch's running accuracy), "test_accuracy", "seed", "threads", "seconds", "file"}.
// UserError for bad options, unusable data (not 1×28×28, no labels, labels outside
// 0..9) or an unwritable file.
Json train_fmnist_classifier(const ClassifierTrainOptions& options, const std::string& out_file,
                             bool quiet = false);

}  // namespace anila::eval
