// test_image_runs.cpp — image EBM runs end to end through the library: resume
// is bit-identical on images (with a compact uint8 persistent bank), the run
// folder holds the long-run grid, chain-evolution strip, curves and FD/KID
// columns, TensorBoard records, `anila eval`'s library function, the bench on
// a config whose data is absent, and the ConvNet FLOP count against a hand count.
#include <chrono>
#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/config.h"
#include "anila/io/files.h"
#include "anila/io/image.h"
#include "anila/io/tensorboard.h"
#include "anila/models/convnet.h"
#include "anila/train/evaluate.h"
#include "anila/train/experiment.h"
#include "anila/train/setup.h"
#include "anila/train/trainer.h"
#include "test_util.h"
#include "train/image_metrics.h"

using namespace anila;
namespace fs = std::filesystem;

namespace {

const std::string kTinyFeatures = std::string(ANILA_SOURCE_DIR) + "/tests/data/tiny_features.pt";

// A tiny convnet image config on `images` (train split = the same file).
Json image_config(const std::string& images) {
  return Json::parse(R"({"seed": 5,
    "data": {"type": "idx", "path": ")" +
                     images + R"("},
    "model": {"type": "convnet", "n_f": 4},
    "sampler": {"type": "anila", "step_size": 1.0, "noise_scale": 0.01},
    "samplers": {"anila": {"threshold": 0.01}},
    "chains": {"type": "noise"},
    "train": {"iterations": 4, "batch_size": 8, "mcmc_steps": 3, "log_every": 2,
              "checkpoint_every": 2},
    "eval": {"every": 2, "samples": 12, "long_run_steps": 9}})");
}

class ImageRuns : public ::testing::Test {
 protected:
  void SetUp() override {
    images_ = tmp_ / "train-images-idx3-ubyte";
    test::write_idx_images(images_, 24);
  }
  test::TempDir tmp_{"anila_image_runs"};
  std::string images_;
};

}  // namespace

TEST_F(ImageRuns, ResumeIsBitIdenticalWithACompactBank) {
  Json cfg = image_config(images_);
  cfg["chains"] = {{"type", "persistent"}, {"bank_size", 16}, {"storage", "uint8"}};
  cfg["train"]["iterations"] = 6;
  cfg = resolve_config(cfg);
  RunSetup s = build_setup(cfg);
  auto straight = make_trainer(s, cfg);
  for (int i = 0; i < 6; ++i) straight->step(i % 2 == 0);

  auto first = make_trainer(s, cfg);
  for (int i = 0; i < 3; ++i) first->step(i % 2 == 0);
  first->save_checkpoint(tmp_ / "last.pt");
  auto second = make_trainer(s, cfg);
  second->load_checkpoint(tmp_ / "last.pt");
  ASSERT_EQ(second->iteration(), 3);
  for (int i = 3; i < 6; ++i) second->step(i % 2 == 0);

  auto pa = straight->model()->parameters(), pb = second->model()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(at::equal(pa[i], pb[i])) << "parameter " << i;
  const at::Tensor bank = second->chains()->state();
  EXPECT_EQ(bank.scalar_type(), at::kByte);
  EXPECT_TRUE(at::equal(straight->chains()->state(), bank));
}

