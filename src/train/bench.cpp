// bench.cpp — `anila bench`: time per training iteration and per sampler step
// for several samplers on one config (see bench_config in experiment.h).
//
// Notation: M chains (batch), K sampler steps per iteration. Samplers are timed
// interleaved (A, B, A, B, ...) so drifts in machine speed hit all alike, and
// medians are reported.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include "anila/data/images.h"
#include "anila/samplers/registry.h"
#include "anila/train/experiment.h"
#include "anila/train/setup.h"
#include "models/mlp_gemm.h"
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

// CPU seconds of this process (all its threads) so far.
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// Matrix-product peak of this CPU per thread, GFLOP per CPU second: the best of
// at::mm and oneDNN's sgemm on [2048 x 2048] float32, and at::mm on bfloat16, on
// one thread, timed in process CPU time (so other load on the machine does not
// lower it). Recorded with `anila bench --measure-peak` on the development
// machine (AMD EPYC, 2 cores, AVX-512 BF16); see docs/performance.md. On another
// machine pass --measure-peak.
constexpr double kRecordedPeakFloat32 = 235;  // 2026-12-01: 234.9, 230.2, 232.7
constexpr double kRecordedPeakBf16 = 411;     // 2026-12-01: 411.4, 394.5, 403.2

struct Peak {
  double float32 = 0, bf16 = 0;  // GFLOP per CPU second, one thread
  std::string source;
};

// Best of 3 products of two [n x n] matrices after a warm-up, GFLOP per CPU second.
double best_gflops(const std::function<void()>& product, int64_t n) {
  product();  // JIT kernels, pages
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    const double c0 = process_cpu_seconds();
    product();
    const double flops = 2.0 * double(n) * double(n) * double(n);
    best = std::max(best, flops / (process_cpu_seconds() - c0) / 1e9);
  }
  return best;
}

Peak measure_peak() {
  constexpr int64_t n = 2048;
  const int threads = at::get_num_threads();
  set_threads(1);
  at::Generator gen = make_generator(0, at::kCPU);
  at::Tensor a = at::randn({n, n}, gen), b = at::randn({n, n}, gen), c = at::empty({n, n});
  Peak p;
  p.float32 = std::max(best_gflops([&] { at::mm_out(c, a, b); }, n),
                       best_gflops(
                           [&] {
                             mlp_sgemm(false, n, n, n, a.data_ptr<float>(), b.data_ptr<float>(), 0,
                                       c.data_ptr<float>());
                           },
                           n));
  at::Tensor ah = a.to(at::kBFloat16), bh = b.to(at::kBFloat16);
  p.bf16 = best_gflops([&] { at::mm(ah, bh); }, n);
  set_threads(threads);
  p.source = fmt::format("measured in this run (one thread, best of 3 products {}x{})", n, n);
  return p;
}

Peak recorded_peak() {
  return {kRecordedPeakFloat32, kRecordedPeakBf16,
          "recorded on the development machine (docs/performance.md; --measure-peak measures)"};
}

// What one bench run times: the resolved config, M, K, budgets, samplers.
struct BenchPlan {
  Json resolved;
  std::shared_ptr<data::ImageDataset> images;
  std::string note;
  int64_t M = 0, K = 0, iterations = 0, repeats = 0;
  std::vector<std::string> samplers;
};

BenchPlan plan_bench(const Json& config, const BenchOptions& options) {
  BenchPlan plan;
  const bool image_data = config.contains("data") && config["data"].contains("type") &&
                          config["data"]["type"].is_string() &&
                          data::is_image_dataset_type(config["data"]["type"].get<std::string>());
  if (image_data) plan.images = bench_images(config, &plan.note);
  plan.resolved = build_setup(config, plan.images).config;
  const Json& resolved = plan.resolved;
  const Json bench = resolved.value("bench", Json::object());
  auto pick = [&](int64_t given, const char* key, int64_t def) {
    return given > 0 ? given : bench.value(key, def);
  };
  plan.M = pick(options.batch_size, "batch_size", resolved["train"]["batch_size"]);
  plan.K = pick(options.mcmc_steps, "mcmc_steps", resolved["train"]["mcmc_steps"]);
  plan.iterations = pick(options.iterations, "iterations", 20);
  plan.repeats = pick(options.repeats, "repeats", 5);
  plan.samplers = options.samplers;
  if (plan.samplers.empty()) {
    plan.samplers = split(bench.value("samplers", std::string(kDefaultComparedSamplers)));
  }
  return plan;
}

