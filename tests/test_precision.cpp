// test_precision.cpp — model.precision (bf16 autocast), model.memory_format
// (channels_last) and train.cuda_graph on the CPU.
//
// Tolerances: bfloat16 keeps 8 significant bits, unit roundoff u = 2^-8 (spacing
// ε = 2^-7). A ConvNet with bf16 inputs and weights (products accumulated in float32
// by oneDNN) rounds each layer's input and weights once, a relative error of about u
// each, random in sign: over the 5 layers of f about √10·u ≈ 0.012 (L2 over the
// batch); we allow 4ε = 0.031 (measured 0.002–0.013 over 4 seeds, n_f 8 and 32).
// ∇_z f goes through the layers twice, and at a random initialisation it is a sum of
// many terms of both signs whose norm is several times smaller than the terms', so
// the same roundings are larger relative to it: measured 0.063–0.074 (cosine to the
// float32 gradient ≥ 0.997) over the same 8 cases; we allow 16ε = 0.125. The errors
// must also be clearly non-zero (> 100× float32's 6e-8): bf16 really ran.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "anila/data/images.h"
#include "anila/models/energy.h"
#include "anila/samplers/sampler.h"
#include "anila/train/setup.h"
#include "anila/train/trainer.h"
#include "cli_run.h"
#include "test_util.h"

