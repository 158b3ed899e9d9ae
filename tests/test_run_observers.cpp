// test_run_observers.cpp — what the run loop's observers add to a run: the
// divergence guard (fires on the rings/Langevin s = 1 blow-up, stays quiet on the
// shipped configs' healthy starts, rollback), the EMA of the parameters (closed
// form, resume bit-identical, used by evaluations), best-checkpoint keeping (the
// argmin of the evaluations, resume bit-identical, loadable), image augmentation
// and the ConvNet's spectral norm.
#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/chains/chain_source.h"
#include "anila/config.h"
#include "anila/io/files.h"
#include "anila/models/convnet.h"
#include "anila/train/experiment.h"
#include "anila/train/setup.h"
#include "anila/train/trainer.h"
#include "cli_run.h"
#include "test_util.h"
#include "train/divergence.h"

using namespace anila;
namespace fs = std::filesystem;

namespace {

Json shipped(const std::string& name) {
  return load_json_file(std::string(ANILA_SOURCE_DIR) + "/configs/" + name + ".json");
}

// configs/rings_tuned.json (the unit-temperature short-run rings, ε = 1) with
// Langevin at AniLA's step size (s = 1): the blow-up of the issue, made quicker (K = 10, lr 1e-3:
// it starts near iteration 470 instead of 4,600) and with a cheap final evaluation.
Json rings_langevin_s1(int64_t iterations) {
  Json c = config_for_sampler(shipped("rings_tuned"), "langevin");
  c["samplers"]["langevin"]["step_size"] = 1.0;
  c["train"]["mcmc_steps"] = 10;
  c["train"]["optimizer"]["lr"] = 1e-3;
  c["train"]["iterations"] = iterations;
  c["train"]["log_every"] = 10;
  c["eval"] = {{"every", 0}, {"samples", 500}, {"n_data", 500}, {"resolution", 32}, {"n_mmd", 100}};
  return c;
}

Json read_summary(const std::string& dir) {
  return Json::parse(io::read_text(dir + "/summary.json"));
}

RunOptions quiet_run(const std::string& dir) {
  RunOptions o;
  o.out_dir = dir;
  o.quiet = true;
  return o;
}

// A small 2D run with evaluations every 10 iterations.
Json small_2d(int64_t iterations) {
  return Json::parse(R"({"seed": 3, "data": {"type": "rings"},
    "model": {"type": "mlp", "hidden": [16, 16]},
    "sampler": {"type": "langevin", "step_size": 0.02, "noise_scale": 1.0},
    "chains": {"type": "persistent", "bank_size": 200, "init": "uniform", "scale": 5.0},
    "train": {"iterations": )" +
                     std::to_string(iterations) + R"(, "batch_size": 50, "mcmc_steps": 5,
              "checkpoint_every": 20, "log_every": 10, "optimizer": {"type": "adam", "lr": 3e-3}},
    "eval": {"every": 10, "chains": 200, "samples": 200, "n_data": 500, "resolution": 32,
             "n_mmd": 100}})");
}

std::vector<at::Tensor> params_of(const EnergyModelPtr& m) {
  std::vector<at::Tensor> out;
  for (const auto& p : m->parameters()) out.push_back(p.detach().clone());
  return out;
}

void expect_same(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i], b[i])) << "tensor " << i;
}

}  // namespace

// ---- the divergence guard ----

TEST(DivergenceGuard, CatchesASteadyExponentialGrowthWithinTwoWindows) {
  DivergenceOptions o;  // defaults: window 50, energy ×100
  DivergenceGuard guard(o);
  at::Generator gen = make_generator(1, at::kCPU);
  // 200 healthy iterations: energies ~2 with noise, gradient ~1.
  for (int i = 0; i < 200; ++i) {
    const double u = at::randn({2}, gen, at::kDouble)[0].item<double>();
    ASSERT_EQ(guard.check(-2 + 0.3 * u, -2.1 + 0.3 * u, 1 + 0.2 * std::abs(u)), "") << i;
  }
  // Then f(z) grows by 6 % per iteration (the rings blow-up's rate): a running mean
  // of the latest values would follow it; the lagged scale must not.
  int fired = -1;
  double v = 2;
  for (int i = 0; i < 300 && fired < 0; ++i) {
    v *= 1.06;
    if (!guard.check(-2, -v, 1).empty()) fired = i;
  }
  ASSERT_GE(fired, 0) << "the guard never fired on a 6 %/iteration growth";
  // No check fires below factor × floor = 100 × 10: the gap |v − 2| passes 1000 at
  // i = ln(501)/ln(1.06) − 1 ≈ 105.6. The lagged scale is at most 100 iterations old, and
  // 1.06^100 ≈ 339 > 100, so it fires within two windows (100 iterations) of that.
  EXPECT_GE(fired, 105);
  EXPECT_LE(fired, 206);
}

