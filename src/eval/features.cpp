// features.cpp — feature extractors for FD/KID: TorchScript modules loaded from a file,
// and the built-in Fashion-MNIST classifier (training, its file format, extraction).
//
// Notation: N images, C channels, H×W pixels, D feature dimension, B a batch.
//
// Built-in classifier file (docs/metrics.md, "Feature extractors"):
//   line 1   "ANILA-FEATURES\n"                         (magic)
//   line 2   a one-line JSON header ending in '\n': format, version, architecture,
//            feature_dim, input, tensors [{name, shape}...] in payload order,
//            payload_bytes, crc32 (CRC-32 of the payload, as zlib's crc32), and how it was trained
//            (seed, epochs, train_images, test_accuracy ...)
//   payload  the tensors' float32 values, little-endian, C order, back to back
// A TorchScript archive is a zip file and starts with "PK\x03\x04"; the loader tells
// the two apart by these first bytes.
#include "anila/eval/features.h"

#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <tuple>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <torch/optim/adam.h>
#include <torch/script.h>

#include "anila/config.h"
#include "anila/io/files.h"
#include "anila/io/progress.h"
#include "io/write_file.h"

namespace anila::eval {

std::string feature_cache_dir() {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  if (!env("ANILA_CACHE_DIR").empty()) return env("ANILA_CACHE_DIR");
  if (!env("XDG_CACHE_HOME").empty()) return env("XDG_CACHE_HOME") + "/anila";
  if (!env("HOME").empty()) return env("HOME") + "/.cache/anila";
  return "runs/features";  // no home folder: the working folder, as before
}

std::string default_fmnist_features_path() {
  return feature_cache_dir() + "/fmnist-features-v" + std::to_string(2) + ".pt";
}

namespace fs = std::filesystem;

namespace {

// CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, init and final xor ~0), the
// value zlib's crc32(0, data, n) gives; "123456789" -> 0xCBF43926. Here so that a
// build without zlib reads and writes the same files.
uint32_t crc32_of(const void* data, size_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

}  // namespace

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "anila's features file writer assumes a little-endian host"
#endif

namespace {

constexpr char kMagic[] = "ANILA-FEATURES\n";
constexpr size_t kMagicLen = sizeof(kMagic) - 1;
constexpr char kZipMagic[] = "PK\x03\x04";
constexpr char kArchitecture[] = "fmnist-cnn";
constexpr int kVersion = 2;    // written; versions 1 and 2 are read
constexpr int64_t kSide = 28;  // input H = W
constexpr int64_t kFeatureDim = 128;
constexpr int64_t kClasses = 10;
constexpr char kClassifierName[] = "fmnist-classifier";

// The most telling single line of a LibTorch error: TorchScript interpreter errors put
// the cause ("RuntimeError: ...") on their last line, plain c10 errors on their only one.
// TorchScript interpreter errors may also be plain std::runtime_errors (JITException).
std::string error_line(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::istringstream in(c10_error ? c10_error->what_without_backtrace() : e.what());
  std::string line, last;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t");
    if (first != std::string::npos) last = line.substr(first);
  }
  return last;
}

void check_images(const at::Tensor& images, const std::string& who) {
  if (!images.defined() || images.dim() != 4 || !images.is_floating_point()) {
    throw UserError(who + " takes float images [N, C, H, W]; got " +
                    (images.defined() ? shape_text(images.sizes()) + " " +
                                            std::string(c10::toString(images.scalar_type()))
                                      : std::string("an undefined tensor")));
  }
}

void check_batch(int64_t batch) {
  if (batch < 1)
    throw UserError("feature extraction batch must be >= 1; got " + std::to_string(batch));
}

at::Tensor resize_bilinear(const at::Tensor& x, int64_t size) {
  if (x.size(2) == size && x.size(3) == size) return x;
  return at::upsample_bilinear2d(x, {size, size}, /*align_corners=*/false);
}

// The first few bytes of `file` (fewer if it is shorter); UserError if it cannot be read.
std::string read_head(const std::string& file, size_t n) {
  FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) throw UserError("cannot read feature extractor " + file + ": " + std::strerror(errno));
  std::string head(n, '\0');
  head.resize(std::fread(head.data(), 1, n, f));
  std::fclose(f);
  return head;
}

// ---- the built-in classifier -------------------------------------------------------

struct TensorSpec {
  const char* name;
  std::vector<int64_t> shape;
};

// The parameters of architecture fmnist-cnn, in file order: version 1 has 32 and 64
// conv channels, version 2 (a quarter of the arithmetic) 16 and 32.
std::vector<TensorSpec> classifier_specs(int version = kVersion) {
  const int64_t c1 = version == 1 ? 32 : 16, c2 = version == 1 ? 64 : 32;
  return {
      {"conv1.weight", {c1, 1, 3, 3}},           {"conv1.bias", {c1}},
      {"conv2.weight", {c2, c1, 3, 3}},          {"conv2.bias", {c2}},
      {"fc1.weight", {kFeatureDim, c2 * 7 * 7}}, {"fc1.bias", {kFeatureDim}},
      {"fc2.weight", {kClasses, kFeatureDim}},   {"fc2.bias", {kClasses}},
  };
}

struct ClassifierNet {
  std::vector<at::Tensor> params;  // classifier_specs() order

