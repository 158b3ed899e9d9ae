// test_models.cpp — the MLP energy: shapes, the hand-written input gradient
// against autograd and against central finite differences.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/models/energy.h"
#include "anila/models/mlp.h"

using namespace anila;

TEST(MLP, DefaultArchitectureMatchesReferenceToyNet) {
  auto model = make_model(Json{{"type", "mlp"}}, {2});
  // 2-32-64-64-64-1: (2·32+32) + (32·64+64) + 2·(64·64+64) + (64+1)
  EXPECT_EQ(model->num_parameters(), 96 + 2112 + 2 * 4160 + 65);
  Json j = model->to_json();
  EXPECT_EQ(j["hidden"], Json({32, 64, 64, 64}));
  EXPECT_EQ(j["activation"], "leaky_relu");
  EXPECT_DOUBLE_EQ(j["negative_slope"].get<double>(), 0.05);
}

TEST(MLP, InputGradientMatchesAutogradForEveryActivation) {
  for (const std::string act : {"leaky_relu", "relu", "elu", "silu", "tanh", "softplus"}) {
    at::manual_seed(0);
    auto model = make_model(Json{{"type", "mlp"}, {"activation", act}, {"hidden", {16, 16}}}, {2});
    model->to(at::kDouble);
    at::Tensor z = at::randn({50, 2}, at::kDouble) * 2;
    LogDensityValue manual = model->value_and_grad(z);
    // Autograd reference through the base-class path.
    at::Tensor zr = z.clone().requires_grad_(true);
    at::Tensor f = model->forward(zr);
    f.sum().backward();
    EXPECT_TRUE(at::allclose(manual.f, f.detach(), 1e-12, 1e-12)) << act;
    EXPECT_TRUE(at::allclose(manual.grad, zr.grad(), 1e-10, 1e-12)) << act;
    EXPECT_EQ(manual.grad.sizes(), z.sizes());
  }
}

TEST(MLP, InputGradientMatchesFiniteDifferences) {
  at::manual_seed(1);
  auto model = make_model(Json{{"type", "mlp"}, {"activation", "silu"}}, {2});
  model->to(at::kDouble);
  at::Tensor z = at::randn({8, 2}, at::kDouble);
  at::Tensor grad = model->value_and_grad(z).grad;
  const double h = 1e-6;
  for (int d = 0; d < 2; ++d) {
    at::Tensor e = at::zeros_like(z);
    e.select(1, d).fill_(h);
    at::NoGradGuard no_grad;
    at::Tensor fd = (model->forward(z + e) - model->forward(z - e)) / (2 * h);
    EXPECT_TRUE(at::allclose(grad.select(1, d), fd, 1e-6, 1e-7)) << "coordinate " << d;
  }
}

TEST(MLP, SamplingDoesNotTouchParameterGradients) {
  auto model = make_model(Json{{"type", "mlp"}}, {2});
  ModelLogDensity logp(model);
  logp(at::randn({10, 2}));
  for (const auto& p : model->parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(ModelFactory, RejectsBadOptions) {
  EXPECT_THROW(make_model(Json{{"type", "transformer"}}, {2}), UserError);
  EXPECT_THROW(make_model(Json{{"type", "mlp"}, {"hidden", {32, -1}}}, {2}), UserError);
  EXPECT_THROW(make_model(Json{{"type", "mlp"}, {"activation", "gelu2"}}, {2}), UserError);
  EXPECT_THROW(make_model(Json{{"type", "mlp"}, {"width", 3}}, {2}), UserError);
}