TEST(DivergenceGuard, StateRoundTripsAndChainRangeUsesTheData) {
  DivergenceOptions o;
  DivergenceGuard a(o), b(o);
  a.observe_data(at::tensor({-3.0, 2.0}));
  for (int i = 0; i < 120; ++i) a.check(-1, -1.5, 2);
  b.set_state(a.state());
  EXPECT_TRUE(at::equal(a.state(), b.state()));
  EXPECT_DOUBLE_EQ(b.chain_limit(), 300.0);  // 100 × the largest |coordinate| 3
  EXPECT_FALSE(b.chains_out_of_range(at::full({4, 2}, 299.0)));
  EXPECT_TRUE(b.chains_out_of_range(at::full({4, 2}, -301.0)));
}

TEST(DivergenceGuard, FiresOnLangevinAtS1OnRingsAndStopsWithExitThree) {
  test::TempDir tmp("anila_guard");
  const std::string dir = tmp / "run";
  try {
    run_experiment(rings_langevin_s1(700), quiet_run(dir));
    FAIL() << "expected the divergence guard to stop the run";
  } catch (const DivergedError& e) {
    EXPECT_NE(std::string(e.what()).find("divergence guard"), std::string::npos) << e.what();
  }
  const Json s = read_summary(dir);
  EXPECT_EQ(s["status"], "diverged");
  EXPECT_LT(s["iteration"].get<int64_t>(), 700);
  // The same run without the guard "completes" with exploded energies: the guard,
  // not a NaN, is what stopped it.
  Json off = rings_langevin_s1(700);
  off["train"]["divergence"] = {
      {"energy_factor", 0}, {"gap_factor", 0}, {"grad_factor", 0}, {"chain_range", 0}};
  run_experiment(off, quiet_run(tmp / "off"));
  EXPECT_EQ(read_summary(tmp / "off")["status"], "completed");
  double worst = 0;
  std::istringstream rows(io::read_text(tmp / "off/metrics.jsonl"));
  for (std::string line; std::getline(rows, line);) {
    const Json r = Json::parse(line);
    if (r.contains("loss")) worst = std::max(worst, std::abs(r["loss"].get<double>()));
  }
  EXPECT_GT(worst, 1e4);
}

TEST(DivergenceGuard, CliExitsThreeKeepingTheCheckpoint) {
  test::TempDir tmp("anila_guard_cli");
  const std::string cfg = tmp / "c.json";
  Json c = rings_langevin_s1(700);
  c["train"]["checkpoint_every"] = 200;
  std::ofstream(cfg) << c.dump();
  const auto r = test::run("train --config " + cfg + " --out " + (tmp / "run") + " --quiet");
  EXPECT_EQ(r.code, kExitDiverged) << r.output;
  EXPECT_NE(r.output.find("last good checkpoint: iteration 400"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "run/checkpoints/last.pt"));
}

TEST(DivergenceGuard, RollbackRestoresTheCheckpointAndScalesTheLearningRate) {
  test::TempDir tmp("anila_rollback");
  Json c = rings_langevin_s1(700);
  c["train"]["checkpoint_every"] = 100;
  c["train"]["on_divergence"] = "rollback";
  c["train"]["divergence"] = {{"lr_factor", 0.1}, {"max_rollbacks", 2}};
  Json summary;
  try {
    summary = run_experiment(c, quiet_run(tmp / "run"));
  } catch (const DivergedError&) {
    summary = read_summary(tmp / "run");  // diverged again after its rollbacks
  }
  ASSERT_TRUE(summary.contains("rollbacks")) << summary.dump();
  const Json& first = summary["rollbacks"][0];
  EXPECT_EQ(first["restored_iteration"].get<int64_t>() % 100, 0);
  EXPECT_LT(first["restored_iteration"].get<int64_t>(), first["iteration"].get<int64_t>());
  EXPECT_DOUBLE_EQ(first["lr_scale"].get<double>(), 0.1);
  EXPECT_LE(summary["rollbacks"].size(), 2u);
  if (summary["status"] == "completed") {
    // The learning rate of the rows after the rollback is the scaled one.
    std::istringstream rows(io::read_text(tmp / "run/metrics.jsonl"));
    std::string line, last;
    while (std::getline(rows, line)) {
      if (Json::parse(line).contains("lr")) last = line;
    }
    EXPECT_NEAR(Json::parse(last)["lr"].get<double>(), 1e-3 * 0.1, 1e-12);
  }
}