TEST_F(ImageRuns, RunFolderHasLongRunStripCurvesFdColumnsAndTensorBoard) {
  Json cfg = image_config(images_);
  cfg["eval"]["features"] = kTinyFeatures;
  cfg["eval"]["fd_samples"] = 16;
  cfg["eval"]["fd_reference"] = 16;
  RunOptions ro;
  ro.out_dir = tmp_ / "run";
  ro.quiet = true;
  ro.tensorboard = true;
  const auto t0 = std::chrono::steady_clock::now();
  Json summary = run_experiment(cfg, ro);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string dir = ro.out_dir;
  for (const char* f : {"samples.png", "longrun.png", "longrun.npy", "chain.png", "curves.png",
                        "samples_it000002.png", "longrun_it000002.png", "chain_it000002.png"}) {
    EXPECT_TRUE(fs::exists(dir + "/" + f)) << f;
  }
  // Strip: 4 chains (rows) × steps 0, 0, 0, 1, 1, 1, 2, 2, 3 -> unique 0..3, then 6 and 9.
  const io::Image strip = io::read_png(dir + "/chain.png");
  EXPECT_GT(strip.height(), 4 * 2 * 28);
  EXPECT_GT(strip.width(), 6 * 2 * 28);
  EXPECT_LT(strip.width(), 7 * 2 * 28 + 200);
  EXPECT_EQ(io::read_npy(dir + "/longrun.npy").sizes(), (std::vector<int64_t>{12, 1, 28, 28}));

  // FD/KID with the tiny TorchScript features: columns, eval rows, summary.
  const std::string csv = io::read_text(dir + "/metrics.csv");
  const std::string header = csv.substr(0, csv.find('\n'));
  for (const char* c : {"fd_tiny_features", "kid_tiny_features", "kid_tiny_features_se"}) {
    EXPECT_NE(header.find(c), std::string::npos) << header;
  }
  ASSERT_TRUE(summary["fd_tiny_features"].is_number()) << summary.dump();
  EXPECT_GE(summary["fd_tiny_features"].get<double>(), 0.0);
  EXPECT_TRUE(summary["kid_tiny_features"].is_number());
  EXPECT_EQ(summary["features"], "torchscript:tiny_features.pt");
  int eval_rows = 0;
  std::istringstream lines(io::read_text(dir + "/metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    Json row = Json::parse(line);
    if (row.contains("fd_tiny_features") && row["fd_tiny_features"].is_number()) ++eval_rows;
  }
  EXPECT_EQ(eval_rows, 2);  // iteration 2 and the final row

  // Where the time went: the feature/reference phase, in-run and final FD all
  // take time, and the phases add up to no more than the run's wall time.
  const Json& t = summary["time_s"];
  for (const char* k : {"features", "training", "evaluations", "final", "final_fd"}) {
    EXPECT_GT(t[k].get<double>(), 0.0) << k << " " << t.dump();
  }
  EXPECT_LE(t["final_fd"].get<double>(), t["final"].get<double>());
  const double phases = t["startup"].get<double>() + t["features"].get<double>() +
                        t["training"].get<double>() + t["evaluations"].get<double>() +
                        t["final"].get<double>();
  EXPECT_LE(phases, wall);
  EXPECT_GT(phases, 0.5 * wall);

  // TensorBoard: every metrics row's scalars, and the sample grids.
  std::string events;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) events = e.path();
  }
  ASSERT_FALSE(events.empty());
  auto records = io::read_tensorboard_events(events);
  int loss = 0, grids = 0;
  for (const auto& r : records) {
    for (const auto& [tag, v] : r.scalars) loss += tag == "loss";
    for (const auto& im : r.images) grids += std::get<0>(im) == "samples";
  }
  EXPECT_EQ(loss, 3);   // iterations 1, 2, 4
  EXPECT_EQ(grids, 2);  // iteration 2 and the end
}

TEST_F(ImageRuns, FdSeparatesDataFromNoise) {
  Json section = {{"type", "idx"}, {"path", images_}};
  ImageMetrics metrics(kTinyFeatures, section, at::kCPU, /*max_reference=*/0, /*quiet=*/true);
  EXPECT_EQ(metrics.reference_size(), 24);
  const at::Tensor data = data::load_image_dataset(section).images;
  at::Generator gen = make_generator(3, at::kCPU);
  const at::Tensor noise = at::rand({24, 1, 28, 28}, gen) * 2 - 1;
  const double fd_data = metrics.evaluate(data, 1)["fd_tiny_features"].get<double>();
  const double fd_noise = metrics.evaluate(noise, 1)["fd_tiny_features"].get<double>();
  EXPECT_NEAR(fd_data, 0.0, 1e-6);  // the reference set itself
  EXPECT_GT(fd_noise, 100 * std::max(fd_data, 1e-9));
}

TEST_F(ImageRuns, EvalCommandWritesJsonAndRejects2DRuns) {
  RunOptions ro;
  ro.out_dir = tmp_ / "run";
  ro.quiet = true;
  run_experiment(image_config(images_), ro);
  ImageEvalOptions o;
  o.n = 10;
  o.batch = 4;
  o.features = kTinyFeatures;
  o.sampler = "langevin";
  o.quiet = true;
  Json r = evaluate_checkpoint(ro.out_dir, o);
  EXPECT_TRUE(r["fd_tiny_features"].is_number());
  EXPECT_EQ(r["n"], 10);
  EXPECT_EQ(r["steps"], 3);
  EXPECT_TRUE(fs::exists(ro.out_dir + "/eval-langevin/eval.json"));
  EXPECT_TRUE(fs::exists(ro.out_dir + "/eval-langevin/samples.png"));

  RunOptions r2;
  r2.out_dir = tmp_ / "rings";
  r2.quiet = true;
  run_experiment({{"data", {{"type", "rings"}}},
                  {"train", {{"iterations", 2}, {"batch_size", 10}, {"mcmc_steps", 2}}},
                  {"eval", {{"samples", 20}, {"chains", 20}, {"n_data", 20}, {"n_mmd", 20}}}},
                 r2);
  EXPECT_NE(test::user_error_message([&] { evaluate_checkpoint(r2.out_dir, o); }).find("2D run"),
            std::string::npos);
}

