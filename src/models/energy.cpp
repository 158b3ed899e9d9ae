// energy.cpp — EnergyModel defaults, ModelLogDensity and the model factory.
#include "anila/models/energy.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "anila/config.h"
#include "anila/models/mlp.h"

namespace anila {

LogDensityValue EnergyModel::value_and_grad(const at::Tensor& z) {
  // Gradient with respect to z only: parameters are excluded from the graph by
  // asking autograd for ∂f/∂z alone.
  at::AutoGradMode enable(true);
  at::Tensor zr = z.detach().requires_grad_(true);
  at::Tensor f = forward(zr);
  at::Tensor grad = torch::autograd::grad({f.sum()}, {zr})[0];
  return {f.detach(), grad.detach()};
}

int64_t EnergyModel::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

LogDensityValue ModelLogDensity::operator()(const at::Tensor& z) const {
  return model_->value_and_grad(z);
}

at::Tensor ModelLogDensity::value(const at::Tensor& z) const {
  at::NoGradGuard no_grad;
  return model_->forward(z);
}

std::vector<std::string> model_types() {
  return {"mlp"};
}

EnergyModelPtr make_model(const Json& section, const std::vector<int64_t>& sample_shape,
                          const std::string& path) {
  ConfigReader r(section, path);
  std::string type = r.choice("type", "mlp", model_types());
  if (type == "mlp") {
    MLPOptions o;
    o.hidden = r.int_list("hidden", o.hidden);
    o.activation = r.choice("activation", o.activation,
                            {"leaky_relu", "relu", "elu", "silu", "tanh", "softplus"});
    o.negative_slope = r.number("negative_slope", o.negative_slope, Range::non_negative());
    r.finish();
    int64_t dim = 1;
    for (int64_t s : sample_shape) dim *= s;
    if (sample_shape.size() != 1) {
      throw UserError(path + ".type: mlp takes flat inputs [B, D]; this data has samples of " +
                      std::to_string(sample_shape.size()) + " axes");
    }
    o.input_dim = dim;
    return std::make_shared<MLPEnergy>(o);
  }
  throw UserError(path + ".type: unsupported model " + type);
}

}  // namespace anila
