// mlp.cpp — MLP energy with a hand-written input gradient.
//
// Forward:  a_i = h_{i-1} W_iᵀ + b_i,  h_i = act(a_i)  (i = 1..L-1),  f = h_{L-1} W_Lᵀ + b_L.
// Input gradient (no autograd): g_L = W_L (1 × n), then for i = L-1..1:
//   g ← (g ⊙ act'(a_i)) W_i,   giving ∇_x f: [B, D].
// On the CPU in float32 the same pass runs fused into kept buffers (mlp_fused.h).
#include "anila/models/mlp.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "models/mlp_fused.h"

namespace anila {

MLPEnergy::MLPEnergy(MLPOptions options)
    : options_(std::move(options)),
      fused_(std::make_unique<MLPFusedPass>(options_.activation, options_.negative_slope)) {
  int64_t in = options_.input_dim;
  std::vector<int64_t> widths = options_.hidden;
  widths.push_back(1);
  for (size_t i = 0; i < widths.size(); ++i) {
    layers_.push_back(register_module("fc" + std::to_string(i),
                                      torch::nn::Linear(torch::nn::LinearOptions(in, widths[i]))));
    in = widths[i];
  }
}

at::Tensor MLPEnergy::activate(const at::Tensor& a) const {
  const std::string& act = options_.activation;
  if (act == "leaky_relu") return at::leaky_relu(a, options_.negative_slope);
  if (act == "relu") return at::relu(a);
  if (act == "elu") return at::elu(a);
  if (act == "silu") return at::silu(a);
  if (act == "tanh") return at::tanh(a);
  return at::softplus(a);
}

at::Tensor MLPEnergy::activation_derivative(const at::Tensor& a) const {
  const std::string& act = options_.activation;
  if (act == "leaky_relu") return at::where(a > 0, 1.0, options_.negative_slope).to(a.dtype());
  if (act == "relu") return (a > 0).to(a.dtype());
  if (act == "elu") return at::where(a > 0, at::ones_like(a), at::exp(a));
  if (act == "silu") {
    at::Tensor sig = at::sigmoid(a);
    return sig * (1 + a * (1 - sig));
  }
  if (act == "tanh") return 1 - at::tanh(a).pow(2);
  return at::sigmoid(a);  // softplus
}

at::Tensor MLPEnergy::forward(const at::Tensor& x) {
  at::Tensor h = x.reshape({x.size(0), -1});
  for (size_t i = 0; i + 1 < layers_.size(); ++i) h = activate(layers_[i]->forward(h));
  return layers_.back()->forward(h).squeeze(1);
}

MLPEnergy::~MLPEnergy() = default;

bool MLPEnergy::uses_fast_path(const at::Tensor& z) const {
  return options_.fast_path && MLPFusedPass::applies(z, layers_);
}

LogDensityValue MLPEnergy::value_and_grad(const at::Tensor& z) {
  at::NoGradGuard no_grad;
  if (uses_fast_path(z)) {
    // A second thread evaluating this model meanwhile takes the unfused path.
    std::unique_lock<std::mutex> lock(fused_->mutex(), std::try_to_lock);
    if (lock.owns_lock()) return fused_->run(z, layers_);
  }
  return unfused_value_and_grad(z);
}

LogDensityValue MLPEnergy::unfused_value_and_grad(const at::Tensor& z) {
  const int64_t n_hidden = static_cast<int64_t>(layers_.size()) - 1;
  std::vector<at::Tensor> pre(n_hidden);
  at::Tensor h = z.reshape({z.size(0), -1});
  for (int64_t i = 0; i < n_hidden; ++i) {
    pre[i] = at::addmm(layers_[i]->bias, h, layers_[i]->weight.t());
    h = activate(pre[i]);
  }
  const auto& out = layers_.back();
  at::Tensor f = at::addmm(out->bias, h, out->weight.t()).squeeze(1);
  // g: [B, n] starts as the output weights broadcast over the batch.
  at::Tensor g = out->weight.expand({z.size(0), out->weight.size(1)});
  for (int64_t i = n_hidden - 1; i >= 0; --i) {
    if (options_.activation == "leaky_relu") {
      g = at::leaky_relu_backward(g, pre[i], options_.negative_slope, /*self_is_result=*/false);
    } else if (options_.activation == "relu") {
      g = at::threshold_backward(g, pre[i], 0);
    } else {
      g = g * activation_derivative(pre[i]);
    }
    g = g.mm(layers_[i]->weight);
  }
  return {f, g.reshape(z.sizes())};
}

double MLPEnergy::forward_flops() const {
  double flops = 0;
  for (const auto& layer : layers_) {
    flops += 2.0 * double(layer->options.in_features() * layer->options.out_features());
  }
  return flops;
}

Json MLPEnergy::to_json() const {
  Json j = {{"type", "mlp"}, {"hidden", options_.hidden}, {"activation", options_.activation}};
  if (options_.activation == "leaky_relu") j["negative_slope"] = options_.negative_slope;
  j["fast_path"] = options_.fast_path;
  return j;
}

}  // namespace anila