  // x: [B, 1, 28, 28] -> [B, 128]
  at::Tensor features(const at::Tensor& x) const {
    at::Tensor h = at::max_pool2d(at::relu(at::conv2d(x, params[0], params[1], 1, 1)), 2);
    h = at::max_pool2d(at::relu(at::conv2d(h, params[2], params[3], 1, 1)), 2);
    return at::relu(at::linear(h.flatten(1), params[4], params[5]));
  }
  // x: [B, 1, 28, 28] -> [B, 10]
  at::Tensor logits(const at::Tensor& x) const {
    return at::linear(features(x), params[6], params[7]);
  }
};

// He-normal weights (std sqrt(2 / fan_in)), zero biases, drawn from `gen` in file order.
ClassifierNet init_classifier(at::Generator& gen) {
  ClassifierNet net;
  for (const auto& spec : classifier_specs()) {
    at::Tensor t;
    if (spec.shape.size() == 1) {
      t = at::zeros(spec.shape, at::kFloat);
    } else {
      int64_t fan_in = 1;
      for (size_t i = 1; i < spec.shape.size(); ++i) fan_in *= spec.shape[i];
      t = at::normal(0.0, std::sqrt(2.0 / double(fan_in)), spec.shape, gen, at::kFloat);
    }
    net.params.push_back(t.set_requires_grad(true));
  }
  return net;
}

void save_classifier(const ClassifierNet& net, Json header, const std::string& file) {
  std::string payload;
  Json tensors = Json::array();
  for (size_t i = 0; i < net.params.size(); ++i) {
    const at::Tensor t = net.params[i].detach().to(at::kCPU, at::kFloat).contiguous();
    payload.append(reinterpret_cast<const char*>(t.data_ptr<float>()), t.numel() * sizeof(float));
    tensors.push_back({{"name", classifier_specs()[i].name}, {"shape", t.sizes().vec()}});
  }
  header["format"] = "anila-features";
  header["version"] = kVersion;
  header["architecture"] = kArchitecture;
  header["feature_dim"] = kFeatureDim;
  header["input"] = {1, kSide, kSide};
  header["tensors"] = tensors;
  header["payload_bytes"] = payload.size();
  header["crc32"] = crc32_of(payload.data(), payload.size());
  const std::string head = std::string(kMagic) + header.dump() + "\n";
  io::detail::write_file_atomic(file, {std::string_view(head), std::string_view(payload)},
                                "feature extractor ");
}

// Reads a built-in classifier file (the magic already checked); `header` receives its JSON.
ClassifierNet load_classifier(const std::string& file, Json* header) {
  const std::string bytes = io::detail::read_file(file, "feature extractor ");
  auto corrupt = [&](const std::string& what) {
    return UserError("feature extractor " + file + " is corrupt: " + what);
  };
  const size_t eol = bytes.find('\n', kMagicLen);
  if (eol == std::string::npos) throw corrupt("its header line is incomplete");
  *header = try_parse_json(bytes.substr(kMagicLen, eol - kMagicLen));
  if (header->is_discarded()) throw corrupt("its header is not valid JSON");
  const Json& h = *header;
  try {
    const std::string arch = h.at("architecture").get<std::string>();
    const int version = h.at("version").get<int>();
    if (arch != kArchitecture || version < 1 || version > kVersion) {
      throw UserError("feature extractor " + file + " holds architecture '" + arch + "' version " +
                      std::to_string(version) + "; this anila reads '" + kArchitecture +
                      "' versions 1 to " + std::to_string(kVersion));
    }
    const auto specs = classifier_specs(version);
    const Json& tensors = h.at("tensors");
    if (!tensors.is_array() || tensors.size() != specs.size()) throw corrupt("wrong tensor list");
    for (size_t i = 0; i < specs.size(); ++i) {
      if (tensors[i].at("name").get<std::string>() != specs[i].name ||
          tensors[i].at("shape").get<std::vector<int64_t>>() != specs[i].shape) {
        throw corrupt("tensor " + std::to_string(i) + " is not " + specs[i].name + " " +
                      shape_text(specs[i].shape));
      }
    }
    const size_t payload_bytes = h.at("payload_bytes").get<size_t>();
    const size_t have = bytes.size() - eol - 1;
    if (have != payload_bytes) {
      throw corrupt("payload has " + std::to_string(have) + " bytes, header says " +
                    std::to_string(payload_bytes));
    }
    const char* payload = bytes.data() + eol + 1;
    const uint64_t crc = crc32_of(payload, payload_bytes);
    if (crc != h.at("crc32").get<uint64_t>()) throw corrupt("CRC-32 mismatch");
    ClassifierNet net;
    size_t offset = 0;
    for (const auto& spec : specs) {
      at::Tensor t = at::empty(spec.shape, at::kFloat);
      const size_t n = size_t(t.numel()) * sizeof(float);
      if (offset + n > payload_bytes) throw corrupt("payload shorter than its tensors");
      std::memcpy(t.data_ptr<float>(), payload + offset, n);
      offset += n;
      net.params.push_back(t);
    }
    if (offset != payload_bytes) throw corrupt("payload longer than its tensors");
    return net;
  } catch (const Json::exception& e) {
    throw corrupt(std::string("bad header field (") + e.what() + ")");
  }
}

class ClassifierExtractor : public FeatureExtractor {
 public:
  ClassifierExtractor(ClassifierNet net, c10::Device device)
      : net_(std::move(net)), device_(device) {
    for (auto& p : net_.params) p = p.to(device_);
  }
  std::string name() const override { return kClassifierName; }
  int64_t dim() const override { return kFeatureDim; }
  at::Tensor extract(const at::Tensor& images, int64_t batch) override {
    check_images(images, kClassifierName);
    check_batch(batch);
    if (images.size(1) != 1) {
      throw UserError(std::string(kClassifierName) + " takes 1-channel images [N, 1, H, W]; got " +
                      shape_text(images.sizes()) +
                      " (use a TorchScript extractor for colour images)");
    }
    at::NoGradGuard no_grad;
    const int64_t n = images.size(0);
    at::Tensor out = at::empty({n, kFeatureDim}, at::kFloat);
    for (int64_t i = 0; i < n; i += batch) {
      const int64_t b = std::min(batch, n - i);
      at::Tensor x = images.slice(0, i, i + b).to(device_, at::kFloat);
      out.slice(0, i, i + b).copy_(net_.features(resize_bilinear(x, kSide)).to(at::kCPU));
    }
    return out;
  }

