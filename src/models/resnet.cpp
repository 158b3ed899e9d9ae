// resnet.cpp — residual energy network with optional spectral normalisation
// (layer list and the power iteration in resnet.h).
//
// Notation: B batch, C channels, S image side, n_f base width, W_m a weight as a
// matrix [out, in·k·k], u: [out], v: [in·k·k] the power-iteration vectors.
#include "anila/models/resnet.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

namespace anila {

namespace {

constexpr int kInitPowerIterations = 15;
constexpr double kNormEps = 1e-12;
constexpr int kStages = 3;

at::Tensor normalized(const at::Tensor& x) {
  return x / x.norm().clamp_min(kNormEps);
}

// Restores a bool on scope exit.
class FlagGuard {
 public:
  FlagGuard(bool& flag, bool value) : flag_(flag), old_(flag) { flag_ = value; }
  ~FlagGuard() { flag_ = old_; }
  FlagGuard(const FlagGuard&) = delete;
  FlagGuard& operator=(const FlagGuard&) = delete;

 private:
  bool& flag_;
  bool old_;
};

}  // namespace

// ---- SNLayer ----

SNLayerImpl::SNLayerImpl(int64_t in, int64_t out, int64_t kernel, bool spectral_norm)
    : spectral_norm_(spectral_norm), kernel_(kernel) {
  if (kernel_ > 0) {
    conv_ = register_module(
        "conv", torch::nn::Conv2d(
                    torch::nn::Conv2dOptions(in, out, kernel_).stride(1).padding(kernel_ / 2)));
  } else {
    linear_ = register_module("linear", torch::nn::Linear(torch::nn::LinearOptions(in, out)));
  }
  if (spectral_norm_) {
    at::Tensor w = weight_matrix();
    u_ = register_buffer("u", normalized(at::randn({w.size(0)}, w.options())));
    v_ = register_buffer("v", normalized(at::randn({w.size(1)}, w.options())));
    for (int i = 0; i < kInitPowerIterations; ++i) power_iteration();
  }
}

at::Tensor SNLayerImpl::weight_matrix() const {
  const at::Tensor& w = kernel_ > 0 ? conv_->weight : linear_->weight;
  return w.reshape({w.size(0), -1});
}

void SNLayerImpl::power_iteration() {
  at::NoGradGuard no_grad;
  at::Tensor w = weight_matrix();
  // In place: u_, v_ are the registered buffers (also after module->to(dtype)).
  v_.copy_(normalized(at::mv(w.t(), u_)));
  u_.copy_(normalized(at::mv(w, v_)));
}

at::Tensor SNLayerImpl::effective_weight() const {
  const at::Tensor& w = kernel_ > 0 ? conv_->weight : linear_->weight;
  if (!spectral_norm_) return w;
  // Clones: a later power iteration updates u_, v_ in place while this graph may
  // still be waiting for backward.
  at::Tensor sigma = at::dot(u_.clone(), at::mv(weight_matrix(), v_.clone()));
  return w / sigma;
}

at::Tensor SNLayerImpl::forward(const at::Tensor& x, bool update) {
  if (!spectral_norm_) return kernel_ > 0 ? conv_->forward(x) : linear_->forward(x);
  if (update) power_iteration();
  at::Tensor w = effective_weight();
  if (kernel_ > 0) {
    return at::conv2d(x, w, conv_->bias, /*stride=*/{1, 1},
                      /*padding=*/{kernel_ / 2, kernel_ / 2});
  }
  return at::linear(x, w, linear_->bias);
}

// ---- ResBlock ----

ResBlockImpl::ResBlockImpl(int64_t in, int64_t out, bool spectral_norm, double negative_slope)
    : negative_slope_(negative_slope) {
  conv1_ = register_module("conv1", SNLayer(in, out, /*kernel=*/3, spectral_norm));
  conv2_ = register_module("conv2", SNLayer(out, out, /*kernel=*/3, spectral_norm));
  if (in != out) skip_ = register_module("skip", SNLayer(in, out, /*kernel=*/1, spectral_norm));
}

at::Tensor ResBlockImpl::forward(const at::Tensor& x, bool update) {
  at::Tensor h = conv1_->forward(at::leaky_relu(x, negative_slope_), update);
  h = conv2_->forward(at::leaky_relu(h, negative_slope_), update);
  return h + (skip_ ? skip_->forward(x, update) : x);
}

// ---- ResNetEnergy ----

ResNetEnergy::ResNetEnergy(ResNetOptions options) : options_(options) {
  const int64_t n_f = options_.n_f;
  TORCH_CHECK(n_f >= 1, "ResNetEnergy: n_f must be >= 1, got ", n_f);
  TORCH_CHECK(options_.blocks >= 1, "ResNetEnergy: blocks must be >= 1, got ", options_.blocks);
  TORCH_CHECK(options_.channels >= 1, "ResNetEnergy: channels must be >= 1, got ",
              options_.channels);
  TORCH_CHECK(options_.size >= 4 && options_.size % 4 == 0,
              "ResNetEnergy: size must be a multiple of 4, got ", options_.size);
  const bool sn = options_.spectral_norm;
  stem_ = register_module("stem", SNLayer(options_.channels, n_f, /*kernel=*/3, sn));
  int64_t width = n_f;
  for (int s = 0; s < kStages; ++s) {
    const int64_t out = n_f << s;
    for (int64_t i = 0; i < options_.blocks; ++i) {
      blocks_.push_back(register_module("stage" + std::to_string(s) + "_block" + std::to_string(i),
                                        ResBlock(width, out, sn, options_.negative_slope)));
      pool_before_.push_back(s > 0 && i == 0 ? 1 : 0);
      width = out;
    }
  }
  fc_ = register_module("fc", SNLayer(width, 1, /*kernel=*/0, sn));
}

at::Tensor ResNetEnergy::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options_.channels && x.size(2) == options_.size &&
                  x.size(3) == options_.size,
              "ResNetEnergy: expected input [B, ", options_.channels, ", ", options_.size, ", ",
              options_.size, "], got ", x.sizes());
  const bool update = is_training() && at::GradMode::is_enabled() && !frozen_;
  at::Tensor h = stem_->forward(x, update);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    if (pool_before_[i]) h = at::avg_pool2d(h, /*kernel_size=*/{2, 2}, /*stride=*/{2, 2});
    h = blocks_[i]->forward(h, update);
  }
  h = at::leaky_relu(h, options_.negative_slope).sum({2, 3});  // [B, 4n_f]
  return fc_->forward(h, update).reshape({x.size(0)});
}

LogDensityValue ResNetEnergy::value_and_grad(const at::Tensor& z) {
  FlagGuard freeze(frozen_, true);
  return EnergyModel::value_and_grad(z);
}

std::vector<SNLayer> ResNetEnergy::layers() const {
  std::vector<SNLayer> out;
  for (const auto& m : modules(/*include_self=*/false)) {
    if (auto layer = std::dynamic_pointer_cast<SNLayerImpl>(m)) out.emplace_back(layer);
  }
  return out;
}

Json ResNetEnergy::to_json() const {
  return with_compute({{"type", "resnet"},
                       {"n_f", options_.n_f},
                       {"blocks", options_.blocks},
                       {"spectral_norm", options_.spectral_norm},
                       {"negative_slope", options_.negative_slope},
                       {"channels", options_.channels},
                       {"size", options_.size}});
}

}  // namespace anila
