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

class EnergyModel : public torch::nn::Module {
 public:
  // x: [B, ...] -> f: [B]
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  // z: [B, ...] -> f: [B], ∇_z f: [B, ...], with θ frozen (default: autograd on z only).
  virtual LogDensityValue value_and_grad(const at::Tensor& z);
  // Resolved options (including "type"), written to the run's config.json.
  virtual Json to_json() const = 0;
  // Number of scalar parameters.
  int64_t num_parameters() const;
  // Floating-point operations of forward() for one sample (2 per multiply-add,
  // convolutions and linear layers only); 0 when the model does not say.
  // A sampler step (forward + backward to the input) costs about twice this.
  virtual double forward_flops() const { return 0; }
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
  const EnergyModelPtr& model() const { return model_; }

 private:
  EnergyModelPtr model_;
};

}  // namespace anila
