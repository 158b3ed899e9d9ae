// test_cuda.cpp — the same code on a CUDA device: model gradients agree with
// the CPU's, every sampler keeps its state on the device, and a training
// iteration of an image model runs there. Skipped (GTEST_SKIP, reported as
// skipped) when this build of LibTorch sees no CUDA device, e.g. Debian's
// CPU-only LibTorch; run on a machine built against a CUDA LibTorch 2.x.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "anila/chains/chain_source.h"
#include "anila/models/energy.h"
#include "anila/samplers/sampler.h"
#include "anila/train/experiment.h"
#include "anila/train/setup.h"

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

TEST(Cuda, ImageTrainingIterationRunsOnTheDevice) {
  ANILA_REQUIRE_CUDA();
  auto images = std::make_shared<data::ImageDataset>();
  images->images = at::rand({32, 3, 32, 32}) * 2 - 1;
  images->name = "random";
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
