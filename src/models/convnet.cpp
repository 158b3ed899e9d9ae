// convnet.cpp — the short-run EBM ConvNet (layer list in convnet.h).
//
// Notation: B batch, C channels, S image side, n_f base width.
#include "anila/models/convnet.h"

#include <algorithm>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

namespace anila {

namespace {

constexpr int64_t kPad28 = 2;  // 28 + 2·2 = 32
constexpr int kInitPowerIterations = 15;
constexpr double kNormEps = 1e-12;

at::Tensor normalized(const at::Tensor& x) {
  return x / x.norm().clamp_min(kNormEps);
}

torch::nn::Conv2d make_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                            int64_t padding) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(true));
}

}  // namespace

std::vector<int64_t> convnet_sizes() {
  return {28, 32, 64};
}

ConvNetEnergy::ConvNetEnergy(ConvNetOptions options) : options_(options) {
  const int64_t n_f = options_.n_f;
  const int64_t c = options_.channels;
  const std::vector<int64_t> sizes = convnet_sizes();
  TORCH_CHECK(n_f >= 1, "ConvNetEnergy: n_f must be >= 1, got ", n_f);
  TORCH_CHECK(c >= 1, "ConvNetEnergy: channels must be >= 1, got ", c);
  TORCH_CHECK(std::find(sizes.begin(), sizes.end(), options_.size) != sizes.end(),
              "ConvNetEnergy: size must be 28, 32 or 64, got ", options_.size);
  // {in, out, kernel, stride, padding} of each conv.
  std::vector<std::array<int64_t, 5>> layers = {{c, n_f, 3, 1, 1},
                                                {n_f, 2 * n_f, 4, 2, 1},
                                                {2 * n_f, 4 * n_f, 4, 2, 1},
                                                {4 * n_f, 8 * n_f, 4, 2, 1}};
  if (options_.size == 64) layers.push_back({8 * n_f, 8 * n_f, 4, 2, 1});
  layers.push_back({8 * n_f, 1, 4, 1, 0});
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& [in, out, k, stride, pad] = layers[i];
    convs_.push_back(
        register_module("conv" + std::to_string(i), make_conv(in, out, k, stride, pad)));
    geometry_.push_back({stride, pad});
    if (!options_.spectral_norm) continue;
    // Drawn from the global generator, which make_model seeds for the weights too.
    u_.push_back(register_buffer("u" + std::to_string(i), normalized(at::randn({out}))));
    v_.push_back(register_buffer("v" + std::to_string(i), normalized(at::randn({in * k * k}))));
    for (int it = 0; it < kInitPowerIterations; ++it) power_iteration(i);
  }
}

void ConvNetEnergy::power_iteration(size_t i) {
  at::NoGradGuard no_grad;
  const at::Tensor& w = convs_[i]->weight;
  const at::Tensor m = w.reshape({w.size(0), -1});
  v_[i].copy_(normalized(at::mv(m.t(), u_[i])));
  u_[i].copy_(normalized(at::mv(m, v_[i])));
}

at::Tensor ConvNetEnergy::effective_weight(size_t i) const {
  const at::Tensor& w = convs_[i]->weight;
  if (!options_.spectral_norm) return w;
  // Clones: a later power iteration updates u, v in place while this graph may wait for backward.
  const at::Tensor sigma =
      at::dot(u_[i].clone(), at::mv(w.reshape({w.size(0), -1}), v_[i].clone()));
  return w / sigma;
}

LogDensityValue ConvNetEnergy::value_and_grad(const at::Tensor& z) {
  const bool was = frozen_;
  frozen_ = true;
  try {
    LogDensityValue v = EnergyModel::value_and_grad(z);
    frozen_ = was;
    return v;
  } catch (...) {
    frozen_ = was;
    throw;
  }
}

at::Tensor ConvNetEnergy::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options_.channels && x.size(2) == options_.size &&
                  x.size(3) == options_.size,
              "ConvNetEnergy: expected input [B, ", options_.channels, ", ", options_.size, ", ",
              options_.size, "], got ", x.sizes());
  at::Tensor h = x;
  if (options_.size == 28) h = at::constant_pad_nd(h, {kPad28, kPad28, kPad28, kPad28}, 0.0);
  const bool sn = options_.spectral_norm;
  const bool update = sn && is_training() && at::GradMode::is_enabled() && !frozen_;
  auto conv = [&](size_t i, const at::Tensor& in) {
    if (!sn) return convs_[i]->forward(in);
    if (update) power_iteration(i);
    const auto& [stride, pad] = geometry_[i];
    return at::conv2d(in, effective_weight(i), convs_[i]->bias, {stride, stride}, {pad, pad});
  };
  for (size_t i = 0; i + 1 < convs_.size(); ++i) {
    h = at::leaky_relu(conv(i, h), options_.negative_slope);
  }
  return conv(convs_.size() - 1, h).reshape({x.size(0)});
}

double ConvNetEnergy::forward_flops() const {
  // Every conv: 2 · C_in · C_out · k² multiply-adds per output pixel.
  int64_t side = options_.size == 28 ? 32 : options_.size;  // 28 is padded to 32
  double flops = 0;
  for (const auto& conv : convs_) {
    const auto& o = conv->options;
    const int64_t k = o.kernel_size()->at(0), stride = o.stride()->at(0);
    const int64_t pad = k == 3 ? 1 : (stride == 2 ? 1 : 0);  // as built in the constructor
    side = (side + 2 * pad - k) / stride + 1;
    flops += 2.0 * double(o.in_channels() * o.out_channels() * k * k) * double(side * side);
  }
  return flops;
}

Json ConvNetEnergy::to_json() const {
  return with_compute({{"type", "convnet"},
                       {"n_f", options_.n_f},
                       {"negative_slope", options_.negative_slope},
                       {"channels", options_.channels},
                       {"size", options_.size},
                       {"spectral_norm", options_.spectral_norm}});
}

}  // namespace anila
