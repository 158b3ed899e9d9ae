// bench_samplers.cpp — Google Benchmark micro-benchmarks of one sampler step
// (Langevin vs AniLA) on the default 2D MLP energy, M chains, 10 steps
// per timed iteration from a fixed start; and one Langevin step of the CIFAR-10
// ConvNet (n_f = 32, 3×32×32, M = 100) in float32, bf16 autocast, channels-last
// and both, to compare in one process, interleaved, several rounds:
//
//   build/anila_bench --benchmark_min_time=0.2 --benchmark_filter='SamplerStep|MlpValueAndGrad'
//   build/anila_bench --benchmark_filter=ImageStep --benchmark_repetitions=4 \
//     --benchmark_enable_random_interleaving=true --benchmark_min_time=1
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include "anila/models/energy.h"
#include "anila/samplers/sampler.h"

namespace {

void BM_SamplerStep(benchmark::State& st, const char* type, double threshold) {
  anila::set_threads(1);
  at::manual_seed(0);
  auto model = anila::make_model({{"type", "mlp"}}, {2});
  anila::ModelLogDensity logp(model);
  anila::Json options{{"type", type}, {"step_size", 0.02}};
  if (threshold > 0) options["threshold"] = threshold;  // AniLA's b
  auto sampler = anila::make_sampler(options);
  at::Generator gen = anila::make_generator(1, at::kCPU);
  // Every timed iteration runs kSteps steps from the same start, so Langevin
  // and AniLA chains are timed on the same region of the landscape.
  constexpr int64_t kSteps = 10;
  const at::Tensor z0 = at::randn({st.range(0), 2}) * 2;
  for (auto _ : st) {
    anila::ChainState state = anila::ChainState::start(z0, logp);
    sampler->run(state, logp, kSteps, gen);
    benchmark::DoNotOptimize(state.z.data_ptr());
  }
  // items = chain steps, so items_per_second is chain-steps per second.
  st.SetItemsProcessed(st.iterations() * st.range(0) * kSteps);
}

BENCHMARK_CAPTURE(BM_SamplerStep, langevin, "langevin", 0.0)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_SamplerStep, anila, "anila", 0.01)->Arg(100)->Arg(1000);
// b so large that γ ≡ 1: the same chains as Langevin, so any difference is the
// cost of computing γ and applying it, not a change in where the chains go.
BENCHMARK_CAPTURE(BM_SamplerStep, anila_gamma1, "anila", 1e9)->Arg(100)->Arg(1000);

// The default MLP's value and input gradient for M chains, 1 thread: the fused
// CPU pass (model.fast_path, the default) against the unfused hand-written one.
void BM_MlpValueAndGrad(benchmark::State& st, bool fast_path) {
  anila::set_threads(1);
  at::manual_seed(0);
  auto model = anila::make_model({{"type", "mlp"}, {"fast_path", fast_path}}, {2});
  anila::ModelLogDensity logp(model);
  const at::Tensor z = at::randn({st.range(0), 2}) * 2;
  for (auto _ : st) {
    anila::LogDensityValue v = logp(z);
    benchmark::DoNotOptimize(v.grad.data_ptr());
  }
  st.SetItemsProcessed(st.iterations() * st.range(0));
}

BENCHMARK_CAPTURE(BM_MlpValueAndGrad, fused, true)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_MlpValueAndGrad, unfused, false)->Arg(100)->Arg(1000);

// One Langevin step (value and input gradient + update) of the ConvNet, 1 thread.
void BM_ImageStep(benchmark::State& st, const char* precision, const char* memory_format) {
  anila::set_threads(1);
  at::manual_seed(0);
  auto model = anila::make_model({{"type", "convnet"},
                                  {"n_f", 32},
                                  {"precision", precision},
                                  {"memory_format", memory_format}},
                                 {3, 32, 32});
  anila::ModelLogDensity logp(model);
  auto sampler = anila::make_sampler(
      anila::Json{{"type", "langevin"}, {"step_size", 2.0}, {"noise_scale", 0.00707}});
  at::Generator gen = anila::make_generator(1, at::kCPU);
  const at::Tensor z0 = at::rand({st.range(0), 3, 32, 32}) * 2 - 1;
  anila::ChainState state = anila::ChainState::start(z0, logp);
  for (auto _ : st) {
    sampler->step(state, logp, gen, nullptr);
    benchmark::DoNotOptimize(state.z.data_ptr());
  }
  st.SetItemsProcessed(st.iterations() * st.range(0));
  // 2 × forward FLOPs per chain per step (forward + backward to the input).
  st.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * model->forward_flops() * double(st.range(0)) * double(st.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_ImageStep, float32, "float32", "contiguous")
    ->Arg(100)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ImageStep, bf16, "bf16", "contiguous")
    ->Arg(100)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ImageStep, channels_last, "float32", "channels_last")
    ->Arg(100)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ImageStep, bf16_channels_last, "bf16", "channels_last")
    ->Arg(100)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
