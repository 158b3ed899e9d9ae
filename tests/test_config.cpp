// test_config.cpp — ConfigReader errors and --set overrides.
#include <gtest/gtest.h>

#include "anila/config.h"

using namespace anila;

namespace {
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, UnknownKeySuggestsClosest) {
  std::string m = error_of([] {
    ConfigReader r(Json{{"stepsize", 1.0}}, "sampler");
    r.number("step_size", 1.0);
    r.number("noise_scale", 1.0);
    r.finish();
  });
  EXPECT_EQ(m.rfind("unknown config key sampler.stepsize (did you mean sampler.step_size?)", 0), 0u)
      << m;
}

TEST(Config, WrongTypeAndRange) {
  EXPECT_EQ(error_of([] {
              ConfigReader r(Json{{"step_size", "abc"}}, "sampler");
              r.number("step_size", 1.0);
            }),
            "sampler.step_size: expected a number, got \"abc\"");
  EXPECT_EQ(error_of([] {
              ConfigReader r(Json{{"step_size", -1}}, "sampler");
              r.number("step_size", 1.0, Range::positive());
            }),
            "sampler.step_size: must be > 0, got -1");
  EXPECT_EQ(error_of([] {
              ConfigReader r(Json{{"mcmc_steps", 0}}, "train");
              r.integer("mcmc_steps", 100, Range::at_least(1));
            }),
            "train.mcmc_steps: must be >= 1, got 0");
  EXPECT_EQ(error_of([] {
              ConfigReader r(Json{{"mcmc_steps", 2.5}}, "train");
              r.integer("mcmc_steps", 100);
            }),
            "train.mcmc_steps: expected an integer, got 2.5");
}

TEST(Config, OverridesParseJsonOrString) {
  Json c = {{"sampler", {{"type", "anila"}}}};
  apply_override(c, "sampler.type=langevin");
  apply_override(c, "sampler.step_size=0.5");
  apply_override(c, "train.optimizer.lr=1e-3");
  apply_override(c, "seed=7");
  EXPECT_EQ(c["sampler"]["type"], "langevin");
  EXPECT_DOUBLE_EQ(c["sampler"]["step_size"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(c["train"]["optimizer"]["lr"].get<double>(), 1e-3);
  EXPECT_EQ(c["seed"], 7);
  EXPECT_THROW(apply_override(c, "novalue"), UserError);
  EXPECT_THROW(apply_override(c, "seed.x=1"), UserError);
}

TEST(Config, ClosestMatch) {
  EXPECT_EQ(closest_match("ringz", {"rings", "gmm", "moons"}), "rings");
  EXPECT_EQ(closest_match("completely-different", {"rings", "gmm"}), "");
}

TEST(Config, NumbersBeyondFloat32AreRejected) {
  std::string m = error_of([] {
    ConfigReader r(Json{{"step_size", 1e300}}, "sampler");
    r.number("step_size", 1.0);
  });
  EXPECT_NE(m.find("sampler.step_size"), std::string::npos) << m;
  EXPECT_NE(m.find("float32"), std::string::npos) << m;
  ConfigReader ok(Json{{"step_size", 3e38}}, "sampler");
  EXPECT_EQ(ok.number("step_size", 1.0), 3e38);
}
