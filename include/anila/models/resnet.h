// resnet.h — a small residual energy network (IGEBM-style, Du & Mordatch 2019) with
// optional spectral normalisation.
//
// Notation: B batch, C channels, S = H = W image side, n_f base width, lrelu =
// LeakyReLU(negative_slope = 0.2), conv k = k×k conv, stride 1, "same" padding, bias.
//
// Layer list (`blocks` residual blocks per stage, default 1):
//   stem     conv3   C -> n_f                                    [B, n_f, S, S]
//   stage 0  blocks × ResBlock(n_f -> n_f)                       [B, n_f, S, S]
//            avg_pool 2×2 stride 2                               [B, n_f, S/2, S/2]
//   stage 1  ResBlock(n_f -> 2n_f), then (blocks-1) × (2n_f -> 2n_f)
//            avg_pool 2×2 stride 2                               [B, 2n_f, S/4, S/4]
//   stage 2  ResBlock(2n_f -> 4n_f), then (blocks-1) × (4n_f -> 4n_f)
//   lrelu -> sum over H, W (global sum pooling)                  [B, 4n_f]
//   fc       linear 4n_f -> 1                                    -> f: [B]
// ResBlock(in -> out): y = conv2(lrelu(conv1(lrelu(x)))) + skip(x),
//   conv1: conv3 in -> out, conv2: conv3 out -> out, skip = identity when in == out,
//   else a 1×1 conv in -> out.
// Any square S divisible by 4 works (28, 32, 64, ...). No normalisation or dropout
// layers. Module names: stem, stage{s}_block{i}.{conv1,conv2,skip}, fc.
//
// Spectral normalisation (`spectral_norm = true`, Miyato et al. 2018): every conv and
// linear weight W (as a matrix W_m: [out, in·k·k]) is replaced in forward by W / σ̂,
// σ̂ = uᵀ W_m v, with buffers u: [out] and v: [in·k·k] (saved with the model). One
// power iteration  v ← W_mᵀu / ‖W_mᵀu‖,  u ← W_m v / ‖W_m v‖  runs (without autograd)
// before σ̂ in every forward that is in training mode with grad mode on; u, v are then
// constants of the graph, so ∂/∂W flows through W_m only, as in PyTorch's
// torch.nn.utils.spectral_norm. In eval mode, under at::NoGradGuard and inside
// value_and_grad (sampling: θ frozen), the stored u, v are used without updating, so
// f is a fixed function of z. At construction 15 power iterations start u, v off.
//
//   ResNetOptions o;  o.channels = 3;  o.size = 32;  o.spectral_norm = true;
//   auto model = std::make_shared<anila::ResNetEnergy>(o);
#pragma once

#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "anila/models/energy.h"

namespace anila {

// A conv k×k (stride 1, padding k/2) or, with kernel = 0, a linear layer, whose weight
// is optionally divided by its power-iteration estimate of the spectral norm.
class SNLayerImpl : public torch::nn::Module {
 public:
  SNLayerImpl(int64_t in, int64_t out, int64_t kernel, bool spectral_norm);
  // x: [B, in, H, W] -> [B, out, H, W] (conv) or [B, in] -> [B, out] (linear).
  // update: run one power iteration first (ignored without spectral norm).
  at::Tensor forward(const at::Tensor& x, bool update);
  // One power iteration on u, v (no autograd).
  void power_iteration();
  // The weight forward uses now: W / σ̂ (or W), same shape as W; differentiable in W.
  at::Tensor effective_weight() const;
  // W as a matrix [out, in·k·k].
  at::Tensor weight_matrix() const;
  bool spectral_norm() const { return spectral_norm_; }

 private:
  bool spectral_norm_;
  int64_t kernel_;
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::Linear linear_{nullptr};
  at::Tensor u_;  // [out]
  at::Tensor v_;  // [in·k·k]
};
TORCH_MODULE(SNLayer);

class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(int64_t in, int64_t out, bool spectral_norm, double negative_slope);
  at::Tensor forward(const at::Tensor& x, bool update);  // [B, in, H, W] -> [B, out, H, W]

 private:
  double negative_slope_;
  SNLayer conv1_{nullptr}, conv2_{nullptr}, skip_{nullptr};  // skip null: identity
};
TORCH_MODULE(ResBlock);

struct ResNetOptions {
  int64_t n_f = 64;             // base width; stages have n_f, 2n_f, 4n_f channels
  int64_t blocks = 1;           // residual blocks per stage
  bool spectral_norm = false;   // W / σ̂ for every conv and linear weight
  double negative_slope = 0.2;  // LeakyReLU slope
  int64_t channels = 3;         // C, from the data shape
  int64_t size = 32;            // S, from the data shape (divisible by 4)
};

class ResNetEnergy : public EnergyModel {
 public:
  explicit ResNetEnergy(ResNetOptions options);
  // x: [B, C, S, S] -> f: [B]
  at::Tensor forward(const at::Tensor& x) override;
  // Base-class autograd on z only, with the power iteration frozen.
  LogDensityValue value_and_grad(const at::Tensor& z) override;
  Json to_json() const override;
  const ResNetOptions& options() const { return options_; }
  // Every conv/linear layer in forward order (stem, blocks' conv1, conv2, skip, fc).
  std::vector<SNLayer> layers() const;

 private:
  ResNetOptions options_;
  SNLayer stem_{nullptr};
  std::vector<ResBlock> blocks_;
  std::vector<int64_t> pool_before_;  // 1 where an avg_pool precedes blocks_[i]
  SNLayer fc_{nullptr};
  bool frozen_ = false;  // set inside value_and_grad
};

}  // namespace anila