 private:
  ClassifierNet net_;
  c10::Device device_;
};

// ---- TorchScript -------------------------------------------------------------------

class TorchScriptExtractor : public FeatureExtractor {
 public:
  TorchScriptExtractor(std::string file, c10::Device device, TorchScriptInput input)
      : file_(std::move(file)), device_(device), input_(std::move(input)) {
    try {
      module_ = torch::jit::load(file_, device_);
    } catch (const std::exception& e) {
      throw UserError("feature extractor " + file_ +
                      " is not a loadable TorchScript archive: " + error_line(e));
    }
    module_.eval();
    // One forward pass on a zero image checks the module and gives D.
    const at::Tensor probe = at::zeros({1, input_.channels, input_.size, input_.size},
                                       at::TensorOptions().dtype(at::kFloat).device(device_));
    dim_ = run(adapt_torchscript_input(probe, input_)).size(1);
  }
  std::string name() const override { return "torchscript:" + fs::path(file_).filename().string(); }
  int64_t dim() const override { return dim_; }
  at::Tensor extract(const at::Tensor& images, int64_t batch) override {
    check_images(images, name());
    check_batch(batch);
    const int64_t n = images.size(0);
    at::Tensor out = at::empty({n, dim_}, at::kFloat);
    for (int64_t i = 0; i < n; i += batch) {
      const int64_t b = std::min(batch, n - i);
      const at::Tensor x = images.slice(0, i, i + b).to(device_, at::kFloat);
      const at::Tensor f = run(adapt_torchscript_input(x, input_));
      if (f.size(1) != dim_) {
        throw UserError("feature extractor " + file_ + " gave " + std::to_string(f.size(1)) +
                        " features for input " + shape_text(x.sizes()) + ", " +
                        std::to_string(dim_) + " before");
      }
      out.slice(0, i, i + b).copy_(f);
    }
    return out;
  }

