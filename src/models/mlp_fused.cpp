// mlp_fused.cpp — the MLP's fused value-and-input-gradient pass (see mlp_fused.h
// for the equations and the buffer rules).
#include "models/mlp_fused.h"

#include "models/mlp_gemm.h"

#include <cstdint>
#include <cstring>

#include <ATen/ATen.h>

namespace anila {

namespace {

constexpr size_t kMaxOutputs = 4;

// Nobody but the pool holds this buffer (no other tensor, no view of its storage).
bool unshared(const at::Tensor& t) {
  return t.use_count() == 1 && t.storage().use_count() == 1;
}

// c ? x : y without a branch (bit masks), so the loops below vectorise; exact.
inline float pick(bool c, float x, float y) {
  uint32_t xb, yb;
  std::memcpy(&xb, &x, sizeof xb);
  std::memcpy(&yb, &y, sizeof yb);
  const uint32_t mask = 0u - static_cast<uint32_t>(c);
  const uint32_t bits = (mask & xb) | (~mask & yb);
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

bool float_cpu(const at::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous();
}

}  // namespace

MLPFusedPass::MLPFusedPass(std::string activation, double negative_slope)
    : activation_(std::move(activation)),
      slope_(activation_ == "relu" ? 0.0f : static_cast<float>(negative_slope)) {}

bool MLPFusedPass::applies(const at::Tensor& z, const std::vector<torch::nn::Linear>& layers) {
  if (layers.size() < 2 || !float_cpu(z) || z.dim() != 2 || z.size(0) == 0) return false;
  if (z.size(1) != layers.front()->weight.size(1) || z.requires_grad()) return false;
  for (const auto& layer : layers) {
    if (!float_cpu(layer->weight) || !float_cpu(layer->bias)) return false;
  }
  return true;
}

void MLPFusedPass::prepare(const at::Tensor& z, const std::vector<torch::nn::Linear>& layers) {
  const size_t n_hidden = layers.size() - 1;
  bool fresh = z.size(0) == batch_ && a_.size() == n_hidden;
  for (size_t i = 0; fresh && i < n_hidden; ++i) fresh = a_[i].size(1) == layers[i]->weight.size(0);
  if (fresh && !outputs_.empty() && outputs_.front().grad.size(1) == z.size(1)) return;
  batch_ = z.size(0);
  input_dim_ = z.size(1);
  a_.clear(), h_.clear(), d_.clear(), outputs_.clear();
  for (size_t i = 0; i < n_hidden; ++i) {
    const at::Tensor& w = layers[i]->weight;  // [n_i, n_{i-1}]
    for (auto* buffers : {&a_, &h_, &d_}) {
      buffers->push_back(at::zeros({batch_, w.size(0)}, w.options()));
    }
  }
  free_output();  // the first pooled output, so the check above sees D
}

// a_i += b_i, then h_i = act(a_i), d_i = act'(a_i), all [B, n_i].
void MLPFusedPass::activate(size_t i, const float* __restrict bias) {
  at::Tensor &a = a_[i], &h = h_[i], &d = d_[i];
  const int64_t n = a.numel(), width = a.size(1);
  float* __restrict ap = a.data_ptr<float>();
  float* __restrict hp = h.data_ptr<float>();
  float* __restrict dp = d.data_ptr<float>();
  for (int64_t row = 0; row < n; row += width) {
    for (int64_t j = 0; j < width; ++j) ap[row + j] += bias[j];
  }
  if (activation_ == "leaky_relu" || activation_ == "relu") {
    const float s = slope_;
    for (int64_t k = 0; k < n; ++k) {
      const float slope = pick(ap[k] > 0, 1.0f, s);
      hp[k] = ap[k] * slope;
      dp[k] = slope;
    }
  } else if (activation_ == "elu") {
    at::elu_out(h, a);  // d = exp(a) = h + 1 for a ≤ 0
    for (int64_t k = 0; k < n; ++k) dp[k] = pick(ap[k] > 0, 1.0f, hp[k] + 1.0f);
  } else if (activation_ == "tanh") {
    at::tanh_out(h, a);
    for (int64_t k = 0; k < n; ++k) dp[k] = 1.0f - hp[k] * hp[k];
  } else if (activation_ == "silu") {
    at::sigmoid_out(d, a);
    for (int64_t k = 0; k < n; ++k) {
      const float sig = dp[k];
      hp[k] = ap[k] * sig;
      dp[k] = sig * (1.0f + ap[k] * (1.0f - sig));
    }
  } else {  // softplus (β = 1, linear above 20, as at::softplus)
    at::softplus_out(h, a, /*beta=*/1, /*threshold=*/20);
    at::sigmoid_out(d, a);
    for (int64_t k = 0; k < n; ++k) dp[k] = pick(ap[k] > 20, 1.0f, dp[k]);
  }
}

MLPFusedPass::Output MLPFusedPass::free_output() {
  for (const Output& o : outputs_) {
    if (unshared(o.f) && unshared(o.grad)) return o;
  }
  const at::TensorOptions options = a_.front().options();
  Output o{at::zeros({batch_}, options), at::zeros({batch_, input_dim_}, options)};
  if (outputs_.size() < kMaxOutputs) outputs_.push_back(o);
  return o;
}

LogDensityValue MLPFusedPass::run(const at::Tensor& z,
                                  const std::vector<torch::nn::Linear>& layers) {
  prepare(z, layers);
  const size_t n_hidden = layers.size() - 1;
  const int64_t B = batch_;
  auto weight = [&](size_t i) { return layers[i]->weight.data_ptr<float>(); };
  auto width = [&](size_t i) { return layers[i]->weight.size(0); };  // n_i
  Output out = free_output();
  // Forward: a_i = h_{i-1} W_iᵀ + b_i, then h_i, d_i.
  for (size_t i = 0; i < n_hidden; ++i) {
    const at::Tensor& in = i == 0 ? z : h_[i - 1];
    mlp_sgemm(/*b_transposed=*/true, B, width(i), in.size(1), in.data_ptr<float>(), weight(i),
              /*beta=*/0, a_[i].data_ptr<float>());
    activate(i, layers[i]->bias.data_ptr<float>());
  }
  float* fp = out.f.data_ptr<float>();
  mlp_sgemm(true, B, 1, width(n_hidden - 1), h_.back().data_ptr<float>(), weight(n_hidden), 0, fp);
  const float b_out = layers.back()->bias.data_ptr<float>()[0];
  for (int64_t b = 0; b < B; ++b) fp[b] += b_out;
  // Backward to the input, u_i kept in a_i (no longer needed): u_H = d_H ⊙ w_Lᵀ.
  {
    const int64_t n = width(n_hidden - 1);
    float* __restrict up = a_.back().data_ptr<float>();
    const float* __restrict dp = d_.back().data_ptr<float>();
    const float* __restrict wp = weight(n_hidden);
    for (int64_t row = 0; row < B * n; row += n) {
      for (int64_t j = 0; j < n; ++j) up[row + j] = wp[j] * dp[row + j];
    }
  }
  for (size_t i = n_hidden - 1; i >= 1; --i) {
    // u_{i-1} = (u_i W_i) ⊙ d_{i-1}: [B, n_i] x [n_i, n_{i-1}]
    float* __restrict up = a_[i - 1].data_ptr<float>();
    mlp_sgemm(false, B, width(i - 1), width(i), a_[i].data_ptr<float>(), weight(i), 0, up);
    const float* __restrict dp = d_[i - 1].data_ptr<float>();
    const int64_t n = a_[i - 1].numel();
    for (int64_t k = 0; k < n; ++k) up[k] *= dp[k];
  }
  mlp_sgemm(false, B, z.size(1), width(0), a_.front().data_ptr<float>(), weight(0), 0,
            out.grad.data_ptr<float>());
  return {out.f, out.grad};
}

}  // namespace anila