namespace {

// Trains `config` for `iterations` with the default guard; a divergence is a failure.
void train_without_divergence(Json config, int64_t iterations, const std::string& label) {
  config = resolve_config(config);
  RunSetup s = build_setup(config);
  auto trainer = make_trainer(s, config);
  try {
    while (trainer->iteration() < iterations) trainer->step(false);
  } catch (const DivergedError& e) {
    ADD_FAILURE() << label << ": " << e.what();
  }
}

}  // namespace

// The defaults stay quiet on the shipped configs' healthy runs: the 2D configs
// (K capped at 10 to keep the test short) and configs/fashion_mnist.json on tiny data.
TEST(DivergenceGuard, DefaultsDoNotFireOnShippedConfigs) {
  for (const std::string name : {"demo", "rings", "rings_convergent", "rings_tuned", "gmm"}) {
    for (const std::string sampler : {"langevin", "anila"}) {
      Json c = config_for_sampler(shipped(name), sampler);
      c["train"]["iterations"] = 120;  // the ratio checks run from iteration 51 on
      c["train"]["mcmc_steps"] = std::min<int64_t>(10, c["train"]["mcmc_steps"].get<int64_t>());
      train_without_divergence(c, 120, name + " / " + sampler);
    }
  }
  // configs/fashion_mnist.json on 24 synthetic images, narrower and with small batches.
  test::TempDir tmp("anila_guard_images");
  test::write_idx_images(tmp / "train-images-idx3-ubyte", 24);
  for (const std::string sampler : {"langevin", "anila"}) {
    Json c = config_for_sampler(shipped("fashion_mnist"), sampler);
    c["data"]["path"] = tmp / "train-images-idx3-ubyte";
    c["model"]["n_f"] = 4;
    c["threads"] = 1;
    c["train"]["iterations"] = 150;
    c["train"]["batch_size"] = 8;
    c["eval"]["features"] = "";
    train_without_divergence(c, 150, "fashion_mnist / " + sampler);
  }
}

// ---- EMA of the parameters ----

TEST(Ema, FollowsTheClosedFormAndResumesBitIdentically) {
  Json c = small_2d(12);
  c["train"]["ema"] = 0.9;
  c["chains"]["type"] = "replay";
  c = resolve_config(c);
  RunSetup s = build_setup(c);
  auto t = make_trainer(s, c);
  const auto p0 = params_of(t->model());
  t->step(false);
  const auto p1 = params_of(t->model());
  t->step(false);
  const auto p2 = params_of(t->model());
  t->swap_ema();
  const auto e2 = params_of(t->model());
  t->swap_ema();
  // Warm-up: update 0 uses min(0.9, 1/10), update 1 uses min(0.9, 2/11).
  const double d0 = 0.1, d1 = 2.0 / 11.0;
  for (size_t i = 0; i < p0.size(); ++i) {
    const at::Tensor e1 = d0 * p0[i] + (1 - d0) * p1[i];
    EXPECT_TRUE(at::allclose(e2[i], d1 * e1 + (1 - d1) * p2[i], 1e-6, 1e-7)) << i;
  }
  expect_same(params_of(t->model()), p2);  // two swaps restore the weights exactly

  // Without warm-up the decay is the configured one from the first update.
  Json plain = c;
  plain["train"]["ema_warmup"] = false;
  plain = resolve_config(plain);
  RunSetup plain_setup = build_setup(plain);
  auto u = make_trainer(plain_setup, plain);
  u->step(false);
  const auto q1 = params_of(u->model());
  u->swap_ema();
  const auto f1 = params_of(u->model());
  for (size_t i = 0; i < p0.size(); ++i) {
    EXPECT_TRUE(at::allclose(f1[i], 0.9 * p0[i] + 0.1 * q1[i], 1e-6, 1e-7)) << i;
  }

  auto straight = make_trainer(s, c);
  for (int i = 0; i < 12; ++i) straight->step(i % 5 == 0);
  test::TempDir tmp("anila_ema");
  auto first = make_trainer(s, c);
  for (int i = 0; i < 6; ++i) first->step(i % 5 == 0);
  first->save_checkpoint(tmp / "last.pt");
  auto second = make_trainer(s, c);
  second->load_checkpoint(tmp / "last.pt");
  for (int i = 6; i < 12; ++i) second->step(i % 5 == 0);
  expect_same(params_of(straight->model()), params_of(second->model()));
  straight->swap_ema();
  second->swap_ema();
  expect_same(params_of(straight->model()), params_of(second->model()));
}

