// test_cuda.cpp — the same code on a CUDA device: model gradients agree with
// the CPU's, every sampler keeps its state on the device, training iterations of
// an image model run there (float32, bf16 autocast, channels-last), and the K-step
// loop is captured as a CUDA graph whose replays compute what the eager loop does.
// Skipped (GTEST_SKIP, reported as skipped) when this build of LibTorch sees no
// CUDA device, e.g. Debian's CPU-only LibTorch; run on a machine built against a
// CUDA LibTorch 2.x (scripts/gpu-check.sh treats a skip there as a failure).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "anila/chains/chain_source.h"
#include "anila/models/energy.h"
#include "anila/samplers/sampler.h"
#include "anila/train/experiment.h"
#include "anila/train/setup.h"
#include "train/cuda_graph.h"

using namespace anila;

namespace {

#define ANILA_REQUIRE_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device in this build"

}  // namespace

TEST(Cuda, ConvNetGradientMatchesCpu) {
  ANILA_REQUIRE_CUDA();
  at::manual_seed(0);
  EnergyModelPtr cpu = make_model({{"type", "convnet"}, {"n_f", 8}}, {3, 32, 32});
  at::manual_seed(0);
  EnergyModelPtr gpu = make_model({{"type", "convnet"}, {"n_f", 8}}, {3, 32, 32});
  gpu->to(at::kCUDA);
  at::Generator gen = make_generator(1, at::kCPU);
  const at::Tensor z = at::rand({4, 3, 32, 32}, gen) * 2 - 1;
  LogDensityValue a = cpu->value_and_grad(z);
  LogDensityValue b = gpu->value_and_grad(z.to(at::kCUDA));
  EXPECT_TRUE(b.grad.is_cuda());
  EXPECT_TRUE(at::allclose(a.f, b.f.cpu(), 1e-4, 1e-5));
  EXPECT_TRUE(at::allclose(a.grad, b.grad.cpu(), 1e-3, 1e-6));
}

TEST(Cuda, EverySamplerKeepsItsStateOnTheDevice) {
  ANILA_REQUIRE_CUDA();
  EnergyModelPtr model = make_model({{"type", "convnet"}, {"n_f", 4}}, {1, 28, 28});
  model->to(at::kCUDA);
  ModelLogDensity logp(model);
  for (const auto& type : sampler_types()) {
    SCOPED_TRACE(type);
    SamplerPtr sampler = make_sampler(Json{{"type", type}, {"step_size", 0.01}});
    at::Generator gen = make_generator(2, at::kCUDA);
    ChainState state =
        ChainState::start(at::zeros({3, 1, 28, 28}, at::TensorOptions().device(at::kCUDA)), logp);
    sampler->run(state, logp, 3, gen);
    EXPECT_TRUE(state.z.is_cuda());
    EXPECT_TRUE(at::isfinite(state.z).all().item<bool>());
  }
}

std::shared_ptr<data::ImageDataset> random_images() {
  auto images = std::make_shared<data::ImageDataset>();
  images->images = at::rand({32, 3, 32, 32}) * 2 - 1;
  images->name = "random";
  return images;
}

TEST(Cuda, ImageTrainingIterationRunsOnTheDevice) {
  ANILA_REQUIRE_CUDA();
  auto images = random_images();
  Json cfg = {{"device", "cuda"},
              {"tf32", true},
              {"data", {{"type", "cifar10"}, {"path", "unused"}}},
              {"model", {{"type", "convnet"}, {"n_f", 4}}},
              {"sampler", {{"type", "anila"}, {"step_size", 1.0}, {"noise_scale", 0.01}}},
              {"chains", {{"type", "persistent"}, {"bank_size", 16}, {"storage", "uint8"}}},
              {"train", {{"batch_size", 8}, {"mcmc_steps", 2}}}};
  RunSetup s = build_setup(cfg, images);
  auto trainer = make_trainer(s, s.config);
  IterationStats st = trainer->step(true);
  EXPECT_TRUE(std::isfinite(st.loss));
  EXPECT_TRUE(trainer->chains()->state().is_cuda());
  EXPECT_TRUE(trainer->model()->parameters()[0].is_cuda());
}

