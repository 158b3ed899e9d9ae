// test_chains.cpp — chain sources: noise ranges, persistent bank bookkeeping,
// replay reinitialisation, data initialisation, and option checks.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/chains/chain_source.h"

using namespace anila;

namespace {
ChainSourcePtr make(const Json& j, at::Generator& gen) {
  return make_chain_source(parse_chain_options(j), {2}, at::kCPU, gen);
}
}  // namespace

TEST(Chains, UniformNoiseCoversScale) {
  at::Generator gen = make_generator(1, at::kCPU);
  auto src = make(Json{{"type", "noise"}, {"scale", 3.0}}, gen);
  at::Tensor z = src->draw(20000, {}, gen);
  EXPECT_EQ(z.sizes(), at::IntArrayRef({20000, 2}));
  EXPECT_LE(z.abs().max().item<double>(), 3.0);
  // Uniform[−3, 3]: variance 3, sd of the sample variance ≈ 3·sqrt(0.8/40000)… use 4 SE.
  EXPECT_NEAR(z.var().item<double>(), 3.0, 0.06);
}

TEST(Chains, GaussianNoiseHasScaleAsSd) {
  at::Generator gen = make_generator(2, at::kCPU);
  auto src = make(Json{{"type", "noise"}, {"init", "gaussian"}, {"scale", 2.0}}, gen);
  at::Tensor z = src->draw(20000, {}, gen);
  // variance 4, SE = 4·sqrt(2/40000) ≈ 0.028
  EXPECT_NEAR(z.var().item<double>(), 4.0, 4 * 0.028);
}

TEST(Chains, PersistentWritesBackToTheDrawnSlots) {
  at::Generator gen = make_generator(3, at::kCPU);
  auto src = make(Json{{"type", "persistent"}, {"bank_size", 10}}, gen);
  at::Tensor before = src->state().clone();
  at::Tensor z = src->draw(4, {}, gen);
  // The drawn states are rows of the bank.
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(((before - z[i]).abs().sum(1) == 0).any().item<bool>());
  }
  src->give_back(at::full({4, 2}, 100.0f));
  at::Tensor after = src->state();
  EXPECT_EQ((after == 100.0f).all(1).sum().item<int64_t>(), 4);
  EXPECT_EQ(((after - before).abs().sum(1) == 0).sum().item<int64_t>(), 6);
  EXPECT_THROW(src->draw(11, {}, gen), UserError);
}

TEST(Chains, ReplayReinitialisesWithProbability) {
  at::Generator gen = make_generator(4, at::kCPU);
  auto keep = make(Json{{"type", "replay"}, {"bank_size", 50}, {"reinit_prob", 0.0}}, gen);
  keep->set_state(at::full({50, 2}, 7.0f));
  EXPECT_TRUE((keep->draw(20, {}, gen) == 7.0f).all().item<bool>());
  auto fresh = make(Json{{"type", "replay"}, {"bank_size", 50}, {"reinit_prob", 1.0}}, gen);
  fresh->set_state(at::full({50, 2}, 7.0f));
  EXPECT_TRUE((fresh->draw(20, {}, gen).abs() <= 1.0f).all().item<bool>());
  // p = 0.3 over 2000 draws: fraction within 4 SE of 0.3.
  auto mixed = make(Json{{"type", "replay"}, {"bank_size", 5000}, {"reinit_prob", 0.3}}, gen);
  mixed->set_state(at::full({5000, 2}, 7.0f));
  double frac =
      (mixed->draw(2000, {}, gen).select(1, 0) != 7.0f).to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(frac, 0.3, 4 * std::sqrt(0.3 * 0.7 / 2000));
}

TEST(Chains, DataSourceStartsFromTheBatch) {
  at::Generator gen = make_generator(5, at::kCPU);
  auto src = make(Json{{"type", "data"}}, gen);
  at::Tensor x = at::randn({6, 2});
  EXPECT_TRUE(at::equal(src->draw(6, x, gen), x));
}

TEST(Chains, OptionErrors) {
  EXPECT_THROW(parse_chain_options(Json{{"type", "persistant"}}), UserError);
  EXPECT_THROW(parse_chain_options(Json{{"type", "replay"}, {"reinit_prob", 1.5}}), UserError);
  EXPECT_THROW(parse_chain_options(Json{{"bank_size", 0}}), UserError);
  EXPECT_THROW(parse_chain_options(Json{{"init", "normal"}}), UserError);
}
