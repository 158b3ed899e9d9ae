// test_samplers_precision.cpp — Metropolis–Hastings ratios at image temperatures
// (T = ε² = 5e-5) with large offsets in f.
//
// Reference: a float64 run (chains, f and ratios in double) without the offset. The
// ratio depends on f only through f(z') − f(z), so an exact implementation gives the
// same acceptance whatever the offset; with f in float64, float32 chains must match
// the reference to 0.01 (MCSE of a mean acceptance over 2000 chains × 20 steps is
// ~0.002).
#include <cmath>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/samplers/hmc.h"
#include "anila/samplers/registry.h"

using namespace anila;

namespace {

// f = offset − |z|²/2 evaluated in float64 whatever z's dtype; ∇f in z's dtype.
class OffsetGaussian : public LogDensity {
 public:
  explicit OffsetGaussian(double offset, at::ScalarType f_type = at::kDouble)
      : offset_(offset), f_type_(f_type) {}
  LogDensityValue operator()(const at::Tensor& z) const override {
    at::Tensor f = offset_ - 0.5 * z.to(at::kDouble).pow(2).sum(1);
    return {f.to(f_type_), -z};
  }

 private:
  double offset_;
  at::ScalarType f_type_;
};

constexpr double kT = 5e-5;

double mean_acceptance(const std::string& type, double offset, at::ScalarType z_type) {
  const double eps = std::sqrt(kT);
  // HMC's h acts on U = −f/T (frequency 1/√T): h = 0.3√T; the others' s is scale-free.
  Json o = {{"type", type}, {"noise_scale", eps}, {"step_size", type == "hmc" ? 0.3 * eps : 0.5}};
  if (type == "anila-mh") o["threshold"] = 0.01;
  SamplerPtr smp = make_sampler(o);
  OffsetGaussian logp(offset);
  at::Generator gen = make_generator(21, at::kCPU);
  at::Tensor z0 = (at::randn({2000, 10}, gen, at::kDouble) * eps).to(z_type);
  ChainState state = ChainState::start(z0, logp);
  SamplerStats stats;
  smp->run(state, logp, 20, gen, &stats);
  return stats.summary()["accept"].get<double>();
}

TEST(Precision, AcceptanceAtImageTemperatureIgnoresEnergyOffsets) {
  for (const char* type : {"mala", "anila-mh", "hmc", "rwm"}) {
    const double reference = mean_acceptance(type, 0, at::kDouble);
    EXPECT_GT(reference, 0.2) << type;
    for (double offset : {1e3, 1e4}) {
      EXPECT_NEAR(mean_acceptance(type, offset, at::kFloat), reference, 0.01)
          << type << " offset " << offset;
    }
  }
}

// The HMC ratio forms f' − f first: from float32 f of about 1e4 (spacing 1e-3) it
// equals the float64 formula on the same values; −f/ε² formed in float32 first is
// 2e8 with spacing 16.
TEST(Precision, HmcFormsTheEnergyDifferenceFirst) {
  SamplerOptions o = parse_sampler_options(Json{{"type", "hmc"}, {"noise_scale", std::sqrt(kT)}});
  HmcSampler hmc(o);
  at::Tensor f0 = at::tensor({10000.0f, 10000.5f, 9999.25f});
  at::Tensor f1 = at::tensor({10000.001f, 10000.499f, 9999.2505f});
  at::Tensor p0 = at::tensor({0.3f, -1.2f, 0.7f}).view({3, 1});
  at::Tensor p1 = at::tensor({0.1f, -1.0f, 0.9f}).view({3, 1});
  at::Tensor got = hmc.log_acceptance(f0, p0, f1, p1);
  at::Tensor want = (f1.to(at::kDouble) - f0.to(at::kDouble)) / kT +
                    0.5 * (p0.to(at::kDouble).pow(2) - p1.to(at::kDouble).pow(2)).squeeze(1);
  EXPECT_EQ(got.scalar_type(), at::kDouble);
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-6);
}

TEST(Precision, WarnsOnceWhereFloat32FCannotSupportTheTemperature) {
  SamplerPtr mala =
      make_sampler(Json{{"type", "mala"}, {"noise_scale", std::sqrt(kT)}, {"step_size", 0.5}});
  at::Tensor z = at::zeros({4, 2});
  OffsetGaussian big32(1e3, at::kFloat), small32(1.0, at::kFloat), big64(1e3, at::kDouble);
  const std::string w = precision_warning(*mala, ChainState::start(z, big32));
  EXPECT_NE(w.find("float32"), std::string::npos) << w;
  EXPECT_NE(w.find("nats"), std::string::npos) << w;
  EXPECT_TRUE(precision_warning(*mala, ChainState::start(z, small32)).empty());
  EXPECT_TRUE(precision_warning(*mala, ChainState::start(z, big64)).empty());
  SamplerPtr langevin = make_sampler(Json{{"type", "langevin"}, {"noise_scale", std::sqrt(kT)}});
  EXPECT_TRUE(precision_warning(*langevin, ChainState::start(z, big32)).empty());
}

}  // namespace