 private:
  // x: the adapted batch [B, channels, size, size] -> [B, D] float32 CPU
  at::Tensor run(const at::Tensor& x) {
    at::NoGradGuard no_grad;
    c10::IValue output;
    try {
      output = module_.forward({x});
    } catch (const std::exception& e) {
      throw UserError("feature extractor " + file_ + " failed on input " + shape_text(x.sizes()) +
                      " (range " + input_.range + "): " + error_line(e));
    }
    at::Tensor t;
    if (output.isTensor()) {
      t = output.toTensor();
    } else if (output.isTuple() && !output.toTupleRef().elements().empty() &&
               output.toTupleRef().elements()[0].isTensor()) {
      t = output.toTupleRef().elements()[0].toTensor();
    } else if (output.isTensorList() && output.toTensorList().size() > 0) {
      t = output.toTensorList().get(0);
    } else if (output.isList() && output.toListRef().size() > 0 &&
               output.toListRef()[0].isTensor()) {
      t = output.toListRef()[0].toTensor();
    } else {
      throw UserError("feature extractor " + file_ + " returned " + output.tagKind() +
                      "; expected a tensor, or a tuple/list whose first element is one");
    }
    if (t.dim() < 1 || t.size(0) != x.size(0) || t.numel() == 0) {
      throw UserError("feature extractor " + file_ + " returned shape " + shape_text(t.sizes()) +
                      " for input " + shape_text(x.sizes()) + "; expected [" +
                      std::to_string(x.size(0)) + ", ...]");
    }
    return t.reshape({x.size(0), -1}).to(at::kCPU, at::kFloat);
  }

