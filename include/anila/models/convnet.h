// convnet.h — the 5-layer ConvNet energy of the short-run EBM code (Nijkamp et al.,
// "Learning non-convergent non-persistent short-run MCMC" / "On the anatomy of
// MCMC-based maximum likelihood learning of EBMs"), the network the AniLA paper uses.
//
// Notation: B batch, C channels, S = H = W image side, n_f base width, lrelu = LeakyReLU
// with slope `negative_slope` (default 0.2).
//
// Layer list (S = 32; every conv has a bias):
//   conv0  3x3 stride 1 pad 1   C     -> n_f    lrelu   [B, n_f, 32, 32]
//   conv1  4x4 stride 2 pad 1   n_f   -> 2n_f   lrelu   [B, 2n_f, 16, 16]
//   conv2  4x4 stride 2 pad 1   2n_f  -> 4n_f   lrelu   [B, 4n_f, 8, 8]
//   conv3  4x4 stride 2 pad 1   4n_f  -> 8n_f   lrelu   [B, 8n_f, 4, 4]
//   conv4  4x4 stride 1 pad 0   8n_f  -> 1              [B, 1, 1, 1] -> f: [B]
// S = 64: one extra stage before the last conv (6 convs in all):
//   conv0..conv3 as above (64 -> 32 -> 16 -> 8),
//   conv4  4x4 stride 2 pad 1   8n_f  -> 8n_f   lrelu   [B, 8n_f, 4, 4]
//   conv5  4x4 stride 1 pad 0   8n_f  -> 1              -> f: [B]
// S = 28 (MNIST / Fashion-MNIST): forward zero-pads the input by 2 pixels on every
//   side to 32x32 (at::constant_pad_nd, value 0), then runs the S = 32 network. The
//   padded border is constant, so ∇_x f is taken through the crop: the gradient has
//   the input's [B, C, 28, 28] shape.
// No normalisation or dropout layers: f depends on each sample alone, in train and
// eval mode alike. value_and_grad is the base class's autograd on z only.
//
// Spectral normalisation (`spectral_norm = true`, config model.spectral_norm), as the
// ResNet's (resnet.h): every conv weight W, as a matrix W_m [out, in·k·k], is replaced
// in forward by W / σ̂, σ̂ = uᵀ W_m v, with buffers u{i}: [out], v{i}: [in·k·k] saved
// with the model; one power iteration (no autograd) runs before σ̂ in every forward in
// training mode with grad mode on, never inside value_and_grad (sampling: θ frozen).
//
//   ConvNetOptions o;  o.n_f = 32;  o.channels = 3;  o.size = 32;
//   auto model = std::make_shared<anila::ConvNetEnergy>(o);
//   at::Tensor f = model->forward(x);  // x: [B, 3, 32, 32] -> f: [B]
#pragma once

#include <array>
#include <vector>

#include <torch/nn/modules/conv.h>

#include "anila/models/energy.h"

namespace anila {

struct ConvNetOptions {
  int64_t n_f = 64;             // base width
  double negative_slope = 0.2;  // LeakyReLU slope
  int64_t channels = 3;         // C, from the data shape
  int64_t size = 32;            // S (28, 32 or 64), from the data shape
  bool spectral_norm = false;   // W / σ̂ for every conv weight (see above)
};

// Image sides ConvNetEnergy accepts.
std::vector<int64_t> convnet_sizes();  // {28, 32, 64}

class ConvNetEnergy : public EnergyModel {
 public:
  // TORCH_CHECKs n_f >= 1, channels >= 1 and a supported size (the factory reports
  // these as UserErrors first).
  explicit ConvNetEnergy(ConvNetOptions options);
  // x: [B, C, S, S] -> f: [B]
  at::Tensor forward(const at::Tensor& x) override;
  LogDensityValue value_and_grad(const at::Tensor& z) override;
  double forward_flops() const override;
  // conv i's weight as forward uses it (W / σ̂ with spectral norm, else W).
  at::Tensor effective_weight(size_t i) const;
  Json to_json() const override;
  const ConvNetOptions& options() const { return options_; }

 private:
  ConvNetOptions options_;
  std::vector<torch::nn::Conv2d> convs_;          // conv0 .. conv4 (conv5 for S = 64)
  std::vector<std::array<int64_t, 2>> geometry_;  // stride, padding of each conv
  std::vector<at::Tensor> u_, v_;                 // spectral norm: power-iteration vectors
  bool frozen_ = false;                           // set inside value_and_grad
  void power_iteration(size_t i);
};

}  // namespace anila