TEST(Ema, EvaluationsAndLoadedRunsUseTheEmaWeights) {
  test::TempDir tmp("anila_ema_run");
  Json c = small_2d(20);
  c["train"]["ema"] = 0.95;
  const Json summary = run_experiment(c, quiet_run(tmp / "run"));
  EXPECT_EQ(summary["weights"], "ema");
  LoadedRun ema = load_run(tmp / "run");
  LoadedRun raw = load_run(tmp / "run", "raw");
  EXPECT_EQ(ema.weights, "ema");
  EXPECT_EQ(raw.weights, "raw");
  EXPECT_FALSE(at::equal(ema.model->parameters()[0], raw.model->parameters()[0]));
  c["train"]["ema_weights"] = false;
  EXPECT_EQ(run_experiment(c, quiet_run(tmp / "off"))["weights"], "raw");
  c["train"]["ema"] = 0;
  run_experiment(c, quiet_run(tmp / "none"));
  EXPECT_THROW(load_run(tmp / "none", "ema"), UserError);
}

// ---- best checkpoint ----

TEST(BestCheckpoint, KeepsTheLowestKlAndResumesBitIdentically) {
  test::TempDir tmp("anila_best");
  Json c = small_2d(60);
  c["eval"]["samples"] = c["eval"]["chains"];  // the final evaluation equals an in-loop one
  const Json summary = run_experiment(c, quiet_run(tmp / "a"));
  ASSERT_TRUE(summary.contains("best_checkpoint")) << summary.dump();
  // The argmin of the kl column (in-loop evaluations and the final one).
  int64_t arg = -1;
  double best = 1e300;
  std::istringstream rows(io::read_text(tmp / "a/metrics.jsonl"));
  for (std::string line; std::getline(rows, line);) {
    const Json r = Json::parse(line);
    if (r.contains("kl") && r["kl"].get<double>() < best) {
      best = r["kl"].get<double>();
      arg = r["iteration"].get<int64_t>();
    }
  }
  EXPECT_EQ(summary["best_checkpoint"]["iteration"].get<int64_t>(), arg);
  EXPECT_DOUBLE_EQ(summary["best_checkpoint"]["value"].get<double>(), best);
  LoadedRun run = load_run(tmp / "a/checkpoints/best.pt");
  EXPECT_EQ(run.checkpoint, tmp / "a/checkpoints/best.pt");

  // Stopped at 20 (its final evaluation is the one the straight run makes there),
  // then resumed to 60: the same best checkpoint.
  Json c20 = c;
  c20["train"]["iterations"] = 20;
  run_experiment(c20, quiet_run(tmp / "b"));
  Json cfg = Json::parse(io::read_text(tmp / "b/config.json"));
  cfg["train"]["iterations"] = 60;
  io::write_atomic(tmp / "b/config.json", cfg.dump(2));
  const Json resumed = resume_experiment(tmp / "b", quiet_run(""));
  EXPECT_EQ(resumed["best_checkpoint"]["iteration"], summary["best_checkpoint"]["iteration"]);
  EXPECT_EQ(resumed["best_checkpoint"]["value"], summary["best_checkpoint"]["value"]);
  expect_same(params_of(load_run(tmp / "a/checkpoints/best.pt").model),
              params_of(load_run(tmp / "b/checkpoints/best.pt").model));
}

// ---- image options ----

TEST(Augment, FlipsAndShiftsEachSampleWithinTheBound) {
  at::Generator gen = make_generator(7, at::kCPU);
  const int64_t M = 400;
  at::Tensor x = at::rand({M, 1, 6, 6}, gen);
  AugmentOptions flip;
  flip.flip = true;
  const at::Tensor f = augment_images(x, flip, gen);
  int64_t flipped = 0;
  for (int64_t i = 0; i < M; ++i) {
    const bool same = at::equal(f[i], x[i]), mirrored = at::equal(f[i], x[i].flip({2}));
    ASSERT_TRUE(same || mirrored) << i;
    flipped += mirrored;
  }
  // Binomial(400, ½): mean 200, sd 10; 4 sd either side.
  EXPECT_NEAR(double(flipped), 200.0, 40.0);
  AugmentOptions shift;
  shift.translate = 2;
  const at::Tensor g = augment_images(x, shift, gen);
  ASSERT_EQ(g.sizes(), x.sizes());
  const at::Tensor padded = at::replication_pad2d(x, {2, 2, 2, 2});
  for (int64_t i = 0; i < 50; ++i) {
    bool found = false;
    for (int64_t dy = 0; dy <= 4 && !found; ++dy) {
      for (int64_t dx = 0; dx <= 4 && !found; ++dx) {
        found = at::equal(g[i], padded[i].narrow(1, dy, 6).narrow(2, dx, 6));
      }
    }
    EXPECT_TRUE(found) << "sample " << i << " is not a shift of at most 2 pixels";
  }
}

