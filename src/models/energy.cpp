// energy.cpp — EnergyModel defaults, ModelLogDensity and the model factory.
#include "anila/models/energy.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "anila/config.h"
#include "anila/models/convnet.h"
#include "anila/models/mlp.h"
#include "anila/models/resnet.h"

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

namespace {

// Image models: sample_shape must be {C, S, S} with S accepted by `size_ok`; the
// optional "channels"/"size" keys (written by to_json) must agree with the data.
// Returns {C, S}.
std::pair<int64_t, int64_t> read_image_shape(ConfigReader& r, const std::string& type,
                                             const std::vector<int64_t>& sample_shape,
                                             const std::string& supported,
                                             bool (*size_ok)(int64_t)) {
  auto shape_text = [&] {
    std::vector<std::string> parts;
    for (int64_t s : sample_shape) parts.push_back(std::to_string(s));
    return "[" + join(parts, ", ") + "]";
  };
  if (sample_shape.size() != 3) {
    throw UserError(r.key_path("type") + ": " + type +
                    " takes images [B, C, H, W]; this data has samples of shape " + shape_text());
  }
  const int64_t c = sample_shape[0], h = sample_shape[1], w = sample_shape[2];
  if (h != w) {
    throw UserError(r.key_path("type") + ": " + type + " takes square images (" + supported +
                    "); this data has " + std::to_string(h) + "x" + std::to_string(w));
  }
  if (!size_ok(h)) {
    throw UserError(r.key_path("type") + ": " + type + " supports images of side " + supported +
                    "; this data has " + std::to_string(h) + "x" + std::to_string(w));
  }
  const int64_t cc = r.integer("channels", c, Range::at_least(1));
  const int64_t ss = r.integer("size", h, Range::at_least(1));
  if (cc != c || ss != h) {
    throw UserError(r.key_path(cc != c ? "channels" : "size") + ": " +
                    std::to_string(cc != c ? cc : ss) + " does not match the data (" +
                    std::to_string(c) + " channels, " + std::to_string(h) + "x" +
                    std::to_string(w) + "); remove the key to take it from the data");
  }
  return {c, h};
}

bool convnet_size_ok(int64_t s) {
  for (int64_t ok : convnet_sizes())
    if (s == ok) return true;
  return false;
}

bool resnet_size_ok(int64_t s) {
  return s >= 4 && s % 4 == 0;
}

}  // namespace

std::vector<std::string> model_types() {
  return {"mlp", "convnet", "resnet"};
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
  if (type == "convnet") {
    ConvNetOptions o;
    o.n_f = r.integer("n_f", o.n_f, Range::at_least(1));
    o.negative_slope = r.number("negative_slope", o.negative_slope, Range::non_negative());
    auto [c, s] = read_image_shape(r, type, sample_shape, "28, 32 or 64", convnet_size_ok);
    r.finish();
    o.channels = c;
    o.size = s;
    return std::make_shared<ConvNetEnergy>(o);
  }
  if (type == "resnet") {
    ResNetOptions o;
    o.n_f = r.integer("n_f", o.n_f, Range::at_least(1));
    o.blocks = r.integer("blocks", o.blocks, Range::at_least(1));
    o.spectral_norm = r.boolean("spectral_norm", o.spectral_norm);
    o.negative_slope = r.number("negative_slope", o.negative_slope, Range::non_negative());
    auto [c, s] = read_image_shape(r, type, sample_shape, "a multiple of 4, e.g. 28, 32 or 64",
                                   resnet_size_ok);
    r.finish();
    o.channels = c;
    o.size = s;
    return std::make_shared<ResNetEnergy>(o);
  }
  throw UserError(path + ".type: unsupported model " + type);
}

}  // namespace anila
