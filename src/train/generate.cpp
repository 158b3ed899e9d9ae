// generate.cpp — drawing images from a trained image EBM and inpainting with it
// (see anila/train/generate.h).
#include "anila/train/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include "anila/chains/chain_source.h"
#include "anila/config.h"
#include "anila/data/images.h"
#include "anila/io/files.h"
#include "anila/io/image.h"
#include "anila/samplers/sampler.h"
#include "anila/train/sampling.h"

namespace fs = std::filesystem;

namespace anila {

namespace {

// Human name of a shape: "1x28x28" (or "4, 1, 3, 3" with sep ", ").
// "1x28x28": a sample shape C×H×W for messages.
std::string dims_text(at::IntArrayRef shape) {
  std::vector<std::string> parts;
  for (int64_t s : shape) parts.push_back(std::to_string(s));
  return join(parts, "x");
}

std::string run_name(const LoadedRun& run) {
  std::string name = fs::path(run.dir).filename().string();
  return name.empty() ? "model" : name;
}

// The checkpoint loader replaces parameter tensors whole, so a checkpoint of
// another width loads "successfully" into a model configured differently. Build
// the configured model (global RNG state restored) and compare parameter shapes.
void check_model_matches_config(const LoadedRun& run) {
  if (!run.config.is_object() || !run.config.contains("model")) return;
  EnergyModelPtr fresh;
  {
    at::Generator global = at::detail::getDefaultCPUGenerator();
    const at::Tensor state = global.get_state();
    fresh = make_model(run.config["model"], run.sample_shape, "model");
    global.set_state(state);
  }
  const auto want = fresh->named_parameters();
  const auto have = run.model->named_parameters();
  const std::string what = run.checkpoint.empty() ? "checkpoint of run " + run_name(run)
                                                  : "checkpoint " + run.checkpoint;
  for (const auto& p : want) {
    const at::Tensor* t = have.find(p.key());
    if (!t || t->sizes() != p.value().sizes()) {
      throw UserError(
          what + " does not match the configured model (different architecture?): " + p.key() +
          " is " + (t ? shape_text(t->sizes()) : std::string("missing")) + " in the checkpoint, " +
          shape_text(p.value().sizes()) + " in the run's config.json");
    }
  }
  if (have.size() != want.size()) {
    throw UserError(what + " does not match the configured model (different architecture?): " +
                    std::to_string(have.size()) + " parameter tensors, the config builds " +
                    std::to_string(want.size()));
  }
}

// UserError unless `run` is a loaded image run.
void check_image_run(const LoadedRun& run, const std::string& what) {
  if (!run.model) throw UserError(what + ": no model loaded");
  if (run.sample_shape.size() != 3) {
    throw UserError(what + ": run " + run_name(run) +
                    " is not an image run (its samples have shape [" + dims_text(run.sample_shape) +
                    "]); use anila sample for 2D runs");
  }
  if (!run.chains) throw UserError(what + ": run " + run_name(run) + " has no chain source");
  check_model_matches_config(run);
}

c10::Device run_device(const LoadedRun& run) {
  for (const auto& p : run.model->parameters()) return p.device();
  return c10::Device(c10::kCPU);
}

// K from the options, else the run's train.mcmc_steps (100 when absent).
int64_t resolve_steps(const LoadedRun& run, int64_t steps) {
  if (steps >= 0) return steps;
  if (steps != -1) throw UserError("steps: must be >= 0, got " + std::to_string(steps));
  const Json& c = run.config;
  if (c.is_object() && c.contains("train") && c["train"].is_object() &&
      c["train"].contains("mcmc_steps") && c["train"]["mcmc_steps"].is_number_integer()) {
    return c["train"]["mcmc_steps"].get<int64_t>();
  }
  return 100;
}

void prepare_output(const std::string& dir, bool force) {
  if (dir.empty()) throw UserError("no output folder given (--out DIR)");
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) throw UserError("output path " + dir + " is not a folder");
    if (!fs::is_empty(dir, ec)) {
      if (!force) throw UserError("output folder " + dir + " already exists; use --force");
      fs::remove_all(dir, ec);
      if (ec) throw UserError("cannot remove output folder " + dir + ": " + ec.message());
    }
  }
  io::make_dirs(dir);
  io::check_writable(dir);
}