TEST(DriftClip, BoundsEveryCoordinateOfTheChainGradient) {
  Json c = small_2d(1);
  c["train"]["drift_clip"] = 0.01;
  c = resolve_config(c);
  RunSetup s = build_setup(c);
  auto t = make_trainer(s, c);
  const auto logp = t->chain_log_density();
  at::Generator gen = make_generator(2, at::kCPU);
  const at::Tensor z = 5 * at::randn({64, 2}, gen);
  const LogDensityValue v = (*logp)(z);
  EXPECT_LE(v.grad.abs().max().item<double>(), 0.01 + 1e-9);
  ModelLogDensity plain(t->model());
  const LogDensityValue u = plain(z);
  EXPECT_GT(u.grad.abs().max().item<double>(), 0.01);  // the clip did something
  EXPECT_TRUE(at::equal(v.grad, u.grad.clamp(-0.01, 0.01)));
  EXPECT_TRUE(at::equal(v.f, u.f));
}

TEST(ConvNetSpectralNorm, EveryConvHasUnitSpectralNormAndSamplingLeavesItAlone) {
  test::TempDir tmp("anila_convnet_sn");
  test::write_idx_images(tmp / "train-images-idx3-ubyte", 8);
  const std::vector<int64_t> shape = {1, 28, 28};
  at::manual_seed(3);
  auto model = make_model({{"type", "convnet"}, {"n_f", 4}, {"spectral_norm", true}}, shape);
  auto* net = dynamic_cast<ConvNetEnergy*>(model.get());
  ASSERT_NE(net, nullptr);
  EXPECT_EQ(model->to_json()["spectral_norm"], true);
  model->train();
  const at::Tensor x = at::rand({4, 1, 28, 28}) * 2 - 1;
  for (int i = 0; i < 100; ++i) model->forward(x).sum().backward();  // power iterations
  for (size_t i = 0; i < 5; ++i) {
    const at::Tensor w = net->effective_weight(i).detach();
    const double sigma = at::linalg_svdvals(w.reshape({w.size(0), -1}))[0].item<double>();
    // σ̂ = uᵀW v ≤ σ_max always, and converges to it geometrically (in (σ₂/σ₁)² per
    // iteration): the normalised weight's norm is ≥ 1 and, after 115 iterations, close.
    EXPECT_GE(sigma, 1.0 - 1e-5) << "conv" << i;
    EXPECT_LE(sigma, 1.005) << "conv" << i;
  }
  // Sampling (value_and_grad) uses the stored u, v: f is a fixed function of z.
  const auto buffers = [&] {
    std::vector<at::Tensor> b;
    for (const auto& t : model->buffers()) b.push_back(t.clone());
    return b;
  };
  const auto before = buffers();
  const LogDensityValue a = model->value_and_grad(x), b = model->value_and_grad(x);
  EXPECT_TRUE(at::equal(a.f, b.f));
  const auto after = buffers();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(at::equal(before[i], after[i]));
  // Without the key the ConvNet is as before: no buffers.
  auto plain = make_model({{"type", "convnet"}, {"n_f", 4}}, shape);
  EXPECT_TRUE(plain->buffers().empty());
  EXPECT_EQ(plain->to_json()["spectral_norm"], false);
}

TEST(ImageReplay, ReinitialisesAboutPOfTheDrawnImageChains) {
  ChainOptions o;
  o.type = "replay";
  o.bank_size = 1000;
  o.reinit_prob = 0.2;
  at::Generator init = make_generator(1, at::kCPU), gen = make_generator(2, at::kCPU);
  auto source = make_chain_source(o, {1, 4, 4}, at::kCPU, init);
  // Mark the bank: every stored chain becomes 5 (outside the noise init's [−1, 1]).
  source->set_state(at::full({1000, 1, 4, 4}, 5.0));
  const at::Tensor z = source->draw(1000, at::Tensor(), gen);
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{1000, 1, 4, 4}));
  const double fresh = z.flatten(1).abs().amax(1).le(1.0).to(at::kDouble).sum().item<double>();
  // Binomial(1000, 0.2): mean 200, sd 12.6; 4 sd either side.
  EXPECT_NEAR(fresh, 200.0, 51.0);
}