namespace anila {
namespace {

constexpr double kBf16Eps = 1.0 / 128;  // 2^-7

double rel_err(const at::Tensor& a, const at::Tensor& ref) {
  return (a.to(at::kDouble) - ref.to(at::kDouble)).norm().item<double>() /
         ref.to(at::kDouble).norm().item<double>();
}

EnergyModelPtr seeded_model(const Json& section, const std::vector<int64_t>& shape) {
  at::manual_seed(0);
  return make_model(section, shape);
}

TEST(Precision, Bf16ValueAndGradientCloseToFloat32OnConvNet) {
  const Json base = {{"type", "convnet"}, {"n_f", 8}};
  Json bf = base;
  bf["precision"] = "bf16";
  EnergyModelPtr f32 = seeded_model(base, {3, 32, 32});
  EnergyModelPtr b16 = seeded_model(bf, {3, 32, 32});
  at::Generator gen = make_generator(1, at::kCPU);
  const at::Tensor z = at::rand({8, 3, 32, 32}, gen) * 2 - 1;
  const LogDensityValue a = f32->value_and_grad(z);
  const LogDensityValue b = b16->value_and_grad(z);
  EXPECT_EQ(b.f.scalar_type(), at::kFloat);
  EXPECT_EQ(b.grad.scalar_type(), at::kFloat);
  EXPECT_TRUE(b.grad.is_contiguous());
  const double ef = rel_err(b.f, a.f), eg = rel_err(b.grad, a.grad);
  EXPECT_LT(ef, 4 * kBf16Eps) << "f";
  EXPECT_LT(eg, 16 * kBf16Eps) << "grad";
  EXPECT_GT(ef, 6e-6) << "f identical to float32: was bf16 used?";
  EXPECT_GT(eg, 6e-6) << "grad identical to float32: was bf16 used?";
  // energy() (the loss and value-only path) agrees with value_and_grad's f.
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::allclose(b16->energy(z), b.f, 1e-5, 1e-6));
}

TEST(Precision, ChannelsLastGivesTheSameValuesAndAContiguousGradient) {
  for (const char* type : {"convnet", "resnet"}) {
    SCOPED_TRACE(type);
    const Json base = {{"type", type}, {"n_f", 4}};
    Json cl = base;
    cl["memory_format"] = "channels_last";
    EnergyModelPtr a = seeded_model(base, {3, 32, 32});
    EnergyModelPtr b = seeded_model(cl, {3, 32, 32});
    for (const auto& p : b->parameters()) {
      if (p.dim() == 4) EXPECT_TRUE(p.is_contiguous(at::MemoryFormat::ChannelsLast));
    }
    at::Generator gen = make_generator(2, at::kCPU);
    const at::Tensor z = at::rand({4, 3, 32, 32}, gen) * 2 - 1;
    const LogDensityValue va = a->value_and_grad(z), vb = b->value_and_grad(z);
    EXPECT_TRUE(vb.grad.is_contiguous());
    EXPECT_TRUE(at::allclose(va.f, vb.f, 1e-4, 1e-5));
    EXPECT_TRUE(at::allclose(va.grad, vb.grad, 1e-4, 1e-6));
  }
}

// Every sampler on a bf16 model keeps z, f and ∇f in float32 (MH ratios and γ
// are computed from float32 values).
TEST(Precision, Bf16KeepsChainStatesAndFInFloat32) {
  EnergyModelPtr model =
      seeded_model({{"type", "resnet"}, {"n_f", 4}, {"precision", "bf16"}, {"spectral_norm", true}},
                   {1, 28, 28});
  ModelLogDensity logp(model);
  for (const auto& type : sampler_types()) {
    SCOPED_TRACE(type);
    Json options = {{"type", type}, {"step_size", 0.01}};
    if (type == "hmc") options["leapfrog_steps"] = 2;
    SamplerPtr sampler = make_sampler(options);
    at::Generator gen = make_generator(3, at::kCPU);
    ChainState state = ChainState::start(at::zeros({3, 1, 28, 28}), logp);
    sampler->run(state, logp, 2, gen);
    EXPECT_EQ(state.z.scalar_type(), at::kFloat);
    EXPECT_EQ(state.f.scalar_type(), at::kFloat);
    EXPECT_EQ(state.grad.scalar_type(), at::kFloat);
    EXPECT_EQ(logp.value(state.z).scalar_type(), at::kFloat);
    EXPECT_TRUE(at::isfinite(state.z).all().item<bool>());
  }
}

// Langevin chains on a fixed ConvNet, bf16 vs float32, same seeds (so the same
// noise): the sample mean, standard deviation and mean f after K steps must agree
// within 3 Monte Carlo standard errors of independent chains (a conservative bound:
// the coupled runs differ far less), and must differ at all (bf16 ran).
TEST(Precision, LangevinSampleStatisticsBf16MatchFloat32) {
  const Json base = {{"type", "convnet"}, {"n_f", 8}, {"negative_slope", 0.2}};
  Json bf = base;
  bf["precision"] = "bf16";
  EnergyModelPtr f32 = seeded_model(base, {1, 28, 28});
  EnergyModelPtr b16 = seeded_model(bf, {1, 28, 28});
  // Step size large enough that the drift matters: s/2·|∇f| comparable to ε√s.
  SamplerPtr sampler =
      make_sampler(Json{{"type", "langevin"}, {"step_size", 1.0}, {"noise_scale", 0.05}});
  constexpr int64_t kChains = 64, kSteps = 20;
  auto run = [&](const EnergyModelPtr& model) {
    ModelLogDensity logp(model);
    at::Generator init = make_generator(4, at::kCPU);
    at::Generator gen = make_generator(5, at::kCPU);
    ChainState state = ChainState::start(at::rand({kChains, 1, 28, 28}, init) * 2 - 1, logp);
    sampler->run(state, logp, kSteps, gen);
    return state;
  };
  const ChainState a = run(f32), b = run(b16);
  // Per-chain means are the independent units: B = 64 of them.
  const at::Tensor ma = a.z.flatten(1).mean(1), mb = b.z.flatten(1).mean(1);
  const at::Tensor sa = a.z.flatten(1).std(1), sb = b.z.flatten(1).std(1);
  const double n = double(kChains);
  auto se = [&](const at::Tensor& x) { return x.std().item<double>() / std::sqrt(n); };
  EXPECT_LT(std::abs(ma.mean().item<double>() - mb.mean().item<double>()), 3 * se(ma));
  EXPECT_LT(std::abs(sa.mean().item<double>() - sb.mean().item<double>()), 3 * se(sa));
  EXPECT_LT(std::abs(a.f.mean().item<double>() - b.f.mean().item<double>()), 3 * se(a.f));
  EXPECT_FALSE(at::equal(a.z, b.z)) << "bf16 chains identical to float32: was bf16 used?";
}

TEST(Precision, ConfigRecordsPrecisionAndRejectsBadValues) {
  EnergyModelPtr m =
      make_model({{"type", "convnet"}, {"n_f", 4}, {"precision", "bf16"}}, {1, 28, 28});
  const Json j = m->to_json();
  EXPECT_EQ(j["precision"], "bf16");
  EXPECT_EQ(j["memory_format"], "contiguous");
  EXPECT_EQ(make_model(j, {1, 28, 28})->to_json(), j);
  std::string msg = test::user_error_message([] {
    make_model({{"type", "convnet"}, {"precision", "fp16"}}, {1, 28, 28});
  });
  EXPECT_NE(msg.find("model.precision: unknown value \"fp16\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("allowed: float32, bf16"), std::string::npos) << msg;
  msg = test::user_error_message([] {
    make_model({{"type", "resnet"}, {"memory_format", "nhwc"}}, {1, 28, 28});
  });
  EXPECT_NE(msg.find("allowed: contiguous, channels_last"), std::string::npos) << msg;
  msg = test::user_error_message([] { make_model({{"type", "mlp"}, {"precision", "bf16"}}, {2}); });
  EXPECT_NE(msg.find("model.precision: bf16 is for the image models"), std::string::npos) << msg;
  msg = test::user_error_message([] { build_setup(Json{{"train", {{"cuda_graph", "yes"}}}}); });
  EXPECT_NE(msg.find("train.cuda_graph: unknown value \"yes\""), std::string::npos) << msg;
  // The resolved config of a run records both.
  EXPECT_EQ(build_setup(Json::object()).config["train"]["cuda_graph"], "auto");
}

// A bf16 channels-last run resumed from a checkpoint continues bit-identically
// (loading swaps in contiguous tensors; the trainer converts them back).
TEST(Precision, Bf16ChannelsLastResumeIsBitIdentical) {
  auto images = std::make_shared<data::ImageDataset>();
  at::Generator g = make_generator(7, at::kCPU);
  images->images = at::rand({16, 3, 32, 32}, g) * 2 - 1;
  images->name = "random";
  const Json cfg = {{"data", {{"type", "cifar10"}, {"path", "unused"}}},
                    {"model",
                     {{"type", "convnet"},
                      {"n_f", 4},
                      {"precision", "bf16"},
                      {"memory_format", "channels_last"}}},
                    {"sampler", {{"type", "langevin"}, {"step_size", 1.0}, {"noise_scale", 0.01}}},
                    {"chains", {{"type", "noise"}}},
                    {"train", {{"batch_size", 8}, {"mcmc_steps", 3}, {"iterations", 6}}}};
  RunSetup s = build_setup(cfg, images);
  auto straight = make_trainer(s, s.config);
  for (int i = 0; i < 6; ++i) straight->step(i % 2 == 0);
  test::TempDir dir("anila_precision");
  auto first = make_trainer(s, s.config);
  for (int i = 0; i < 3; ++i) first->step(i % 2 == 0);
  first->save_checkpoint(dir / "last.pt");
  auto second = make_trainer(s, s.config);
  second->load_checkpoint(dir / "last.pt");
  for (const auto& p : second->model()->parameters()) {
    if (p.dim() == 4) EXPECT_TRUE(p.is_contiguous(at::MemoryFormat::ChannelsLast));
  }
  for (int i = 3; i < 6; ++i) second->step(i % 2 == 0);
  auto pa = straight->model()->parameters(), pb = second->model()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(at::equal(pa[i], pb[i])) << "parameter " << i;
}

// train.cuda_graph on the CPU: the loop runs eagerly; "on" says so once, "auto"
// stays quiet, "off" is off.
TEST(CudaGraph, FallsBackOnCpuAndSaysSoOnce) {
  for (const char* mode : {"on", "auto", "off"}) {
    SCOPED_TRACE(mode);
    Json cfg = {{"model", {{"hidden", {8}}}},
                {"train", {{"batch_size", 8}, {"mcmc_steps", 2}, {"cuda_graph", mode}}}};
    RunSetup s = build_setup(cfg);
    EXPECT_EQ(s.config["train"]["cuda_graph"], mode);
    auto trainer = make_trainer(s, s.config);
    std::vector<std::string> notices;
    trainer->set_notice_handler([&](const std::string& line) { notices.push_back(line); });
    for (int i = 0; i < 3; ++i) trainer->step(false);
    EXPECT_EQ(trainer->cuda_graph_status(),
              std::string(mode) == "off" ? "off" : "eager (cpu device)");
    if (std::string(mode) == "on") {
      ASSERT_EQ(notices.size(), 1u);
      EXPECT_NE(notices[0].find("train.cuda_graph=on: the K-step sampler loop runs eager (cpu"),
                std::string::npos)
          << notices[0];
    } else {
      EXPECT_TRUE(notices.empty());
    }
  }
}

// The CLI: a bf16 image run records its precision; a bad value is one line, exit 2;
// cuda_graph=on on the CPU prints its notice once.
TEST(PrecisionCli, Bf16RunRecordsPrecisionAndBadValueIsOneLine) {
  test::TempDir dir("anila_precision");
  const std::string images = dir / "train-images-idx3-ubyte";
  test::write_idx_images(images, 16);
  const std::string cfg = dir / "img.json";
  std::ofstream(cfg) << R"({"seed": 2, "data": {"type": "idx", "path": ")" + images + R"("},
    "model": {"type": "convnet", "n_f": 4, "precision": "bf16", "memory_format": "channels_last"},
    "sampler": {"type": "langevin", "step_size": 1.0, "noise_scale": 0.01},
    "chains": {"type": "noise"},
    "train": {"iterations": 3, "batch_size": 8, "mcmc_steps": 3, "log_every": 1,
              "cuda_graph": "on"},
    "eval": {"every": 0, "samples": 8, "long_run_steps": 0}})";
  const std::string out = dir / "run";
  test::Result r = test::run("train --quiet --config " + cfg + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  const Json resolved = Json::parse(std::ifstream(out + "/config.json"));
  EXPECT_EQ(resolved["model"]["precision"], "bf16");
  EXPECT_EQ(resolved["model"]["memory_format"], "channels_last");
  const std::string notice = "train.cuda_graph=on";
  const size_t at = r.output.find(notice);
  EXPECT_NE(at, std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(notice, at + 1), std::string::npos) << "said more than once:\n"
                                                              << r.output;

  test::Result bad = test::run("train --quiet --config " + cfg +
                               " --set model.precision=half --out " + dir / "bad");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("model.precision: unknown value \"half\""), std::string::npos)
      << bad.output;
  EXPECT_EQ(std::count(bad.output.begin(), bad.output.end(), '\n'), 1) << bad.output;
}

}  // namespace
}  // namespace anila
