// test_chains.cpp — chain sources: noise ranges, persistent bank bookkeeping,
// replay reinitialisation, data initialisation, option checks, and the
// float16/uint8 bank storage (hand-derived levels, error bound, checkpoints).
#include <cfloat>
#include <cmath>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/chains/chain_source.h"
#include "test_util.h"

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

// ---- bank storage ----

namespace {
ChainOptions storage_options(const std::string& storage, double lo = -1.0, double hi = 1.0) {
  ChainOptions o;
  o.storage = storage;
  o.storage_range = {lo, hi};
  return o;
}
}  // namespace

TEST(ChainStorage, Uint8HandChosenLevels) {
  ChainOptions o = storage_options("uint8");  // [−1, 1]: q = round((v + 1)·127.5)
  // v:      −1  1    0 (127.5, a tie → even 128)  −0.5 (63.75)  0.25 (159.375)  0.99 (253.725)
  //         −3 → −1 (clamped)  2.5 → 1 (clamped)
  at::Tensor v = at::tensor({-1.0f, 1.0f, 0.0f, -0.5f, 0.25f, 0.99f, -3.0f, 2.5f});
  at::Tensor q = chain_storage_encode(v, o);
  ASSERT_EQ(q.scalar_type(), at::kByte);
  const int expect_q[] = {0, 255, 128, 64, 159, 254, 0, 255};
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(q[i].item<int>(), expect_q[i]) << "v = " << v[i].item<float>();
  // Decoded: lo + q/127.5, i.e. (2q − 255)/255.
  at::Tensor back = chain_storage_decode(q, o);
  ASSERT_EQ(back.scalar_type(), at::kFloat);
  const float expect_v[] = {-1.0f,       1.0f,         1.0f / 255, -127.0f / 255,
                            63.0f / 255, 253.0f / 255, -1.0f,      1.0f};
  EXPECT_EQ(back[0].item<float>(), -1.0f);  // the ends are exact
  EXPECT_EQ(back[1].item<float>(), 1.0f);
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(back[i].item<float>(), expect_v[i]);
  // Round half to even, seen on real ties: with [0, 255] the level is v itself.
  ChainOptions unit = storage_options("uint8", 0.0, 255.0);
  at::Tensor ties = chain_storage_encode(at::tensor({0.5f, 2.5f, 126.5f, 127.5f}), unit);
  const int expect_ties[] = {0, 2, 126, 128};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ties[i].item<int>(), expect_ties[i]);
}

TEST(ChainStorage, Uint8ErrorIsAtMostHalfALevel) {
  const double lo = -0.5, hi = 2.0;  // level spacing 2.5/255, s = 102
  ChainOptions o = storage_options("uint8", lo, hi);
  at::Generator gen = make_generator(11, at::kCPU);
  at::Tensor v = at::rand({100000}, gen).mul_(hi - lo).add_(lo);
  at::Tensor back = chain_storage_decode(chain_storage_encode(v, o), o);
  // Nearest level: |error| ≤ (hi − lo)/510, plus one float32 rounding of the result
  // (≤ half an ulp of |v'| ≤ 2, below FLT_EPSILON·2).
  const double bound = (hi - lo) / 510;
  double max_err = (back - v).abs().max().item<double>();
  EXPECT_LE(max_err, bound + FLT_EPSILON * 2);
  // 100000 uniform values over 255 gaps come within 1% of the worst case.
  EXPECT_GE(max_err, 0.99 * bound);
  // Decoded values sit on the lattice lo + k/102.
  at::Tensor k = back.to(at::kDouble).sub(lo).mul(102.0);
  EXPECT_LE((k - k.round()).abs().max().item<double>(), 1e-4);
  // Out of range: clamped to the ends, which decode exactly.
  at::Tensor out = chain_storage_decode(chain_storage_encode(at::tensor({-5.0f, 7.0f}), o), o);
  EXPECT_EQ(out[0].item<float>(), -0.5f);
  EXPECT_EQ(out[1].item<float>(), 2.0f);
}

TEST(ChainStorage, Float16IsAtHalfRoundTrip) {
  ChainOptions o = storage_options("float16");
  at::Generator gen = make_generator(12, at::kCPU);
  at::Tensor v = at::randn({1000}, gen).mul_(3.0);
  at::Tensor h = chain_storage_encode(v, o);
  EXPECT_EQ(h.scalar_type(), at::kHalf);
  at::Tensor back = chain_storage_decode(h, o);
  EXPECT_EQ(back.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(back, v.to(at::kHalf).to(at::kFloat)));
  EXPECT_FALSE(at::equal(back, v));  // it did round
}

