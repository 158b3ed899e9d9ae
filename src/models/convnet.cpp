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
  std::vector<torch::nn::Conv2d> convs = {
      make_conv(c, n_f, /*kernel=*/3, /*stride=*/1, /*padding=*/1),
      make_conv(n_f, 2 * n_f, /*kernel=*/4, /*stride=*/2, /*padding=*/1),
      make_conv(2 * n_f, 4 * n_f, /*kernel=*/4, /*stride=*/2, /*padding=*/1),
      make_conv(4 * n_f, 8 * n_f, /*kernel=*/4, /*stride=*/2, /*padding=*/1),
  };
  if (options_.size == 64) {
    convs.push_back(make_conv(8 * n_f, 8 * n_f, /*kernel=*/4, /*stride=*/2, /*padding=*/1));
  }
  convs.push_back(make_conv(8 * n_f, 1, /*kernel=*/4, /*stride=*/1, /*padding=*/0));
  for (size_t i = 0; i < convs.size(); ++i) {
    convs_.push_back(register_module("conv" + std::to_string(i), convs[i]));
  }
}

at::Tensor ConvNetEnergy::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options_.channels && x.size(2) == options_.size &&
                  x.size(3) == options_.size,
              "ConvNetEnergy: expected input [B, ", options_.channels, ", ", options_.size, ", ",
              options_.size, "], got ", x.sizes());
  at::Tensor h = x;
  if (options_.size == 28) h = at::constant_pad_nd(h, {kPad28, kPad28, kPad28, kPad28}, 0.0);
  for (size_t i = 0; i + 1 < convs_.size(); ++i) {
    h = at::leaky_relu(convs_[i]->forward(h), options_.negative_slope);
  }
  return convs_.back()->forward(h).reshape({x.size(0)});
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
                       {"size", options_.size}});
}

}  // namespace anila