Json bench_header(const BenchPlan& plan, const Peak& peak) {
  const Json& resolved = plan.resolved;
  Json out = {{"threads", at::get_num_threads()},
              {"device", resolved["device"]},
              {"batch_size", plan.M},
              {"mcmc_steps", plan.K},
              {"data", resolved["data"]["type"]},
              {"model", resolved["model"]["type"]},
              {"precision", resolved["model"].value("precision", "float32")},
              {"memory_format", resolved["model"].value("memory_format", "contiguous")},
              {"tf32", resolved["tf32"]},
              {"iterations_timed", plan.iterations},
              {"repeats", plan.repeats},
              {"peak_gflops_per_thread",
               {{"float32", peak.float32}, {"bf16", peak.bf16}, {"source", peak.source}}}};
  if (resolved["model"].value("type", "") == "mlp") {
    out["fast_path"] = resolved["model"].value("fast_path", true);
    out["mlp_gemm"] = mlp_gemm_backend();
  }
  if (!plan.note.empty()) out["data_note"] = plan.note;
  return out;
}

// One sampler's trainer and its timings (wall and process CPU seconds).
struct Timed {
  std::string name;
  RunSetup setup;
  std::unique_ptr<Trainer> trainer;
  at::Tensor z0;
  std::vector<double> per_it, per_step, cpu_it, cpu_step;
  double gradients_per_step = -1;  // counted in the timed steps; -1: a replayed CUDA graph
};

Timed make_timed(const Json& config, const std::string& name, const BenchPlan& plan) {
  Timed t;
  t.name = name;
  Json cfg = config_for_sampler(config, name);
  cfg["train"]["batch_size"] = plan.M;
  cfg["train"]["mcmc_steps"] = plan.K;
  if (cfg.contains("chains") && cfg["chains"].value("bank_size", plan.M) < plan.M) {
    cfg["chains"]["bank_size"] = plan.M;
  }
  t.setup = build_setup(cfg, plan.images);
  t.trainer = make_trainer(t.setup, t.setup.config);
  for (int i = 0; i < 2; ++i) t.trainer->step(false);  // warm-up
  at::Generator gen = make_generator(t.setup.seed + 5, t.setup.device);
  t.z0 = t.trainer->chains()->noise(plan.M, gen);
  return t;
}

void sync(const c10::Device& device) {
  // Timings on CUDA need the queued kernels finished: a host copy waits for them.
  if (device.is_cuda()) at::zeros({1}, at::TensorOptions().device(device)).cpu();
}

// Forwards to the chains' log-density and counts its gradient evaluations, so the
// bench reports how many one timed step made.
class CountingLogDensity : public LogDensity {
 public:
  explicit CountingLogDensity(const LogDensity& inner) : inner_(inner) {}
  LogDensityValue operator()(const at::Tensor& z) const override {
    ++gradients_;
    return inner_(z);
  }
  at::Tensor value(const at::Tensor& z) const override { return inner_.value(z); }
  at::Tensor grad_with_graph(const at::Tensor& z) const override {
    ++gradients_;
    return inner_.grad_with_graph(z);
  }
  int64_t gradients() const { return gradients_; }

 private:
  const LogDensity& inner_;
  mutable int64_t gradients_ = 0;
};