TEST(ChainStorage, PersistentUint8WritesQuantisedStatesToTheDrawnSlots) {
  at::Generator gen = make_generator(13, at::kCPU);
  auto src = make(Json{{"type", "persistent"}, {"bank_size", 10}, {"storage", "uint8"}}, gen);
  // Row j holds the levels (10j, 10j + 1).
  at::Tensor tens = at::arange(10, at::kLong).mul(10);
  at::Tensor codes = at::stack({tens, tens.add(1)}, 1).to(at::kByte);
  src->set_state(codes);
  at::Tensor z = src->draw(4, {}, gen);
  ASSERT_EQ(z.scalar_type(), at::kFloat);
  std::vector<int64_t> slot(4);
  for (int64_t i = 0; i < 4; ++i) {
    // Level q decodes to q/127.5 − 1.
    slot[i] = std::lround((z[i][0].item<double>() + 1) * 127.5) / 10;
    ASSERT_GE(slot[i], 0);
    ASSERT_LT(slot[i], 10);
    EXPECT_FLOAT_EQ(z[i][0].item<float>(), static_cast<float>(10 * slot[i] / 127.5 - 1));
    EXPECT_FLOAT_EQ(z[i][1].item<float>(), static_cast<float>((10 * slot[i] + 1) / 127.5 - 1));
    for (int64_t k = 0; k < i; ++k) EXPECT_NE(slot[i], slot[k]);  // without replacement
  }
  // Levels (see Uint8HandChosenLevels): −1 → 0, 1 → 255, 0 → 128, 2 → 255,
  // −0.5 → 64, 0.25 → 159, −3 → 0, 0.99 → 254.
  src->give_back(at::tensor({-1.0f, 1.0f, 0.0f, 2.0f, -0.5f, 0.25f, -3.0f, 0.99f}).view({4, 2}));
  const int expect[4][2] = {{0, 255}, {128, 255}, {64, 159}, {0, 254}};
  at::Tensor after = src->state();
  ASSERT_EQ(after.scalar_type(), at::kByte);
  std::vector<bool> drawn(10, false);
  for (int64_t i = 0; i < 4; ++i) {
    drawn[slot[i]] = true;
    EXPECT_EQ(after[slot[i]][0].item<int>(), expect[i][0]);
    EXPECT_EQ(after[slot[i]][1].item<int>(), expect[i][1]);
  }
  for (int64_t j = 0; j < 10; ++j) {
    if (!drawn[j]) {
      EXPECT_TRUE(at::equal(after[j], codes[j])) << "slot " << j;
    }
  }
}

TEST(ChainStorage, StateIsCompact) {
  at::Generator gen = make_generator(14, at::kCPU);
  const std::vector<int64_t> shape{3, 4, 4};  // 48 values a sample
  Json j{{"type", "persistent"}, {"bank_size", 20}};
  j["storage"] = "uint8";
  at::Tensor q = make_chain_source(parse_chain_options(j), shape, at::kCPU, gen)->state();
  EXPECT_EQ(q.scalar_type(), at::kByte);
  EXPECT_EQ(q.sizes(), at::IntArrayRef({20, 3, 4, 4}));
  EXPECT_EQ(q.numel() * q.element_size(), 20 * 48);
  // Initialised from uniform [−1, 1] noise: variance 1/3 (+ (2/255)²/12 from the
  // levels); SE of the sample variance sqrt((1/5 − 1/9)/960) ≈ 0.0096, 4 SE.
  at::Tensor v = q.to(at::kDouble).div(127.5).sub(1);
  EXPECT_NEAR(v.var().item<double>(), 1.0 / 3, 4 * 0.0096);
  j["storage"] = "float16";
  at::Tensor h = make_chain_source(parse_chain_options(j), shape, at::kCPU, gen)->state();
  EXPECT_EQ(h.scalar_type(), at::kHalf);
  EXPECT_EQ(h.numel() * h.element_size(), 20 * 48 * 2);
}

