// energy.cpp — EnergyModel defaults (autocast, memory format), ModelLogDensity
// and the model factory.
#include "anila/models/energy.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/autograd.h>
#include <torch/version.h>

#include "anila/config.h"
#include "anila/models/convnet.h"
#include "anila/models/mlp.h"
#include "anila/models/resnet.h"

namespace anila {

namespace {

// LibTorch 2.4 made autocast's state device-generic and deprecated the per-device
// calls; 1.13 has only those.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(c10::DeviceType d) {
  return at::autocast::is_autocast_enabled(d);
}
void set_autocast_enabled(c10::DeviceType d, bool on) {
  at::autocast::set_autocast_enabled(d, on);
}
at::ScalarType autocast_dtype(c10::DeviceType d) {
  return at::autocast::get_autocast_dtype(d);
}
void set_autocast_dtype(c10::DeviceType d, at::ScalarType t) {
  at::autocast::set_autocast_dtype(d, t);
}
#else
bool autocast_enabled(c10::DeviceType d) {
  return d == c10::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast_enabled(c10::DeviceType d, bool on) {
  if (d == c10::kCUDA) {
    at::autocast::set_enabled(on);
  } else {
    at::autocast::set_cpu_enabled(on);
  }
}
at::ScalarType autocast_dtype(c10::DeviceType d) {
  return d == c10::kCUDA ? at::autocast::get_autocast_gpu_dtype()
                         : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast_dtype(c10::DeviceType d, at::ScalarType t) {
  if (d == c10::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(t);
  } else {
    at::autocast::set_autocast_cpu_dtype(t);
  }
}
#endif

// Autocast to bfloat16 on `device` (CPU or CUDA) for the guard's lifetime; does
// nothing when !enabled. Leaving the outermost region clears autocast's cache of
// cast parameters, so the next region casts them afresh (they change every
// optimizer step).
class AutocastGuard {
 public:
  AutocastGuard(bool enabled, c10::DeviceType device) : enabled_(enabled), device_(device) {
    if (!enabled_) return;
    was_enabled_ = autocast_enabled(device_);
    old_dtype_ = autocast_dtype(device_);
    set_autocast_enabled(device_, true);
    set_autocast_dtype(device_, at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set_autocast_enabled(device_, was_enabled_);
    set_autocast_dtype(device_, old_dtype_);
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool enabled_;
  c10::DeviceType device_;
  bool was_enabled_ = false;
  at::ScalarType old_dtype_ = at::kBFloat16;
};

}  // namespace

std::vector<std::string> precision_names() {
  return {"float32", "bf16"};
}

std::vector<std::string> memory_format_names() {
  return {"contiguous", "channels_last"};
}

at::Tensor EnergyModel::energy(const at::Tensor& x) {
  const at::Tensor in =
      compute_.channels_last() && x.dim() == 4 ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
  at::Tensor f;
  {
    AutocastGuard autocast(compute_.bf16(), x.device().type());
    f = forward(in);
  }
  return compute_.bf16() ? f.to(at::kFloat) : f;
}

LogDensityValue EnergyModel::value_and_grad(const at::Tensor& z) {
  // Gradient with respect to z only: parameters are excluded from the graph by
  // asking autograd for ∂f/∂z alone. The backward runs outside autocast (each op
  // in the dtype its forward used), as PyTorch recommends.
  at::AutoGradMode enable(true);
  at::Tensor zr = z.detach().requires_grad_(true);
  at::Tensor f = energy(zr);
  at::Tensor grad = torch::autograd::grad({f.sum()}, {zr})[0];
  if (!grad.is_contiguous(z.suggest_memory_format())) {
    grad = grad.contiguous(z.suggest_memory_format());
  }
  return {f.detach(), grad.detach()};
}

void EnergyModel::set_compute(const ComputeOptions& compute) {
  compute_ = compute;
  const at::MemoryFormat format =
      compute_.channels_last() ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  at::NoGradGuard no_grad;
  for (auto& p : parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(format));
  }
}

Json EnergyModel::with_compute(Json j) const {
  j["precision"] = compute_.precision;
  j["memory_format"] = compute_.memory_format;
  return j;
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
  return model_->energy(z);
}

at::Tensor ModelLogDensity::grad_with_graph(const at::Tensor& z) const {
  at::AutoGradMode enable(true);
  return torch::autograd::grad({model_->energy(z).sum()}, {z}, {}, /*retain_graph=*/true,
                               /*create_graph=*/true)[0];
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

ComputeOptions read_compute(ConfigReader& r) {
  ComputeOptions c;
  c.precision = r.choice("precision", c.precision, precision_names());
  c.memory_format = r.choice("memory_format", c.memory_format, memory_format_names());
  return c;
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
    o.fast_path = r.boolean("fast_path", o.fast_path);
    const ComputeOptions compute = read_compute(r);
    r.finish();
    if (compute.bf16() || compute.channels_last()) {
      const bool p = compute.bf16();
      throw UserError(r.key_path(p ? "precision" : "memory_format") + ": " +
                      (p ? compute.precision : compute.memory_format) +
                      " is for the image models (convnet, resnet); the mlp computes in " +
                      "float32 with a hand-written gradient (remove the key)");
    }
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
    o.spectral_norm = r.boolean("spectral_norm", o.spectral_norm);
    auto [c, s] = read_image_shape(r, type, sample_shape, "28, 32 or 64", convnet_size_ok);
    const ComputeOptions compute = read_compute(r);
    r.finish();
    o.channels = c;
    o.size = s;
    auto model = std::make_shared<ConvNetEnergy>(o);
    model->set_compute(compute);
    return model;
  }
  if (type == "resnet") {
    ResNetOptions o;
    o.n_f = r.integer("n_f", o.n_f, Range::at_least(1));
    o.blocks = r.integer("blocks", o.blocks, Range::at_least(1));
    o.spectral_norm = r.boolean("spectral_norm", o.spectral_norm);
    o.negative_slope = r.number("negative_slope", o.negative_slope, Range::non_negative());
    auto [c, s] = read_image_shape(r, type, sample_shape, "a multiple of 4, e.g. 28, 32 or 64",
                                   resnet_size_ok);
    const ComputeOptions compute = read_compute(r);
    r.finish();
    o.channels = c;
    o.size = s;
    auto model = std::make_shared<ResNetEnergy>(o);
    model->set_compute(compute);
    return model;
  }
  throw UserError(path + ".type: unsupported model " + type);
}

}  // namespace anila