// One repeat: `iterations` training iterations, then K sampler steps alone from
// the same start each time. Eagerly, the chains' starting f and ∇f are computed
// before the clock starts, so a step is one sampler update (one ∇f evaluation for
// the unadjusted samplers) as in the reference's loop; the extra evaluation per
// iteration is in the iteration time. A captured CUDA graph replays the whole
// K-step loop, start included.
void time_repeat(Timed& t, const BenchPlan& plan) {
  const c10::Device device = t.setup.device;
  sync(device);
  auto t0 = Clock::now();
  double c0 = process_cpu_seconds();
  for (int64_t i = 0; i < plan.iterations; ++i) t.trainer->step(false);
  sync(device);
  t.per_it.push_back(seconds_since(t0) / double(plan.iterations));
  t.cpu_it.push_back((process_cpu_seconds() - c0) / double(plan.iterations));
  const bool replayed = t.trainer->cuda_graph_status() == "captured";
  const auto logp = t.trainer->chain_log_density();
  CountingLogDensity counted(*logp);
  ChainState state;
  if (!replayed) state = ChainState::start(t.z0, *logp);
  sync(device);
  auto t1 = Clock::now();
  double c1 = process_cpu_seconds();
  if (replayed) {
    t.trainer->run_chains(t.z0);
  } else {
    t.trainer->sampler()->run(state, counted, plan.K, t.trainer->generator());
    t.gradients_per_step = double(counted.gradients()) / double(plan.K);
  }
  sync(device);
  t.per_step.push_back(seconds_since(t1) / double(plan.K));
  t.cpu_step.push_back((process_cpu_seconds() - c1) / double(plan.K));
}

double min_of(const std::vector<double>& v) {
  return *std::min_element(v.begin(), v.end());
}

Json timed_row(const Timed& t, int64_t M, const Peak& peak, bool bf16) {
  const double step_s = median(t.per_step);
  Json row = {{"ms_per_iteration", median(t.per_it) * 1e3},
              {"ms_per_iteration_min", min_of(t.per_it) * 1e3},
              {"cpu_ms_per_iteration", median(t.cpu_it) * 1e3},
              {"ms_per_step", step_s * 1e3},
              {"ms_per_step_min", min_of(t.per_step) * 1e3},
              {"cpu_ms_per_step", median(t.cpu_step) * 1e3},
              {"us_per_step_per_chain", step_s * 1e6 / double(M)},
              {"cuda_graph", t.trainer->cuda_graph_status()},
              {"gradient_evaluations_per_step", t.gradients_per_step},
              {"sampler", t.setup.sampler.to_json()}};
  const double flops = t.trainer->model()->forward_flops();
  if (flops > 0) {
    const double step_flops =
        2.0 * flops * double(t.trainer->sampler()->gradients_per_step()) * double(M);
    row["gflop_per_step"] = step_flops / 1e9;
    row["gflops"] = step_flops / step_s / 1e9;
    // Per CPU second (all threads): the rate each thread's cores achieved,
    // whatever else ran on the machine; against the one-thread peak.
    const double per_cpu = step_flops / median(t.cpu_step) / 1e9;
    row["gflops_per_cpu_second"] = per_cpu;
    const double p = bf16 ? peak.bf16 : peak.float32;
    if (p > 0 && t.setup.device.is_cpu()) row["fraction_of_peak"] = per_cpu / p;
  }
  return row;
}

}  // namespace

Json bench_config(const Json& config, const BenchOptions& options) {
  const BenchPlan plan = plan_bench(config, options);
  const Peak peak = options.measure_peak ? measure_peak() : recorded_peak();
  Json out = bench_header(plan, peak);
  std::vector<Timed> timed;
  for (const auto& name : plan.samplers) timed.push_back(make_timed(config, name, plan));
  if (!timed.empty()) cuda_reset_peak_memory(timed.front().setup.device);
  for (int64_t r = 0; r < plan.repeats; ++r) {
    for (auto& t : timed) time_repeat(t, plan);  // interleaved: drifts hit all alike
  }
  const bool bf16 = out["precision"] == "bf16";
  for (const auto& t : timed) out[t.name] = timed_row(t, plan.M, peak, bf16);
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