  std::string file_;
  c10::Device device_;
  TorchScriptInput input_;
  torch::jit::Module module_;
  int64_t dim_ = 0;
};

// ---- training helpers --------------------------------------------------------------

data::ImageDataset load_split(const std::string& path, const std::string& split, int64_t limit) {
  Json section = {{"type", "idx"}, {"path", path}, {"split", split}};
  if (limit > 0) section["limit"] = limit;
  data::ImageDataset d = data::load_image_dataset(section, "features.data");
  const at::Tensor& x = d.images;
  if (x.size(1) != 1 || x.size(2) != kSide || x.size(3) != kSide) {
    throw UserError("fmnist classifier needs 1×28×28 images; " + path + " (" + split + ") holds " +
                    shape_text(x.sizes()));
  }
  if (!d.labels.defined()) {
    throw UserError("fmnist classifier needs labels; " + path + " (" + split + ") has none");
  }
  if (d.labels.min().item<int64_t>() < 0 || d.labels.max().item<int64_t>() >= kClasses) {
    throw UserError("fmnist classifier needs labels 0..9; " + path + " (" + split + ") has " +
                    std::to_string(d.labels.min().item<int64_t>()) + ".." +
                    std::to_string(d.labels.max().item<int64_t>()));
  }
  return d;
}

double accuracy(const ClassifierNet& net, const data::ImageDataset& d) {
  at::NoGradGuard no_grad;
  int64_t correct = 0;
  const int64_t n = d.images.size(0);
  for (int64_t i = 0; i < n; i += 1000) {
    const int64_t j = std::min(n, i + 1000);
    const at::Tensor pred = net.logits(d.images.slice(0, i, j)).argmax(1);
    correct += pred.eq(d.labels.slice(0, i, j)).sum().item<int64_t>();
  }
  return double(correct) / double(n);
}

// One pass over `train` in shuffled batches; returns {mean loss, running accuracy}.
// The learning rate decays along a half cosine from lr (first step) towards 0 (after
// the last step of the last epoch).
std::pair<double, double> train_epoch(ClassifierNet& net, torch::optim::Adam& adam,
                                      const data::ImageDataset& train,
                                      const ClassifierTrainOptions& options, int64_t epoch,
                                      at::Generator& gen, bool quiet) {
  const int64_t n = train.images.size(0);
  const int64_t batches = (n + options.batch - 1) / options.batch;
  const int64_t total_steps = options.epochs * batches;
  io::Progress progress(
      batches, "features epoch " + std::to_string(epoch) + "/" + std::to_string(options.epochs), 0,
      stderr, -1, quiet);
  const at::Tensor perm = at::randperm(n, gen);
  double loss_sum = 0.0;
  int64_t correct = 0, seen = 0;
  for (int64_t b = 0; b < batches; ++b) {
    const at::Tensor idx = perm.slice(0, b * options.batch, std::min(n, (b + 1) * options.batch));
    const at::Tensor x = train.images.index_select(0, idx);
    const at::Tensor y = train.labels.index_select(0, idx);
    const at::Tensor logits = net.logits(x);
    const at::Tensor loss = at::cross_entropy_loss(logits, y);
    const double progress_frac = double((epoch - 1) * batches + b) / double(total_steps);
    static_cast<torch::optim::AdamOptions&>(adam.param_groups()[0].options())
        .lr(options.lr * 0.5 * (1.0 + std::cos(M_PI * progress_frac)));
    adam.zero_grad();
    loss.backward();
    adam.step();
    const int64_t m = idx.size(0);
    loss_sum += loss.item<double>() * double(m);
    correct += logits.detach().argmax(1).eq(y).sum().item<int64_t>();
    seen += m;
    progress.update(
        b + 1, {{"loss", loss_sum / double(seen)}, {"accuracy", double(correct) / double(seen)}});
  }
  progress.finish();
  const double epoch_loss = loss_sum / double(seen);
  if (!std::isfinite(epoch_loss)) {
    throw DivergedError("features train: the loss is not finite in epoch " + std::to_string(epoch) +
                        " (try a smaller --lr)");
  }
  return {epoch_loss, double(correct) / double(seen)};
}

}  // namespace

// ---- public functions --------------------------------------------------------------

at::Tensor adapt_torchscript_input(const at::Tensor& images, const TorchScriptInput& input) {
  check_images(images, "TorchScript feature input");
  if (input.size < 1) {
    throw UserError("TorchScript input size must be >= 1; got " + std::to_string(input.size));
  }
  if (input.channels != 1 && input.channels != 3) {
    throw UserError("TorchScript input channels must be 1 or 3; got " +
                    std::to_string(input.channels));
  }
  if (input.range != "minus1_1" && input.range != "0_1" && input.range != "imagenet") {
    throw UserError("TorchScript input range '" + input.range +
                    "' is unknown; valid: minus1_1, 0_1, imagenet");
  }
  if (input.range == "imagenet" && input.channels != 3) {
    throw UserError("TorchScript input range 'imagenet' needs channels = 3");
  }
  at::Tensor x = resize_bilinear(images.to(at::kFloat), input.size);
  const int64_t c = x.size(1);
  if (c != input.channels) {
    if (c == 1 && input.channels == 3) {
      x = x.expand({x.size(0), 3, x.size(2), x.size(3)});
    } else if (c == 3 && input.channels == 1) {
      x = 0.299 * x.select(1, 0) + 0.587 * x.select(1, 1) + 0.114 * x.select(1, 2);
      x = x.unsqueeze(1);
    } else {
      throw UserError("cannot adapt " + std::to_string(c) + "-channel images " +
                      shape_text(images.sizes()) + " to " + std::to_string(input.channels) +
                      " channels (only 1 -> 3 and 3 -> 1)");
    }
  }
  if (input.range == "0_1") {
    x = (x + 1.0) * 0.5;
  } else if (input.range == "imagenet") {
    const auto opts = at::TensorOptions().dtype(at::kFloat).device(x.device());
    const at::Tensor mean = at::tensor({0.485f, 0.456f, 0.406f}, opts).view({1, 3, 1, 1});
    const at::Tensor std = at::tensor({0.229f, 0.224f, 0.225f}, opts).view({1, 3, 1, 1});
    x = ((x + 1.0) * 0.5 - mean) / std;
  }
  return x.contiguous();
}

