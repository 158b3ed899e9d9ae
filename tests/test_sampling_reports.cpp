// test_sampling_reports.cpp — what `anila sample` reports: draws scored against
// exp(f/T) at each sampler's temperature T = noise_scale² (or not scored, with the
// reason, where the target has no closed form at T), the adapted AniLA threshold,
// and NaN rows (not uninitialised memory) in draws.npy after a divergence.
#include <cmath>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/io/files.h"
#include "anila/train/sampling.h"
#include "test_util.h"

using namespace anila;

namespace {

SampleOptions small_run(const test::TempDir& dir, const std::string& samplers) {
  SampleOptions o;
  o.samplers = {};
  for (size_t a = 0, b; a <= samplers.size(); a = b + 1) {
    b = samplers.find(',', a);
    if (b == std::string::npos) b = samplers.size();
    o.samplers.push_back(samplers.substr(a, b - a));
  }
  o.chains = 100;
  o.steps = 400;
  o.warmup = 200;
  o.out_dir = dir / "out";
  o.quiet = true;
  return o;
}

// N(0, I_2) sampled at ε = 0.5 is N(0, 0.25 I): scored against that, MALA's cov error
// is small (against the T = 1 target it would be 0.75).
TEST(SamplingReports, ScoresAgainstTheTemperatureSampled) {
  test::TempDir dir;
  SampleOptions o = small_run(dir, "mala");
  o.sampler_config = {{"sampler", {{"noise_scale", 0.5}}}};
  const Json out = sample_analytic_target({{"type", "gaussian"}, {"dim", 2}}, o);
  const Json& row = out["rows"][0];
  EXPECT_DOUBLE_EQ(row["temperature"].get<double>(), 0.25);
  EXPECT_LT(row["cov_error"].get<double>(), 0.15) << row.dump();
  EXPECT_LT(row["var_error"].get<double>(), 0.2) << row.dump();
}

TEST(SamplingReports, RefusesToScoreWhereTheTemperedTargetHasNoClosedForm) {
  test::TempDir dir;
  SampleOptions o = small_run(dir, "mala");
  o.sampler_config = {{"sampler", {{"noise_scale", 0.5}}}};
  const Json out = sample_analytic_target({{"type", "mixture"}}, o);
  const Json& row = out["rows"][0];
  EXPECT_FALSE(row.contains("cov_error"));
  ASSERT_TRUE(row.contains("not_scored"));
  EXPECT_NE(row["not_scored"].get<std::string>().find("T = noise_scale"), std::string::npos);
  EXPECT_NE(out["table_markdown"].get<std::string>().find("not scored"), std::string::npos);
}

TEST(SamplingReports, AdaptedThresholdIsReportedAndBorrowed) {
  test::TempDir dir;
  const Json out =
      sample_analytic_target({{"type", "gaussian"}, {"dim", 4}}, small_run(dir, "anila-mh,anila"));
  const Json& mh = out["rows"][0];
  const Json& unadjusted = out["rows"][1];
  EXPECT_EQ(mh["threshold_from"], "adapted");
  EXPECT_GT(mh["threshold"].get<double>(), 0.5);  // ≈ the 0.9-quantile of |z_i|, 1.64
  EXPECT_EQ(unadjusted["threshold_from"], "from anila-mh");
  EXPECT_EQ(unadjusted["threshold"], mh["threshold"]);
  EXPECT_NE(out["table_markdown"].get<std::string>().find("(adapted), b "), std::string::npos);
}

TEST(SamplingReports, DrawsAfterADivergenceAreNaN) {
  test::TempDir dir;
  SampleOptions o = small_run(dir, "langevin");
  o.adapt = false;
  o.sampler_config = {{"langevin", {{"step_size", 50.0}}}};
  const Json out = sample_analytic_target({{"type", "gaussian"}, {"dim", 2}}, o);
  const int64_t at = out["rows"][0]["diverged_at_step"].get<int64_t>();
  at::Tensor draws = io::read_npy(o.out_dir + "/langevin/draws.npy");
  ASSERT_EQ(draws.size(0), o.steps);
  ASSERT_LT(at, o.steps);
  EXPECT_TRUE(draws.slice(0, at).isnan().all().item<bool>());
}

}  // namespace
