// test_image_models.cpp — the image energies (convnet, resnet): output shapes, the
// hand-counted parameter total, input gradients against central finite differences
// (float64), frozen parameters during value_and_grad, spectral normalisation against
// an independent SVD, and the factory's errors.
//
// Notation: B batch, C channels, S image side.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/models/convnet.h"
#include "anila/models/energy.h"
#include "anila/models/resnet.h"

using namespace anila;

namespace {

std::string factory_error(const Json& section, const std::vector<int64_t>& shape) {
  try {
    make_model(section, shape);
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

// Central differences of f on `n` random pixels of z ([B, C, S, S], float64) against
// the model's value_and_grad.
void expect_gradient_matches_finite_differences(EnergyModel& model, const at::Tensor& z, int n,
                                                const std::string& what) {
  LogDensityValue vg = model.value_and_grad(z);
  ASSERT_EQ(vg.grad.sizes(), z.sizes()) << what;
  at::Tensor flat_grad = vg.grad.reshape({z.size(0), -1});
  const int64_t d = flat_grad.size(1);
  const double h = 1e-6;
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::allclose(vg.f, model.forward(z), 1e-12, 1e-12)) << what;
  for (int k = 0; k < n; ++k) {
    const int64_t j = (k * 7919 + 13) % d;  // spread over channels and positions
    at::Tensor e = at::zeros_like(z).reshape({z.size(0), -1});
    e.select(1, j).fill_(h);
    e = e.reshape(z.sizes());
    at::Tensor fd = (model.forward(z + e) - model.forward(z - e)) / (2 * h);
    EXPECT_TRUE(at::allclose(flat_grad.select(1, j), fd, 1e-5, 1e-7))
        << what << " pixel " << j << ": " << flat_grad.select(1, j) << " vs " << fd;
  }
}

}  // namespace

TEST(ImageModels, OutputShapeForEverySupportedSize) {
  for (int64_t c : {1, 3}) {
    for (int64_t s : {28, 32, 64}) {
      for (const std::string type : {"convnet", "resnet"}) {
        auto model = make_model(Json{{"type", type}, {"n_f", 4}}, {c, s, s});
        at::Tensor f = model->forward(at::randn({3, c, s, s}));
        EXPECT_EQ(f.sizes(), at::IntArrayRef({3})) << type << " C=" << c << " S=" << s;
        EXPECT_TRUE(at::isfinite(f).all().item<bool>());
      }
    }
  }
}

TEST(ConvNet, ParameterCountMatchesHandCount) {
  auto model = make_model(Json{{"type", "convnet"}, {"n_f", 32}}, {3, 32, 32});
  // weights out·in·k·k plus out biases:
  //   conv0 3x3   3 ->  32:   3·32·9  +  32 =    896
  //   conv1 4x4  32 ->  64:  32·64·16 +  64 =  32832
  //   conv2 4x4  64 -> 128:  64·128·16 + 128 = 131200
  //   conv3 4x4 128 -> 256: 128·256·16 + 256 = 524544
  //   conv4 4x4 256 ->   1: 256·1·16  +   1 =   4097
  EXPECT_EQ(model->num_parameters(), 896 + 32832 + 131200 + 524544 + 4097);  // 693569
  // S = 64 adds one 4x4 256 -> 256 conv: 256·256·16 + 256 = 1048832.
  auto model64 = make_model(Json{{"type", "convnet"}, {"n_f", 32}}, {3, 64, 64});
  EXPECT_EQ(model64->num_parameters(), 693569 + 1048832);
  // S = 28 pads to 32 and has exactly the S = 32 layers.
  auto model28 = make_model(Json{{"type", "convnet"}, {"n_f", 32}}, {3, 28, 28});
  EXPECT_EQ(model28->num_parameters(), 693569);
}

TEST(ConvNet, ToJsonWritesEveryOptionAndRoundTrips) {
  auto model = make_model(Json{{"type", "convnet"}, {"n_f", 8}}, {1, 28, 28});
  Json j = model->to_json();
  EXPECT_EQ(j, (Json{{"type", "convnet"},
                     {"n_f", 8},
                     {"negative_slope", 0.2},
                     {"channels", 1},
                     {"size", 28},
                     {"precision", "float32"},
                     {"memory_format", "contiguous"},
                     {"spectral_norm", false}}));
  // A run folder's config.json can be read back.
  EXPECT_EQ(make_model(j, {1, 28, 28})->to_json(), j);
}

TEST(ResNet, ToJsonWritesEveryOptionAndRoundTrips) {
  auto model =
      make_model(Json{{"type", "resnet"}, {"n_f", 4}, {"spectral_norm", true}}, {3, 32, 32});
  Json j = model->to_json();
  EXPECT_EQ(j, (Json{{"type", "resnet"},
                     {"n_f", 4},
                     {"blocks", 1},
                     {"spectral_norm", true},
                     {"negative_slope", 0.2},
                     {"channels", 3},
                     {"size", 32},
                     {"precision", "float32"},
                     {"memory_format", "contiguous"}}));
  EXPECT_EQ(make_model(j, {3, 32, 32})->to_json(), j);
}

TEST(ResNet, ParameterCountMatchesHandCount) {
  auto model = make_model(Json{{"type", "resnet"}, {"n_f", 4}}, {3, 32, 32});
  // stem 3x3 3->4: 3·4·9+4 = 112
  // stage0 block 4->4: 2·(4·4·9+4) = 2·148 = 296
  // stage1 block 4->8: (4·8·9+8) + (8·8·9+8) + skip (4·8+8) = 296 + 584 + 40 = 920
  // stage2 block 8->16: (8·16·9+16) + (16·16·9+16) + skip (8·16+16) = 1168 + 2320 + 144 = 3632
  // fc 16->1: 17
  EXPECT_EQ(model->num_parameters(), 112 + 296 + 920 + 3632 + 17);
  // Spectral norm adds buffers (u, v), not parameters.
  auto sn = make_model(Json{{"type", "resnet"}, {"n_f", 4}, {"spectral_norm", true}}, {3, 32, 32});
  EXPECT_EQ(sn->num_parameters(), model->num_parameters());
}

TEST(ConvNet, InputGradientMatchesFiniteDifferences) {
  for (int64_t s : {28, 32}) {
    at::manual_seed(2);
    auto model = make_model(Json{{"type", "convnet"}, {"n_f", 4}}, {3, s, s});
    model->to(at::kDouble);
    model->eval();
    at::Tensor z = at::randn({2, 3, s, s}, at::kDouble);
    expect_gradient_matches_finite_differences(*model, z, /*n=*/12,
                                               "convnet S=" + std::to_string(s));
  }
}

TEST(ResNet, InputGradientMatchesFiniteDifferences) {
  for (bool sn : {false, true}) {
    at::manual_seed(3);
    auto model = make_model(Json{{"type", "resnet"}, {"n_f", 4}, {"spectral_norm", sn}}, {3, 8, 8});
    model->to(at::kDouble);
    model->eval();  // the power iteration does not move
    at::Tensor z = at::randn({2, 3, 8, 8}, at::kDouble);
    expect_gradient_matches_finite_differences(*model, z, /*n=*/12, sn ? "resnet sn" : "resnet");
  }
}

TEST(ImageModels, ValueAndGradLeavesParameterGradientsUndefined) {
  for (const std::string type : {"convnet", "resnet"}) {
    Json section{{"type", type}, {"n_f", 4}};
    if (type == "resnet") section["spectral_norm"] = true;
    auto model = make_model(section, {1, 28, 28});
    model->train();
    ModelLogDensity logp(model);
    LogDensityValue vg = logp(at::randn({4, 1, 28, 28}));
    EXPECT_EQ(vg.grad.sizes(), at::IntArrayRef({4, 1, 28, 28}));
    EXPECT_FALSE(vg.f.requires_grad()) << type;
    EXPECT_FALSE(vg.grad.requires_grad()) << type;
    for (const auto& p : model->parameters()) EXPECT_FALSE(p.grad().defined()) << type;
  }
}

TEST(ResNet, SamplingDoesNotMoveThePowerIteration) {
  auto model = std::make_shared<ResNetEnergy>(ResNetOptions{/*n_f=*/4, /*blocks=*/1,
                                                            /*spectral_norm=*/true, 0.2, 3, 8});
  model->train();
  std::vector<at::Tensor> before;
  for (const auto& b : model->buffers()) before.push_back(b.clone());
  ASSERT_EQ(before.size(), 2u * model->layers().size());  // u and v per layer
  at::Tensor z = at::randn({2, 3, 8, 8});
  LogDensityValue a = model->value_and_grad(z);
  LogDensityValue b = model->value_and_grad(z);
  EXPECT_TRUE(at::equal(a.f, b.f));
  EXPECT_TRUE(at::equal(a.grad, b.grad));
  {
    at::NoGradGuard no_grad;  // ModelLogDensity::value
    model->forward(z);
  }
  auto after = model->buffers();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(at::equal(before[i], after[i])) << i;
  // A training forward (grad mode on) does move them.
  model->forward(z);
  EXPECT_FALSE(at::equal(before[0], model->buffers()[0]));
}

TEST(ResNet, TwoTrainingForwardsThenBackwardWork) {
  // The trainer evaluates f on data and on chains before one backward; the second
  // power iteration must not invalidate the first graph.
  auto model = make_model(Json{{"type", "resnet"}, {"n_f", 4}, {"spectral_norm", true}}, {3, 8, 8});
  model->train();
  at::Tensor loss = model->forward(at::randn({2, 3, 8, 8})).mean() -
                    model->forward(at::randn({2, 3, 8, 8})).mean();
  EXPECT_NO_THROW(loss.backward());
  for (const auto& p : model->parameters()) EXPECT_TRUE(p.grad().defined());
}

TEST(ResNet, SpectralNormGivesUnitLargestSingularValue) {
  at::manual_seed(4);
  ResNetOptions o;
  o.n_f = 4;
  o.spectral_norm = true;
  o.channels = 3;
  o.size = 8;
  auto model = std::make_shared<ResNetEnergy>(o);
  model->to(at::kDouble);
  model->train();
  // Scale the raw weights so the unnormalised spectral norms are far from 1.
  {
    at::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.mul_(5.0);
  }
  at::Tensor x = at::randn({1, 3, 8, 8}, at::kDouble);
  for (int it = 0; it < 300; ++it) model->forward(x);  // one power iteration each
  const auto layers = model->layers();
  ASSERT_EQ(layers.size(), 1u + 2 + 3 + 3 + 1);  // stem, 3 blocks (2 with skip), fc
  for (size_t i = 0; i < layers.size(); ++i) {
    at::NoGradGuard no_grad;
    at::Tensor w = layers[i]->effective_weight();
    at::Tensor raw_top = at::linalg_svdvals(layers[i]->weight_matrix()).max();
    at::Tensor top = at::linalg_svdvals(w.reshape({w.size(0), -1})).max();
    EXPECT_GT(raw_top.item<double>(), 1.5) << "layer " << i;
    EXPECT_NEAR(top.item<double>(), 1.0, 1e-6) << "layer " << i;
  }
}

TEST(ImageModels, FactoryErrors) {
  std::string e = factory_error(Json{{"type", "convnet"}}, {3, 30, 30});
  EXPECT_NE(e.find("model.type"), std::string::npos) << e;
  EXPECT_NE(e.find("28, 32 or 64"), std::string::npos) << e;
  EXPECT_NE(e.find("30x30"), std::string::npos) << e;

  e = factory_error(Json{{"type", "convnet"}}, {3, 32, 28});
  EXPECT_NE(e.find("square"), std::string::npos) << e;
  e = factory_error(Json{{"type", "resnet"}}, {3, 32, 28});
  EXPECT_NE(e.find("square"), std::string::npos) << e;
  e = factory_error(Json{{"type", "resnet"}}, {3, 30, 30});
  EXPECT_NE(e.find("multiple of 4"), std::string::npos) << e;

  e = factory_error(Json{{"type", "convnet"}, {"nf", 32}}, {3, 32, 32});
  EXPECT_NE(e.find("model.nf"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean model.n_f"), std::string::npos) << e;
  e = factory_error(Json{{"type", "resnet"}, {"spectralnorm", true}}, {3, 32, 32});
  EXPECT_NE(e.find("did you mean model.spectral_norm"), std::string::npos) << e;

  // Flat data: images only.
  e = factory_error(Json{{"type", "convnet"}}, {2});
  EXPECT_NE(e.find("[B, C, H, W]"), std::string::npos) << e;
  // The "channels"/"size" keys written by to_json must agree with the data.
  e = factory_error(Json{{"type", "convnet"}, {"channels", 3}}, {1, 28, 28});
  EXPECT_NE(e.find("model.channels"), std::string::npos) << e;
  // Out-of-range option.
  e = factory_error(Json{{"type", "resnet"}, {"blocks", 0}}, {3, 32, 32});
  EXPECT_NE(e.find("model.blocks"), std::string::npos) << e;

  const auto types = model_types();
  EXPECT_NE(std::find(types.begin(), types.end(), "convnet"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "resnet"), types.end());
}
