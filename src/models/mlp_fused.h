// mlp_fused.h — the MLP's fused value-and-input-gradient pass (CPU, float32).
//
// Notation: B chains, layer i maps width n_{i-1} -> n_i (n_0 = D inputs, the
// last layer has one output), L layers. For z: [B, D] one pass computes
//   a_i = h_{i-1} W_iᵀ + b_i,  h_i = act(a_i),  d_i = act'(a_i)      (i < L)
//   f   = h_{L-1} w_L + b_L                                          [B]
//   u_{L-1} = d_{L-1} ⊙ w_Lᵀ,  u_{i-1} = (u_i W_i) ⊙ d_{i-1},  ∇_z f = u_1 W_1
// with every intermediate in buffers kept between calls (one GEMM per layer and
// direction (mlp_gemm.h), element-wise work in plain loops), so a
// sampler step allocates nothing here. f and ∇_z f come from a small pool of
// output buffers: a buffer is handed out again only once nobody else holds it
// (its tensor and storage reference counts are back to one), so a sampler may
// keep the current state's f and ∇f while it evaluates a proposal.
//
// Used by MLPEnergy::value_and_grad when `applies()`; the result equals the
// general path (autograd or the unfused hand-written backward) to float32
// rounding (tests/test_models.cpp). Not thread-safe by itself: the model takes
// the fused path only while it holds the workspace's lock.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/linear.h>

#include "anila/logdensity.h"

namespace anila {

class MLPFusedPass {
 public:
  // Piecewise-linear activations take one loop; the smooth ones one ATen out=
  // kernel plus a loop for the derivative.
  MLPFusedPass(std::string activation, double negative_slope);

  // Whether the fused pass can evaluate z: CPU, float32, contiguous [B, D] with
  // D = the first layer's inputs, and float32 CPU parameters.
  static bool applies(const at::Tensor& z, const std::vector<torch::nn::Linear>& layers);

  // f: [B], ∇_z f: [B, D]; the caller holds `mutex()` and a NoGradGuard.
  LogDensityValue run(const at::Tensor& z, const std::vector<torch::nn::Linear>& layers);

  std::mutex& mutex() { return mutex_; }

 private:
  struct Output {
    at::Tensor f, grad;
  };
  void prepare(const at::Tensor& z, const std::vector<torch::nn::Linear>& layers);
  void activate(size_t i, const float* bias);
  Output free_output();

  std::string activation_;
  float slope_;
  int64_t batch_ = -1;
  std::vector<at::Tensor> a_, h_, d_;  // per hidden layer: [B, n_i]
  int64_t input_dim_ = 0;              // D
  std::vector<Output> outputs_;        // the pool (at most kMaxOutputs)
  std::mutex mutex_;
};

}  // namespace anila
