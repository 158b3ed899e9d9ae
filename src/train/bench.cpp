// bench.cpp — `anila bench`: time per training iteration and per sampler step
// for several samplers on one config (see bench_config in experiment.h).
//
// Notation: M chains (batch), K sampler steps per iteration. Samplers are timed
// interleaved (A, B, A, B, ...) so drifts in machine speed hit all alike, and
// medians are reported.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include "anila/data/images.h"
#include "anila/samplers/registry.h"
#include "anila/train/experiment.h"
#include "anila/train/setup.h"
#include "train/cuda_graph.h"

namespace anila {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point a) {
  return std::chrono::duration<double>(Clock::now() - a).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// The image data of `resolved`, or random stand-in images of its shape when the
// files are not here (the timing does not depend on pixel values).
std::shared_ptr<data::ImageDataset> bench_images(const Json& resolved, std::string* note) {
  const Json& section = resolved["data"];
  try {
    return data::load_image_dataset_shared(section, "data");
  } catch (const UserError& e) {
    std::vector<int64_t> shape = data::image_shape_hint(section);
    constexpr int64_t kStandIns = 512;
    at::Generator gen = make_generator(0, at::kCPU);
    auto images = std::make_shared<data::ImageDataset>();
    images->images = at::rand({kStandIns, shape[0], shape[1], shape[2]}, gen).mul_(2).sub_(1);
    images->name = "random stand-in";
    *note = fmt::format(
        "data not loadable here ({}); timed on {} uniform random images of shape {}x{}x{}",
        e.what(), kStandIns, shape[0], shape[1], shape[2]);
    return images;
  }
}

// Peak resident memory of this process so far, MiB (Linux: ru_maxrss is in KiB).
double max_rss_mib() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;
}

}  // namespace

Json bench_config(const Json& config, const BenchOptions& options) {
  const bool image_data = config.contains("data") && config["data"].contains("type") &&
                          config["data"]["type"].is_string() &&
                          data::is_image_dataset_type(config["data"]["type"].get<std::string>());
  std::string note;
  std::shared_ptr<data::ImageDataset> images;
  if (image_data) images = bench_images(config, &note);
  Json resolved = build_setup(config, images).config;
  const Json bench = resolved.value("bench", Json::object());
  auto pick = [&](int64_t given, const char* key, int64_t def) {
    return given > 0 ? given : bench.value(key, def);
  };
  const int64_t M = pick(options.batch_size, "batch_size", resolved["train"]["batch_size"]);
  const int64_t K = pick(options.mcmc_steps, "mcmc_steps", resolved["train"]["mcmc_steps"]);
  const int64_t iterations = pick(options.iterations, "iterations", 20);
  const int64_t repeats = pick(options.repeats, "repeats", 5);
  std::vector<std::string> samplers = options.samplers;
  if (samplers.empty())
    samplers = split(bench.value("samplers", std::string(kDefaultComparedSamplers)));

  Json out = {{"threads", at::get_num_threads()},
              {"device", resolved["device"]},
              {"batch_size", M},
              {"mcmc_steps", K},
              {"data", resolved["data"]["type"]},
              {"model", resolved["model"]["type"]},
              {"precision", resolved["model"].value("precision", "float32")},
              {"memory_format", resolved["model"].value("memory_format", "contiguous")},
              {"tf32", resolved["tf32"]},
              {"iterations_timed", iterations},
              {"repeats", repeats}};
  if (!note.empty()) out["data_note"] = note;

  struct Timed {
    std::string name;
    Json cfg;
    RunSetup setup;
    std::unique_ptr<Trainer> trainer;
    at::Tensor z0;
    std::vector<double> per_it, per_step;
  };
  std::vector<Timed> timed;
  for (const auto& name : samplers) {
    Timed t;
    t.name = name;
    Json cfg = config_for_sampler(config, name);
    cfg["train"]["batch_size"] = M;
    cfg["train"]["mcmc_steps"] = K;
    if (cfg.contains("chains") && cfg["chains"].value("bank_size", M) < M) {
      cfg["chains"]["bank_size"] = M;
    }
    t.setup = build_setup(cfg, images);
    t.cfg = t.setup.config;
    t.trainer = make_trainer(t.setup, t.cfg);
    for (int i = 0; i < 2; ++i) t.trainer->step(false);  // warm-up
    at::Generator gen = make_generator(t.setup.seed + 5, t.setup.device);
    t.z0 = t.trainer->chains()->noise(M, gen);
    timed.push_back(std::move(t));
  }
  auto sync = [](const c10::Device& device) {
    // Timings on CUDA need the queued kernels finished: a host copy waits for them.
    if (device.is_cuda()) at::zeros({1}, at::TensorOptions().device(device)).cpu();
  };
  if (!timed.empty()) cuda_reset_peak_memory(timed.front().setup.device);
  for (int64_t r = 0; r < repeats; ++r) {
    for (auto& t : timed) {
      const c10::Device device = t.setup.device;
      sync(device);
      auto t0 = Clock::now();
      for (int64_t i = 0; i < iterations; ++i) t.trainer->step(false);
      sync(device);
      t.per_it.push_back(seconds_since(t0) / double(iterations));
      // Sampler steps alone: K steps of M chains from the same start each time,
      // as training runs them (a replayed CUDA graph where one was captured).
      auto t1 = Clock::now();
      t.trainer->run_chains(t.z0);
      sync(device);
      t.per_step.push_back(seconds_since(t1) / double(K));
    }
  }
  for (auto& t : timed) {
    const double step_s = median(t.per_step);
    Json row = {{"ms_per_iteration", median(t.per_it) * 1e3},
                {"ms_per_iteration_min", *std::min_element(t.per_it.begin(), t.per_it.end()) * 1e3},
                {"ms_per_step", step_s * 1e3},
                {"ms_per_step_min", *std::min_element(t.per_step.begin(), t.per_step.end()) * 1e3},
                {"us_per_step_per_chain", step_s * 1e6 / double(M)},
                {"cuda_graph", t.trainer->cuda_graph_status()},
                {"sampler", t.setup.sampler.to_json()}};
    const double flops = t.trainer->model()->forward_flops();
    if (flops > 0) {
      const double step_flops =
          2.0 * flops * double(t.trainer->sampler()->gradients_per_step()) * double(M);
      row["gflop_per_step"] = step_flops / 1e9;
      row["gflops"] = step_flops / step_s / 1e9;
    }
    out[t.name] = row;
  }
  out["max_rss_mib"] = max_rss_mib();
  if (!timed.empty()) {
    Json mem = cuda_memory_json(timed.front().setup.device);
    if (!mem.empty()) out["cuda_memory"] = mem;
  }
  if (out.contains("langevin") && out.contains("anila")) {
    auto pct = [&](const char* key) {
      return 100.0 * (out["anila"][key].get<double>() / out["langevin"][key].get<double>() - 1.0);
    };
    out["anila_overhead_percent"] = {{"iteration", pct("ms_per_iteration")},
                                     {"step", pct("ms_per_step")}};
  }
  return out;
}

}  // namespace anila