// Pixel scale and columns of a grid of `images` [N, C, H, W] (as the run folder's grids).
int grid_scale(const at::Tensor& images) {
  return images.size(2) < 48 ? 2 : 1;
}
int64_t grid_columns(int64_t n) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n)))));
}
io::Image grid(const at::Tensor& images) {
  return io::image_grid(images, grid_columns(images.size(0)), grid_scale(images));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

// ---- generation ----

namespace {

// The samplers generate_images runs (types or the run's named variants): o.samplers,
// else the run's own; each once.
std::vector<std::string> generation_samplers(const LoadedRun& run, const GenerateOptions& o) {
  std::vector<std::string> names = o.samplers;
  if (names.empty()) {
    const Json extra = o.sampler.is_object() ? o.sampler : Json::object();
    names.push_back(extra.contains("type") ? resolve_sampler(run.config, "", extra).type
                                           : sampler_name(run.config));
  }
  check_sampler_list(names, "samplers", run.config);
  for (size_t i = 0; i < names.size(); ++i) {
    if (std::count(names.begin(), names.end(), names[i]) > 1) {
      throw UserError("samplers: \"" + names[i] + "\" is listed twice");
    }
  }
  return names;
}

// N starting states [N, C, H, W] shared by every sampler: the run's noise or data.
at::Tensor generation_start(const LoadedRun& run, const GenerateOptions& o, c10::Device device) {
  if (o.init == "data") {
    at::Generator data_gen = make_generator(o.seed, at::kCPU);
    return data::sample_images(*run.images, o.chains, data_gen).to(device);
  }
  at::Generator init_gen = make_generator(o.seed, device);
  return run.chains->noise(o.chains, init_gen);
}

// K steps of one sampler from z0; writes DIR/samples.npy and .png; returns its row.
Json generate_with(const Sampler& sampler, const LogDensity& logp, const at::Tensor& z0, int64_t K,
                   uint64_t seed, const std::string& dir, io::Image* image) {
  const auto t0 = std::chrono::steady_clock::now();
  at::Generator gen = make_generator(seed + 1, z0.device());
  SamplerStats stats;
  ChainState state = ChainState::start(z0.clone(), logp);  // z0 is shared by every sampler
  sampler.run(state, logp, K, gen, &stats);
  const double mean_f = state.f.mean().item<double>();
  const double grad_abs = state.grad.abs().mean().item<double>();
  const double seconds = seconds_since(t0);
  const at::Tensor samples = state.z.detach().to(at::kCPU, at::kFloat).contiguous();
  io::make_dirs(dir);
  io::write_npy(dir + "/samples.npy", samples);
  *image = grid(samples);
  io::write_png(*image, dir + "/samples.png");
  return {{"sampler", sampler.options().to_json()},
          {"mean_f", mean_f},
          {"grad_abs_last", grad_abs},
          {"seconds", seconds},
          {"finite", static_cast<bool>(samples.isfinite().all().item<bool>())},
          {"stats", stats.summary()}};
}

}  // namespace

Json generate_images(const LoadedRun& run, const GenerateOptions& o) {
  check_image_run(run, "generate");
  const int64_t N = o.chains;
  if (N < 1) throw UserError("chains: must be >= 1, got " + std::to_string(N));
  const int64_t K = resolve_steps(run, o.steps);
  if (o.init != "noise" && o.init != "data") {
    throw UserError("init: unknown value \"" + o.init + "\"; allowed: noise, data");
  }
  if (o.init == "data" && !run.images) {
    throw UserError("init data: run " + run_name(run) + " has no image data loaded");
  }
  const std::vector<std::string> names = generation_samplers(run, o);
  for (auto it = o.per_sampler.begin(); it != o.per_sampler.end(); ++it) {
    if (std::find(names.begin(), names.end(), it.key()) == names.end()) {
      throw UserError("--set " + it.key() + ".*: \"" + it.key() +
                      "\" is not one of the samplers run here (" + join(names) +
                      "); add it to --samplers or use sampler.KEY for every sampler");
    }
  }
  const Json shared = o.sampler.is_object() ? o.sampler : Json::object();
  std::vector<SamplerPtr> samplers;
  for (const auto& name : names) {
    const Json sets = {{"sampler", shared}, {name, o.per_sampler.value(name, Json::object())}};
    const Json extra =
        command_line_sampler_keys(sets, name, resolve_sampler(run.config, name).type);
    samplers.push_back(make_sampler(resolve_run_sampler(run, name, extra)));
  }
  prepare_output(o.out_dir, o.force);

  const c10::Device device = run_device(run);
  const at::Tensor z0 = generation_start(run, o, device);
  // A data batch for the energy gap.
  double f_data = NAN;
  if (run.images) {
    at::Generator gap_gen = make_generator(o.seed + 2, at::kCPU);
    at::Tensor x = data::sample_images(*run.images, N, gap_gen).to(device);
    at::NoGradGuard no_grad;
    f_data = run.model->forward(x).mean().item<double>();
  }
  ModelLogDensity logp(run.model);
  Json per_sampler = Json::object();
  std::vector<io::Panel> panels;
  for (size_t i = 0; i < samplers.size(); ++i) {
    io::Image image;
    Json row = generate_with(*samplers[i], logp, z0, K, o.seed, o.out_dir + "/" + names[i], &image);
    panels.push_back({names[i], image});
    if (run.images) row["energy_gap"] = f_data - row["mean_f"].get<double>();
    per_sampler[names[i]] = row;
  }
  io::write_png(
      io::compose({panels}, {}, fmt::format("{}: {} steps from {}", run_name(run), K, o.init)),
      o.out_dir + "/samples.png");
  Json summary = {{"run", run.dir},
                  {"weights", run.weights},
                  {"chains", N},
                  {"steps", K},
                  {"init", o.init},
                  {"seed", o.seed},
                  {"sample_shape", run.sample_shape},
                  {"sampler_order", names},
                  {"samplers", per_sampler}};
  if (run.images) summary["f_data"] = f_data;
  io::write_atomic(o.out_dir + "/summary.json", summary.dump(2) + "\n");
  return summary;
}

// ---- inpainting ----

std::vector<std::string> inpaint_mask_types() {
  return {"center", "left-half", "random"};
}

at::Tensor make_inpaint_mask(const std::string& type, const std::vector<int64_t>& shape,
                             uint64_t seed) {
  TORCH_CHECK(shape.size() == 4, "make_inpaint_mask: expected {N, C, H, W}");
  const int64_t N = shape[0], C = shape[1], H = shape[2], W = shape[3];
  at::Tensor mask = at::zeros({N, 1, H, W}, at::kBool);
  if (type == "center") {
    const int64_t h = H / 2, w = W / 2;
    const int64_t y0 = (H - h) / 2, x0 = (W - w) / 2;
    mask.slice(2, y0, y0 + h).slice(3, x0, x0 + w).fill_(true);
  } else if (type == "left-half") {
    mask.slice(3, 0, W / 2).fill_(true);
  } else if (type == "random") {
    at::Generator gen = make_generator(seed, at::kCPU);
    mask = at::empty({N, 1, H, W}, at::kFloat).bernoulli_(0.5, gen).to(at::kBool);
  } else {
    const auto valid = inpaint_mask_types();
    std::string hint = closest_match(type, valid);
    throw UserError("mask: unknown mask \"" + type + "\"" +
                    (hint.empty() ? "" : " (did you mean " + hint + "?)") +
                    "; allowed: " + join(valid));
  }
  return mask.expand({N, C, H, W}).contiguous();
}

InpaintLogDensity::InpaintLogDensity(EnergyModelPtr model, at::Tensor x, at::Tensor mask)
    : f_(std::move(model)), x_(std::move(x)), mask_(std::move(mask)) {
  TORCH_CHECK(mask_.scalar_type() == at::kBool, "InpaintLogDensity: mask must be bool");
}

at::Tensor InpaintLogDensity::complete(const at::Tensor& z) const {
  return at::where(mask_, z, x_);
}

LogDensityValue InpaintLogDensity::operator()(const at::Tensor& z) const {
  LogDensityValue v = f_(complete(z));
  v.grad = at::where(mask_, v.grad, at::zeros({}, v.grad.options()));
  return v;
}

at::Tensor InpaintLogDensity::value(const at::Tensor& z) const {
  return f_.value(complete(z));
}

Json inpaint_images(const LoadedRun& run, const at::Tensor& images, const InpaintOptions& o) {
  check_image_run(run, "inpaint");
  if (!images.defined() || images.dim() != 4 ||
      std::vector<int64_t>(images.sizes().begin() + 1, images.sizes().end()) != run.sample_shape) {
    throw UserError("inpaint: images have shape [" +
                    (images.defined() ? dims_text(images.sizes()) : std::string()) +
                    "] but the model of run " + run_name(run) + " takes [N, " +
                    dims_text(run.sample_shape) + "]");
  }
  const int64_t N = images.size(0);
  if (N < 1) throw UserError("inpaint: no images given");
  const int64_t K = resolve_steps(run, o.steps);
  if (!o.sampler_type.empty()) check_sampler_list({o.sampler_type}, "sampler", run.config);
  SamplerPtr sampler = make_sampler(resolve_run_sampler(run, o.sampler_type, o.sampler));
  const c10::Device device = run_device(run);
  const at::Tensor mask = make_inpaint_mask(o.mask, images.sizes().vec(), o.seed).to(device);
  prepare_output(o.out_dir, o.force);

  const auto t0 = std::chrono::steady_clock::now();
  const at::Tensor x = images.detach().to(device, at::kFloat).contiguous();
  at::Generator init_gen = make_generator(o.seed, device);
  const at::Tensor z0 = at::where(mask, run.chains->noise(N, init_gen), x);
  InpaintLogDensity logp(run.model, x, mask);
  at::Generator gen = make_generator(o.seed + 1, device);
  SamplerStats stats;
  ChainState state = ChainState::start(z0, logp);
  sampler->run(state, logp, K, gen, &stats);
  const at::Tensor out = logp.complete(state.z.detach());

  const at::Tensor m = mask.to(at::kFloat);
  const double masked = m.sum().item<double>();
  auto masked_mse = [&](const at::Tensor& y) {
    return masked > 0 ? ((y - x).pow(2) * m).sum().item<double>() / masked : 0.0;
  };
  const double mse = masked_mse(out), mse_start = masked_mse(z0);
  const double seconds = seconds_since(t0);

  const at::Tensor out_cpu = out.to(at::kCPU).contiguous();
  const at::Tensor x_cpu = x.to(at::kCPU);
  const at::Tensor mask_cpu = mask.to(at::kCPU);
  const at::Tensor shown = at::where(mask_cpu, at::zeros({}, x_cpu.options()), x_cpu);
  io::Image original = grid(x_cpu), masked_image = grid(shown), inpainted = grid(out_cpu);
  io::write_png(original, o.out_dir + "/original.png");
  io::write_png(masked_image, o.out_dir + "/masked.png");
  io::write_png(inpainted, o.out_dir + "/inpainted.png");
  io::write_png(io::compose({{{"original", original},
                              {"masked (" + o.mask + ")", masked_image},
                              {"inpainted", inpainted}}},
                            {}, fmt::format("{}: {}, {} steps", run_name(run), sampler->name(), K)),
                o.out_dir + "/figure.png");
  io::write_npy(o.out_dir + "/inpainted.npy", out_cpu);
  io::write_npy(o.out_dir + "/mask.npy", mask_cpu.to(at::kByte).contiguous());
  Json summary = {{"run", run.dir},
                  {"weights", run.weights},
                  {"mask", o.mask},
                  {"mask_fraction", masked / static_cast<double>(m.numel())},
                  {"images", N},
                  {"sampler", sampler->name()},
                  {"sampler_options", sampler->options().to_json()},
                  {"steps", K},
                  {"seed", o.seed},
                  {"mse", mse},
                  {"mse_start", mse_start},
                  {"seconds", seconds},
                  {"stats", stats.summary()}};
  summary["note"] =
      "mse: mean squared error over the masked pixels (values in [-1, 1]) of the inpainted "
      "images vs the originals; mse_start: the same for the noise the masked pixels started from";
  io::write_atomic(o.out_dir + "/summary.json", summary.dump(2) + "\n");
  return summary;
}

at::Tensor inpaint_inputs(const LoadedRun& run, const std::string& images_dir,
                          const std::string& config_path, int64_t n) {
  if (images_dir.empty() == config_path.empty()) {
    throw UserError("inpaint: give exactly one of --images DIR or --config FILE");
  }
  if (n < 1) throw UserError("--n: must be >= 1, got " + std::to_string(n));
  check_image_run(run, "inpaint");
  Json section;
  if (!images_dir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(images_dir, ec)) {
      throw UserError("--images: " + images_dir + " is not a folder (or does not exist)");
    }
    section = {{"type", "image_folder"},
               {"path", images_dir},
               {"size", run.sample_shape[1]},
               {"channels", run.sample_shape[0]}};
  } else {
    Json config = load_json_file(config_path);
    if (!config.is_object() || !config.contains("data") || !config["data"].is_object()) {
      throw UserError("--config " + config_path + ": no data section");
    }
    section = config["data"];
    const std::string type = section.value("type", std::string("idx"));
    if (!data::is_image_dataset_type(type)) {
      throw UserError("--config " + config_path + ": data.type \"" + type +
                      "\" is not image data; allowed: " + join(data::image_dataset_types()));
    }
  }
  const data::ImageDataset images = data::load_image_dataset(section, "data");
  return images.images.slice(0, 0, std::min<int64_t>(n, images.images.size(0)));
}

}  // namespace anila