TEST(ChainStorage, SetStateRoundTripAndMismatches) {
  at::Generator gen = make_generator(15, at::kCPU);
  Json j{{"type", "persistent"}, {"bank_size", 10}, {"storage", "uint8"}};
  auto a = make(j, gen), b = make(j, gen);
  ASSERT_FALSE(at::equal(a->state(), b->state()));
  b->set_state(a->state());
  EXPECT_TRUE(at::equal(b->state(), a->state()));
  a->draw(10, {}, gen);
  a->give_back(at::zeros({10, 2}));
  EXPECT_FALSE(at::equal(b->state(), a->state()));  // b holds a copy
  // A floating bank of the right shape is converted: 0 → level 128, 5 → 255 (clamped).
  at::Tensor zeros = at::zeros({10, 2}, at::kDouble);
  b->set_state(zeros);
  EXPECT_TRUE((zeros == 0).all().item<bool>());  // the caller's tensor is left alone
  EXPECT_EQ(b->state().scalar_type(), at::kByte);
  EXPECT_TRUE((b->state() == 128).all().item<bool>());
  b->set_state(at::full({10, 2}, 5.0f));
  EXPECT_TRUE((b->state() == 255).all().item<bool>());
  // Wrong shape, or a uint8 bank into float32 storage (resuming with another setting).
  std::string msg = test::user_error_message([&] { b->set_state(at::zeros({9, 2}, at::kByte)); });
  EXPECT_NE(msg.find("chains.bank_size"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[10, 2]"), std::string::npos) << msg;
  auto f32 = make(Json{{"type", "persistent"}, {"bank_size", 10}}, gen);
  msg = test::user_error_message([&] { f32->set_state(a->state()); });
  EXPECT_NE(msg.find("chains.storage"), std::string::npos) << msg;
  EXPECT_NE(msg.find("uint8"), std::string::npos) << msg;
  EXPECT_NE(msg.find("float32"), std::string::npos) << msg;
  msg = test::user_error_message([&] { b->set_state(at::zeros({10, 2}, at::kLong)); });
  EXPECT_NE(msg.find("chains.storage"), std::string::npos) << msg;
}

TEST(ChainStorage, ReplayWithFloat16) {
  at::Generator gen = make_generator(16, at::kCPU);
  auto src = make(
      Json{{"type", "replay"}, {"bank_size", 50}, {"reinit_prob", 0.0}, {"storage", "float16"}},
      gen);
  EXPECT_EQ(src->state().scalar_type(), at::kHalf);
  src->set_state(at::full({50, 2}, 1.0f / 3));
  // 1/3 in half precision: 0x3555 = 1365/4096.
  const float third = 1365.0f / 4096;
  at::Tensor z = src->draw(20, {}, gen);
  EXPECT_EQ(z.scalar_type(), at::kFloat);
  EXPECT_TRUE((z == third).all().item<bool>());
  // 0.1 + 1/3 rounds to the nearest half; 20 rows changed, 30 kept.
  src->give_back(z + 0.1f);
  const float written = at::scalar_tensor(third + 0.1f).to(at::kHalf).item<float>();
  at::Tensor after = src->state().to(at::kFloat);
  EXPECT_EQ((after == written).all(1).sum().item<int64_t>(), 20);
  EXPECT_EQ((after == third).all(1).sum().item<int64_t>(), 30);
  auto fresh = make(
      Json{{"type", "replay"}, {"bank_size", 50}, {"reinit_prob", 1.0}, {"storage", "float16"}},
      gen);
  fresh->set_state(at::full({50, 2}, 7.0f));
  EXPECT_TRUE((fresh->draw(20, {}, gen).abs() <= 1.0f).all().item<bool>());
}

TEST(ChainStorage, OptionsParseValidateAndWriteBack) {
  ChainOptions d = parse_chain_options(Json::object());
  EXPECT_EQ(d.storage, "float32");
  EXPECT_EQ(d.storage_range[0], -1.0);
  EXPECT_EQ(d.storage_range[1], 1.0);
  std::string msg = test::user_error_message([] {
    parse_chain_options(Json{{"storage", "int8"}});
  });
  EXPECT_NE(msg.find("chains.storage"), std::string::npos) << msg;
  EXPECT_NE(msg.find("float32, float16, uint8"), std::string::npos) << msg;
  for (const Json& bad : {Json{1.0, -1.0}, Json{1.0, 1.0}, Json{0.0}, Json{0.0, 1.0, 2.0},
                          Json{0.0, "x"}, Json("abc"), Json(2.0)}) {
    msg = test::user_error_message([&] { parse_chain_options(Json{{"storage_range", bad}}); });
    EXPECT_NE(msg.find("chains.storage_range"), std::string::npos) << msg;
  }
  ChainOptions o = parse_chain_options(
      Json{{"type", "persistent"}, {"storage", "uint8"}, {"storage_range", {0, 255}}});
  EXPECT_EQ(o.storage_range[0], 0.0);
  EXPECT_EQ(o.storage_range[1], 255.0);
  Json back = o.to_json();
  EXPECT_EQ(back["storage"], "uint8");
  EXPECT_EQ(back["storage_range"], Json({0.0, 255.0}));
  ChainOptions again = parse_chain_options(back);
  EXPECT_EQ(again.storage, "uint8");
  EXPECT_EQ(again.storage_range, o.storage_range);
  EXPECT_EQ(parse_chain_options(Json{{"type", "replay"}}).to_json()["storage"], "float32");
  // noise/data accept the keys (a config may switch `type` alone) and do not record them.
  Json n = parse_chain_options(Json{{"storage", "uint8"}, {"storage_range", {0, 1}}}).to_json();
  EXPECT_FALSE(n.contains("storage"));
  EXPECT_FALSE(n.contains("storage_range"));
}
