// test_train_threshold.cpp — threshold "auto" in training (docs/samplers.md,
// "Threshold adaptation"): b follows a running quantile of the chains' |∇f|, fed
// once per iteration; its state is in the checkpoint (resume is bit-identical);
// bad settings are one UserError naming the key.
//
// The expected b is computed here from the gradients the sampler actually saw
// (recorded by a subclass of the AniLA sampler), with at::quantile and the
// averaging rule written out: b_1 = q_1, log b_t = w_t log q_t + (1 − w_t) log b_{t−1},
// w_t = max(t^{−3/4}, 0.05).
#include <cmath>
#include <filesystem>
#include <memory>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/config.h"
#include "anila/samplers/adapt.h"
#include "anila/samplers/anila.h"
#include "anila/train/experiment.h"
#include "anila/train/setup.h"
#include "anila/train/trainer.h"
#include "test_util.h"

using namespace anila;

namespace {

Json auto_config(const std::string& type = "anila") {
  return Json::parse(R"({
    "seed": 5,
    "data": {"type": "rings"},
    "model": {"type": "mlp", "hidden": [16, 16]},
    "sampler": {"type": ")" +
                     type + R"("},
    "samplers": {")" +
                     type + R"(": {"step_size": 0.05, "threshold": "auto",
                                     "threshold_quantile": 0.8}},
    "chains": {"type": "replay", "bank_size": 200, "scale": 4.0},
    "train": {"iterations": 12, "batch_size": 40, "mcmc_steps": 4,
              "optimizer": {"type": "adam", "lr": 3e-3}},
    "eval": {"every": 0, "resolution": 32}
  })");
}

// AniLA that keeps the gradients it was handed: those of the first state it ever
// saw and those after its latest step (the final states of an iteration).
class RecordingAnila : public AnilaSampler {
 public:
  using AnilaSampler::AnilaSampler;
  void step(ChainState& state, const LogDensity& logp, at::Generator& gen,
            SamplerStats* stats) const override {
    if (!first_grad.defined()) first_grad = state.grad.clone();
    AnilaSampler::step(state, logp, gen, stats);
    last_grad = state.grad.clone();
  }
  mutable at::Tensor first_grad, last_grad;
};

double quantile_of_abs(const at::Tensor& grad, double q) {
  return at::quantile(grad.abs().reshape({-1}).to(at::kDouble), q).item<double>();
}

}  // namespace

TEST(ThresholdAuto, BFollowsTheQuantileOfTheGradientsItWasFed) {
  const Json cfg = resolve_config(auto_config());
  RunSetup s = build_setup(cfg);
  ASSERT_DOUBLE_EQ(threshold_auto_quantile(s.sampler), 0.8);
  auto recorder = std::make_shared<RecordingAnila>(s.sampler);
  auto reference = make_trainer(s, cfg);  // only for its parts: model, chains, data
  Trainer trainer(
      reference->model(), recorder, reference->chains(),
      [&](int64_t M, at::Generator& g) { return s.data->sample(M, g); }, s.train,
      make_generator(s.seed, s.device), s.device);
  ASSERT_TRUE(trainer.threshold_auto());
  double expected = 0, previous_b = 0;
  for (int64_t t = 1; t <= 8; ++t) {
    const IterationStats st = trainer.step(/*collect_sampler_stats=*/false);
    if (t == 1) expected = quantile_of_abs(recorder->first_grad, 0.8);  // fed before sampling
    EXPECT_NEAR(st.threshold, expected, 1e-9 * expected) << "iteration " << t;
    if (t > 1) EXPECT_NE(st.threshold, previous_b) << "b did not move at iteration " << t;
    previous_b = st.threshold;
    // After the iteration: the final states' gradients are fed (t + 1-th update).
    const double w = std::max(std::pow(double(t + 1), -0.75), kTrainThresholdRate);
    const double q = quantile_of_abs(recorder->last_grad, 0.8);
    expected = std::exp(w * std::log(q) + (1 - w) * std::log(expected));
    EXPECT_NEAR(trainer.sampler()->options().threshold, expected, 1e-9 * expected);
  }
  // The sampler's diagnostics agree: a fraction ≈ 1 − 0.8 of coordinates has γ < 1
  // at the quantile of the gradients fed (here checked on the last batch exactly).
  const at::Tensor g = recorder->last_grad;
  const double q = quantile_of_abs(g, 0.8);
  const double above = g.abs().gt(q).to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(above, 0.2, 1.0 / g.numel() + 1e-12);
}

