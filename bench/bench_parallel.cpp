// bench_parallel.cpp — the four loops anila runs through at::parallel_for, at 1
// and 2 threads (the benchmark argument), to see what OpenMP buys each:
//
//   images  bytes_to_images: 10,000 Fashion-MNIST-sized uint8 images -> [-1, 1]
//   kde     log_gauss_mixture: 20,000 query points against 2,000 centres
//   mcmc    summarize_draws: R-hat, bulk/tail ESS of D = 64 dims, 8 chains x 2,000
//   anila   one AniLA step on M = 100 CIFAR-sized states (the fused CPU loop)
//
//   build/anila_bench --benchmark_filter=Parallel --benchmark_repetitions=3 \
//     --benchmark_enable_random_interleaving=true
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include "anila/eval/mcmc.h"
#include "anila/logdensity.h"
#include "anila/samplers/sampler.h"
#include "data/images_internal.h"
#include "data/kde.h"

namespace {

void BM_ParallelImages(benchmark::State& st) {
  anila::set_threads(int(st.range(0)));
  at::Tensor pixels = at::randint(0, 256, {10000, 1, 28, 28}, at::kByte);
  for (auto _ : st)
    benchmark::DoNotOptimize(anila::data::internal::bytes_to_images(pixels, 0).data_ptr());
}

void BM_ParallelKde(benchmark::State& st) {
  anila::set_threads(int(st.range(0)));
  at::manual_seed(0);
  at::Tensor x = at::randn({20000, 2}, at::kDouble), c = at::randn({2000, 2}, at::kDouble);
  at::Tensor lw = at::full({2000}, -std::log(2000.0), at::kDouble);
  for (auto _ : st) {
    benchmark::DoNotOptimize(
        anila::data::internal::log_gauss_mixture(x, c, lw, 0.2, 0.2).data_ptr());
  }
}

void BM_ParallelMcmc(benchmark::State& st) {
  anila::set_threads(int(st.range(0)));
  at::manual_seed(0);
  at::Tensor draws = at::randn({2000, 8, 64}, at::kDouble);
  for (auto _ : st)
    benchmark::DoNotOptimize(anila::eval::summarize_draws(draws).ess_bulk.data_ptr());
}

// A log-density that hands back fixed f and ∇f, so the step's own loop is timed.
class FixedLogDensity : public anila::LogDensity {
 public:
  explicit FixedLogDensity(const at::Tensor& z)
      : f_(at::zeros({z.size(0)})), grad_(at::randn_like(z)) {}
  anila::LogDensityValue operator()(const at::Tensor&) const override { return {f_, grad_}; }

 private:
  at::Tensor f_, grad_;
};

void BM_ParallelAnila(benchmark::State& st) {
  anila::set_threads(int(st.range(0)));
  at::manual_seed(0);
  auto sampler =
      anila::make_sampler(anila::Json{{"type", "anila"}, {"step_size", 0.02}, {"threshold", 0.5}});
  at::Generator gen = anila::make_generator(1, at::kCPU);
  const at::Tensor z0 = at::randn({100, 3, 32, 32});
  FixedLogDensity logp(z0);
  anila::ChainState state = anila::ChainState::start(z0, logp);
  for (auto _ : st) {
    sampler->step(state, logp, gen, nullptr);
    benchmark::DoNotOptimize(state.z.data_ptr());
  }
}

BENCHMARK(BM_ParallelImages)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();
BENCHMARK(BM_ParallelKde)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();
BENCHMARK(BM_ParallelMcmc)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();
BENCHMARK(BM_ParallelAnila)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();

}  // namespace
