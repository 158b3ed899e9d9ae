// bench_samplers.cpp — Google Benchmark micro-benchmarks of one sampler step
// (Langevin vs AniLA) on the default 2D MLP energy, M chains.
//
//   build/anila_bench --benchmark_min_time=0.2
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include "anila/models/energy.h"
#include "anila/samplers/sampler.h"

namespace {

void BM_SamplerStep(benchmark::State& st, const char* type) {
  at::set_num_threads(1);
  at::manual_seed(0);
  auto model = anila::make_model({{"type", "mlp"}}, {2});
  anila::ModelLogDensity logp(model);
  auto sampler =
      anila::make_sampler(anila::Json{{"type", type}, {"step_size", 0.02}, {"threshold", 0.01}});
  at::Generator gen = anila::make_generator(1, at::kCPU);
  anila::ChainState state = anila::ChainState::start(at::randn({st.range(0), 2}), logp);
  for (auto _ : st) sampler->step(state, logp, gen, nullptr);
  st.SetItemsProcessed(st.iterations() * st.range(0));
}

BENCHMARK_CAPTURE(BM_SamplerStep, langevin, "langevin")->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_SamplerStep, anila, "anila")->Arg(100)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