TEST(ThresholdAuto, ResumeIsBitIdentical) {
  for (const std::string type : {"anila", "anila-mh"}) {
    const Json cfg = resolve_config(auto_config(type));
    RunSetup s = build_setup(cfg);
    auto straight = make_trainer(s, cfg);
    for (int i = 0; i < 12; ++i) straight->step(i % 5 == 0);

    test::TempDir tmp;
    auto first = make_trainer(s, cfg);
    for (int i = 0; i < 6; ++i) first->step(i % 5 == 0);
    const double b_at_6 = first->sampler()->options().threshold;
    first->save_checkpoint(tmp / "last.pt");
    auto second = make_trainer(s, cfg);
    second->load_checkpoint(tmp / "last.pt");
    EXPECT_EQ(second->sampler()->options().threshold, b_at_6) << type;
    for (int i = 6; i < 12; ++i) second->step(i % 5 == 0);

    EXPECT_EQ(straight->sampler()->options().threshold, second->sampler()->options().threshold)
        << type;
    EXPECT_NE(straight->sampler()->options().threshold, b_at_6) << type;
    auto pa = straight->model()->parameters(), pb = second->model()->parameters();
    ASSERT_EQ(pa.size(), pb.size());
    for (size_t i = 0; i < pa.size(); ++i)
      EXPECT_TRUE(at::equal(pa[i], pb[i])) << type << " parameter " << i;
    EXPECT_TRUE(at::equal(straight->chains()->state(), second->chains()->state())) << type;
  }
}

TEST(ThresholdAuto, OffByDefaultAndWrittenBackAsAuto) {
  Json plain = auto_config();
  plain["samplers"]["anila"].erase("threshold");
  plain["samplers"]["anila"].erase("threshold_quantile");
  RunSetup s = build_setup(resolve_config(plain));
  EXPECT_EQ(threshold_auto_quantile(s.sampler), 0);
  auto trainer = make_trainer(s);
  EXPECT_FALSE(trainer->threshold_auto());
  EXPECT_TRUE(std::isnan(trainer->step(false).threshold));
  EXPECT_EQ(trainer->sampler()->options().threshold, 0.01);

  // config.json records "auto" and the quantile; resolving it again keeps them.
  const Json resolved = resolve_config(auto_config("anila-ito"));
  const Json& written = resolved["samplers"]["anila-ito"];
  EXPECT_EQ(written["threshold"], "auto");
  EXPECT_EQ(written["threshold_quantile"].get<double>(), 0.8);
  EXPECT_EQ(resolve_config(resolved)["samplers"], resolved["samplers"]);
  // Without threshold_quantile: the documented training default, 0.99.
  Json bare = auto_config();
  bare["samplers"]["anila"].erase("threshold_quantile");
  EXPECT_EQ(threshold_auto_quantile(resolve_sampler(bare)), 0.99);
  // A number given on top (sampler.* over samplers.<type>) turns auto off.
  Json numeric = auto_config();
  numeric["sampler"]["threshold"] = 0.3;
  const SamplerOptions o = resolve_sampler(numeric);
  EXPECT_EQ(threshold_auto_quantile(o), 0);
  EXPECT_EQ(o.threshold, 0.3);
}

TEST(ThresholdAuto, BadSettingsAreOneLineNamingTheKey) {
  auto message = [](const Json& cfg) {
    try {
      resolve_config(cfg);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  Json bad = auto_config();
  bad["samplers"]["anila"]["threshold"] = "automatic";
  std::string m = message(bad);
  EXPECT_NE(m.find("samplers.anila.threshold"), std::string::npos) << m;
  EXPECT_NE(m.find("\"auto\""), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  for (double q : {-0.5, 0.0, 1.0}) {
    bad = auto_config();
    bad["samplers"]["anila"]["threshold_quantile"] = q;
    m = message(bad);
    EXPECT_NE(m.find("samplers.anila.threshold_quantile"), std::string::npos) << q << ": " << m;
  }
  bad = auto_config();
  bad["sampler"]["threshold"] = -1;
  EXPECT_NE(message(bad).find("sampler.threshold"), std::string::npos) << message(bad);
  // Types without a threshold reject both keys.
  bad = auto_config();
  bad["samplers"]["mala"] = {{"threshold_quantile", 0.5}};
  EXPECT_NE(message(bad).find("threshold_quantile"), std::string::npos) << message(bad);
}

// A finished run hands its final b to the commands that load it (eval, inpaint,
// sample on images): summary.json's threshold_final, the checkpoint and
// resolve_run_sampler agree.
TEST(ThresholdAuto, LoadedRunKeepsTheTrainedThreshold) {
  test::TempDir tmp;
  Json cfg = auto_config();
  cfg["train"]["iterations"] = 6;
  cfg["train"]["checkpoint_every"] = 3;
  cfg["eval"] = {{"every", 0},     {"samples", 100}, {"resolution", 16},
                 {"hist_bins", 8}, {"n_data", 100},  {"n_mmd", 50}};
  RunOptions ro;
  ro.out_dir = tmp / "run";
  ro.quiet = true;
  const Json summary = run_experiment(cfg, ro);
  const double b = summary.at("threshold_final").get<double>();
  const LoadedRun run = load_run(ro.out_dir);
  EXPECT_EQ(run.threshold, b);
  EXPECT_EQ(resolve_run_sampler(run).threshold, b);
  EXPECT_EQ(resolve_run_sampler(run, "anila-mh").threshold, 0.01);  // no auto there: its own b
}