TEST_F(ImageRuns, ConfigErrorsForFeaturesAndLongRun) {
  Json cfg = image_config(images_);
  cfg["eval"]["features"] = tmp_ / "missing.pt";
  EXPECT_NE(test::user_error_message([&] { resolve_config(cfg); }).find("eval.features"),
            std::string::npos);
  cfg = image_config(images_);
  cfg["eval"]["long_run_steps"] = 2;  // fewer than K = 3
  EXPECT_NE(test::user_error_message([&] { resolve_config(cfg); }).find("eval.long_run_steps"),
            std::string::npos);
  Json rings = {{"data", {{"type", "rings"}}}, {"eval", {{"features", "fmnist"}}}};
  EXPECT_NE(test::user_error_message([&] { resolve_config(rings); }).find("eval.features"),
            std::string::npos);
}

TEST(ImageBench, TimesAConfigWhoseDataIsAbsentOnRandomStandIns) {
  Json cfg = {{"data", {{"type", "cifar10"}, {"path", "/nonexistent/cifar"}}},
              {"model", {{"type", "convnet"}, {"n_f", 2}}},
              {"sampler", {{"type", "anila"}, {"step_size", 1.0}, {"noise_scale", 0.01}}},
              {"train", {{"batch_size", 3}, {"mcmc_steps", 2}}},
              {"bench", {{"batch_size", 4}, {"iterations", 1}, {"repeats", 1}}}};
  Json r = bench_config(cfg, BenchOptions{});
  EXPECT_NE(r["data_note"].get<std::string>().find("3x32x32"), std::string::npos);
  EXPECT_EQ(r["batch_size"], 4);
  for (const char* s : {"langevin", "anila"}) {
    ASSERT_TRUE(r.contains(s));
    EXPECT_GT(r[s]["ms_per_step"].get<double>(), 0);
    // A timed step is one sampler update: the chains' start is not in it (with
    // K = 2 it would make 1.5 evaluations per step).
    EXPECT_EQ(r[s]["gradient_evaluations_per_step"].get<double>(), 1.0);
    // 2 × forward FLOPs × M = 2 × 4 × (hand count for n_f = 2 below) / 1e9.
    EXPECT_NEAR(r[s]["gflop_per_step"].get<double>(), 2.0 * 4 * 307712 / 1e9, 1e-12);
  }
  EXPECT_TRUE(r.contains("anila_overhead_percent"));
}

TEST(ConvNetFlops, MatchesAHandCount) {
  // n_f = 32, 3×32×32: 2·C_in·C_out·k²·out_pixels per conv.
  ConvNetOptions o;
  o.n_f = 32;
  o.channels = 3;
  o.size = 32;
  const double expected = 2.0 * 3 * 32 * 9 * 32 * 32      // conv0 3x3 -> 32x32
                          + 2.0 * 32 * 64 * 16 * 16 * 16  // conv1 4x4/2 -> 16x16
                          + 2.0 * 64 * 128 * 16 * 8 * 8   // conv2 -> 8x8
                          + 2.0 * 128 * 256 * 16 * 4 * 4  // conv3 -> 4x4
                          + 2.0 * 256 * 1 * 16;           // conv4 4x4 valid -> 1x1
  EXPECT_EQ(ConvNetEnergy(o).forward_flops(), expected);
  EXPECT_EQ(expected, 52109312.0);
  // n_f = 2, the bench test above: 2·3·2·9·1024 + 2·2·4·16·256 + 2·4·8·16·64 + 2·8·16·16·16 +
  // 2·16·16.
  o.n_f = 2;
  EXPECT_EQ(ConvNetEnergy(o).forward_flops(), 307712.0);
}
