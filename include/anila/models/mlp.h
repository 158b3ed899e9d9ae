// mlp.h — fully connected energy network for 2D (or flat) data.
//
// f(x) = W_L h_{L-1} + b_L,  h_i = act(W_i h_{i-1} + b_i),  h_0 = x.
// Default: widths 32-64-64-64, LeakyReLU(0.05) — the reference toy network.
// value_and_grad computes ∇_x f by hand (backward through the layers with the
// activation derivative), one matmul per layer, without autograd. On the CPU in
// float32 (z: [B, D] contiguous) it takes a fused pass that keeps every
// intermediate in buffers between calls, so a sampler step allocates nothing
// (model.fast_path, default true; false keeps the unfused path everywhere).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/nn/modules/linear.h>

#include "anila/models/energy.h"

namespace anila {

struct MLPOptions {
  std::vector<int64_t> hidden = {32, 64, 64, 64};
  // leaky_relu, relu, elu, silu (swish), tanh, softplus
  std::string activation = "leaky_relu";
  double negative_slope = 0.05;  // leaky_relu only
  int64_t input_dim = 2;
  bool fast_path = true;  // fused CPU float32 value_and_grad where it applies
};

class MLPFusedPass;

class MLPEnergy : public EnergyModel {
 public:
  explicit MLPEnergy(MLPOptions options);
  ~MLPEnergy() override;
  at::Tensor forward(const at::Tensor& x) override;  // x: [B, D] -> [B]
  LogDensityValue value_and_grad(const at::Tensor& z) override;
  Json to_json() const override;
  double forward_flops() const override;
  const MLPOptions& options() const { return options_; }
  // Whether value_and_grad(z) takes the fused pass (fast_path on and z, θ fit it).
  bool uses_fast_path(const at::Tensor& z) const;

 private:
  LogDensityValue unfused_value_and_grad(const at::Tensor& z);
  at::Tensor activate(const at::Tensor& a) const;
  at::Tensor activation_derivative(const at::Tensor& a) const;
  MLPOptions options_;
  std::vector<torch::nn::Linear> layers_;  // hidden layers then the scalar output layer
  std::unique_ptr<MLPFusedPass> fused_;    // buffers of the fused pass
};

}  // namespace anila
