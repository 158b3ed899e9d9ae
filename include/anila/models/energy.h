// energy.h — energy networks f_θ: the model's log unnormalised density.
//
// An `EnergyModel` is a torch::nn::Module with
//   forward(x: [B, ...]) -> f: [B]                 (differentiable in θ, for the loss)
//   value_and_grad(z: [B, ...]) -> f: [B], ∇_z f   (θ frozen; no graph kept)
// Subclasses may override value_and_grad with a hand-written input gradient
// (the MLP does: no autograd in the sampler's hot loop).
//
// `ModelLogDensity` adapts a model to the sampler interface (logdensity.h).
//
// How the network computes (config keys model.precision, model.memory_format;
// image models only):
//   precision "bf16": forward and the input-gradient backward run under autocast
//     to bfloat16 on the model's device (CPU or CUDA). Parameters, optimizer state,
//     chain states z and the f, ∇_z f handed back stay float32 (cast back), so MH
//     ratios and the AniLA γ see float32 values.
//   memory_format "channels_last": inputs and conv weights in NHWC order (the
//     convolutions' preferred layout on oneDNN and cuDNN); ∇_z f comes back in z's
//     own (contiguous) layout.
// `energy()` and the default `value_and_grad()` honour both; a subclass that
// overrides value_and_grad does its own arithmetic (the MLP: float32 only).
//
//   auto model = anila::make_model({{"type", "mlp"}}, /*sample_shape=*/{2});
//   anila::ModelLogDensity logp(model);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "anila/common.h"
#include "anila/logdensity.h"

namespace anila {

// model.precision / model.memory_format (see above).
struct ComputeOptions {
  std::string precision = "float32";         // float32 | bf16
  std::string memory_format = "contiguous";  // contiguous | channels_last
  bool bf16() const { return precision == "bf16"; }
  bool channels_last() const { return memory_format == "channels_last"; }
};

std::vector<std::string> precision_names();      // {"float32", "bf16"}
std::vector<std::string> memory_format_names();  // {"contiguous", "channels_last"}

class EnergyModel : public torch::nn::Module {
 public:
  // x: [B, ...] -> f: [B], in the layout and precision the caller set up.
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  // x: [B, ...] -> f: [B] float32: forward under the model's ComputeOptions
  // (differentiable in θ: the training loss and value-only evaluations use it).
  at::Tensor energy(const at::Tensor& x);
  // z: [B, ...] -> f: [B], ∇_z f: [B, ...] (float32, z's layout), with θ frozen
  // (default: autograd on z only, under the model's ComputeOptions).
  virtual LogDensityValue value_and_grad(const at::Tensor& z);
  // Sets precision and memory format (channels_last also converts 4-D weights).
  void set_compute(const ComputeOptions& compute);
  const ComputeOptions& compute() const { return compute_; }
  // Resolved options (including "type"), written to the run's config.json.
  virtual Json to_json() const = 0;
  // Number of scalar parameters.
  int64_t num_parameters() const;
  // Floating-point operations of forward() for one sample (2 per multiply-add,
  // convolutions and linear layers only); 0 when the model does not say.
  // A sampler step (forward + backward to the input) costs about twice this.
  virtual double forward_flops() const { return 0; }

 protected:
  // Adds "precision" and "memory_format" to a subclass's to_json().
  Json with_compute(Json j) const;

 private:
  ComputeOptions compute_;
};

using EnergyModelPtr = std::shared_ptr<EnergyModel>;

// Builds a model from its config section for inputs of `sample_shape` (e.g. {2});
// UserError on an unknown type or key, or a shape the model cannot take.
EnergyModelPtr make_model(const Json& section, const std::vector<int64_t>& sample_shape,
                          const std::string& path = "model");
std::vector<std::string> model_types();

class ModelLogDensity : public LogDensity {
 public:
  explicit ModelLogDensity(EnergyModelPtr model) : model_(std::move(model)) {}
  LogDensityValue operator()(const at::Tensor& z) const override;
  at::Tensor value(const at::Tensor& z) const override;
  // Autograd through forward() (also for models with a hand-written value_and_grad).
  at::Tensor grad_with_graph(const at::Tensor& z) const override;
  const EnergyModelPtr& model() const { return model_; }

 private:
  EnergyModelPtr model_;
};

}  // namespace anila