FeatureExtractorPtr load_feature_extractor(const std::string& spec, c10::Device device,
                                           const TorchScriptInput& input) {
  const bool builtin = spec == "fmnist";
  const std::string file = builtin ? default_fmnist_features_path() : spec;
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    if (builtin) {
      throw UserError("feature extractor 'fmnist' needs " + file +
                      ", which does not exist: create it with `anila features train`");
    }
    throw UserError("feature extractor " + file +
                    " not found (give 'fmnist' or a built-in classifier / TorchScript file)");
  }
  if (fs::is_directory(file, ec)) {
    throw UserError("feature extractor " + file + " is a folder; expected a file");
  }
  const std::string head = read_head(file, kMagicLen);
  if (head == kMagic) {
    Json header;
    ClassifierNet net = load_classifier(file, &header);
    return std::make_shared<ClassifierExtractor>(std::move(net), device);
  }
  if (head.compare(0, 4, kZipMagic) == 0) {
    return std::make_shared<TorchScriptExtractor>(file, device, input);
  }
  throw UserError("feature extractor " + file +
                  " is neither an anila features file (ANILA-FEATURES) nor a TorchScript "
                  "archive (zip)");
}

Json train_fmnist_classifier(const ClassifierTrainOptions& options, const std::string& out_file,
                             bool quiet) {
  if (options.epochs < 1) throw UserError("features train: epochs must be >= 1");
  if (options.batch < 1) throw UserError("features train: batch must be >= 1");
  if (!(options.lr > 0.0)) throw UserError("features train: lr must be > 0");
  if (options.limit < 0) throw UserError("features train: limit must be >= 0");
  if (out_file.empty()) throw UserError("features train: the output file name is empty");
  const auto t0 = std::chrono::steady_clock::now();
  if (options.threads > 0) set_threads(options.threads);

  const data::ImageDataset train = load_split(options.data_path, "train", options.limit);
  const data::ImageDataset test = load_split(options.data_path, "test", 0);
  const fs::path parent = fs::path(out_file).parent_path();
  if (!parent.empty()) io::make_dirs(parent.string());

  at::Generator gen = make_generator(options.seed, c10::Device(c10::kCPU));
  ClassifierNet net = init_classifier(gen);
  torch::optim::Adam adam(net.params, torch::optim::AdamOptions(options.lr));

  const int64_t n = train.images.size(0);
  double epoch_loss = 0.0, epoch_acc = 0.0;
  for (int64_t epoch = 1; epoch <= options.epochs; ++epoch) {
    std::tie(epoch_loss, epoch_acc) = train_epoch(net, adam, train, options, epoch, gen, quiet);
  }
  const double test_acc = accuracy(net, test);
  Json header = {{"seed", options.seed},        {"epochs", options.epochs},
                 {"batch", options.batch},      {"lr", options.lr},
                 {"train_images", n},           {"test_images", test.images.size(0)},
                 {"train_accuracy", epoch_acc}, {"test_accuracy", test_acc}};
  save_classifier(net, header, out_file);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!quiet) {
    std::fprintf(stderr, "features: test accuracy %.4f on %lld images; wrote %s (%s)\n", test_acc,
                 static_cast<long long>(test.images.size(0)), out_file.c_str(),
                 io::Progress::format_duration(seconds).c_str());
  }
  return {{"architecture", kArchitecture},
          {"epochs", options.epochs},
          {"train_images", n},
          {"test_images", test.images.size(0)},
          {"loss", epoch_loss},
          {"train_accuracy", epoch_acc},
          {"test_accuracy", test_acc},
          {"seed", options.seed},
          {"threads", options.threads},
          {"seconds", seconds},
          {"file", out_file}};
}

}  // namespace anila::eval