// bf16 autocast on CUDA: f and ∇f close to float32 (tolerances as in
// test_precision.cpp: 4ε and 16ε of bfloat16, relative L2), handed back in float32.
TEST(Cuda, Bf16ValueAndGradientCloseToFloat32) {
  ANILA_REQUIRE_CUDA();
  at::manual_seed(0);
  EnergyModelPtr f32 = make_model({{"type", "convnet"}, {"n_f", 8}}, {3, 32, 32});
  at::manual_seed(0);
  EnergyModelPtr b16 = make_model(
      {{"type", "convnet"}, {"n_f", 8}, {"precision", "bf16"}, {"memory_format", "channels_last"}},
      {3, 32, 32});
  f32->to(at::kCUDA);
  b16->to(at::kCUDA);
  at::Generator gen = make_generator(1, at::kCPU);
  const at::Tensor z = (at::rand({8, 3, 32, 32}, gen) * 2 - 1).to(at::kCUDA);
  LogDensityValue a = f32->value_and_grad(z);
  LogDensityValue b = b16->value_and_grad(z);
  EXPECT_EQ(b.f.scalar_type(), at::kFloat);
  EXPECT_EQ(b.grad.scalar_type(), at::kFloat);
  EXPECT_TRUE(b.grad.is_cuda());
  EXPECT_TRUE(b.grad.is_contiguous());
  auto rel = [](const at::Tensor& x, const at::Tensor& ref) {
    return (x - ref).norm().item<double>() / ref.norm().item<double>();
  };
  const double eps = 1.0 / 128;
  EXPECT_LT(rel(b.f, a.f), 4 * eps);
  EXPECT_LT(rel(b.grad, a.grad), 16 * eps);
  EXPECT_GT(rel(b.f, a.f), 6e-6) << "identical to float32: was bf16 used?";
}

Json graph_config(const std::string& sampler, const std::string& graph, double noise) {
  return {{"device", "cuda"},
          {"data", {{"type", "cifar10"}, {"path", "unused"}}},
          {"model", {{"type", "convnet"}, {"n_f", 4}}},
          {"sampler", {{"type", sampler}, {"step_size", 1.0}, {"noise_scale", noise}}},
          {"chains", {{"type", "noise"}}},
          {"train", {{"batch_size", 8}, {"mcmc_steps", 5}, {"cuda_graph", graph}}}};
}

// train.cuda_graph=on: captured at the second iteration, replayed after; a
// bf16 channels-last model trains the same way.
TEST(Cuda, GraphCaptureOfTheSamplerLoopTrains) {
  ANILA_REQUIRE_CUDA();
  ASSERT_TRUE(SamplerGraph::compiled()) << "CUDA LibTorch but anila built without ANILA_WITH_CUDA";
  for (const char* precision : {"float32", "bf16"}) {
    SCOPED_TRACE(precision);
    Json cfg = graph_config("anila", "on", 0.01);
    cfg["model"]["precision"] = precision;
    cfg["model"]["memory_format"] = "channels_last";
    RunSetup s = build_setup(cfg, random_images());
    auto trainer = make_trainer(s, s.config);
    std::vector<std::string> notices;
    trainer->set_notice_handler([&](const std::string& line) { notices.push_back(line); });
    for (int i = 0; i < 4; ++i) {
      IterationStats st = trainer->step(false);
      EXPECT_TRUE(std::isfinite(st.loss));
    }
    EXPECT_EQ(trainer->cuda_graph_status(), "captured") << (notices.empty() ? "" : notices[0]);
    EXPECT_TRUE(notices.empty());
    IterationStats logged = trainer->step(true);  // stats: eager, same trainer
    EXPECT_TRUE(logged.sampler.contains("grad_abs"));
  }
}

// With (almost) no noise the replayed graph and the eager loop compute the same
// K steps from the same start with the same parameters; after an optimizer step
// the replay sees the new parameters.
TEST(Cuda, GraphReplayMatchesTheEagerLoop) {
  ANILA_REQUIRE_CUDA();
  for (const char* sampler : {"langevin", "anila"}) {
    SCOPED_TRACE(sampler);
    RunSetup s = build_setup(graph_config(sampler, "on", 1e-6), random_images());
    auto graphed = make_trainer(s, s.config);
    graphed->step(false);
    graphed->step(false);  // captures
    ASSERT_EQ(graphed->cuda_graph_status(), "captured");
    at::Generator gen = make_generator(9, at::kCUDA);
    const at::Tensor z0 = graphed->chains()->noise(8, gen);
    SamplerStats stats;  // stats force the eager path on the same trainer
    const ChainState eager = graphed->run_chains(z0, &stats);
    const ChainState replay = graphed->run_chains(z0);
    EXPECT_FALSE(replay.grad.defined());  // the replayed path hands back z and f
    EXPECT_TRUE(at::allclose(replay.z, eager.z, 1e-3, 1e-4));
    EXPECT_TRUE(at::allclose(replay.f, eager.f, 1e-3, 1e-4));
    graphed->step(false);  // an optimizer step changes θ in place
    const ChainState eager2 = graphed->run_chains(z0, &stats);
    const ChainState replay2 = graphed->run_chains(z0);
    EXPECT_TRUE(at::allclose(replay2.z, eager2.z, 1e-3, 1e-4));
    EXPECT_FALSE(at::allclose(replay2.f, replay.f, 1e-6, 1e-9)) << "replay ignored new θ";
  }
}

TEST(Cuda, BenchReportsGraphAndMemory) {
  ANILA_REQUIRE_CUDA();
  Json cfg = graph_config("langevin", "on", 0.01);
  cfg["bench"] = {{"iterations", 1}, {"repeats", 1}, {"samplers", "langevin"}};
  BenchOptions o;
  Json out = bench_config(cfg, o);
  EXPECT_EQ(out["langevin"]["cuda_graph"], "captured");
  EXPECT_TRUE(out.contains("cuda_memory"));
}
