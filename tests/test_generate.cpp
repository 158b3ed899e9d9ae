// test_generate.cpp — drawing images from and inpainting with an image EBM
// (anila/train/generate.h), on a hand-built run: an untrained ConvNet (n_f = 4)
// on 1×28×28 images, a noise chain source and ten random "data" images.
//
// Checked: the three masks against hand-written pixel sets and, for the random
// one, a binomial bound on the masked fraction; the masked log-density's value
// and gradient against the model's at the completed image (zero force on kept
// pixels); inpainting leaving kept pixels bit-identical for every mask and for
// unadjusted (anila, langevin) and MH (mala) samplers; generate_images' files,
// shapes, grid size and summary values recomputed from the written samples;
// θ untouched; `init = data` starting from the data set; every user error.
//
// Notation: N images, C channels, H = W = 28 pixels, K sampler steps.
#include <cmath>
#include <filesystem>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/chains/chain_source.h"
#include "anila/config.h"
#include "anila/data/images.h"
#include "anila/io/files.h"
#include "anila/io/image.h"
#include "anila/models/energy.h"
#include "anila/train/generate.h"
#include "test_util.h"

using namespace anila;
using anila::test::TempDir;
using anila::test::user_error_message;

namespace fs = std::filesystem;

namespace {

constexpr int64_t kSide = 28;

// A run as load_run would return it, built in memory.
LoadedRun tiny_run() {
  LoadedRun run;
  run.dir = "/nowhere/tiny";
  run.sample_shape = {1, kSide, kSide};
  at::manual_seed(7);
  run.model = make_model(Json{{"type", "convnet"}, {"n_f", 4}}, run.sample_shape);
  at::Generator gen = make_generator(1, at::kCPU);
  run.chains = make_chain_source(parse_chain_options(Json{{"type", "noise"}}), run.sample_shape,
                                 at::kCPU, gen);
  // sampler.* keys apply to every type; AniLA's own key in samplers.anila.
  run.config = {
      {"sampler",
       {{"type", "langevin"},
        {"step_size", 1.0},
        {"noise_scale", 0.01},
        {"clamp_min", -1.0},
        {"clamp_max", 1.0}}},
      {"samplers", {{"anila", {{"threshold", 0.01}}}, {"anila-mh", {{"threshold", 0.01}}}}},
      {"train", {{"mcmc_steps", 3}}}};
  run.temperature = 1e-4;
  auto images = std::make_shared<data::ImageDataset>();
  images->images = at::rand({10, 1, kSide, kSide}, gen) * 2 - 1;
  images->name = "random";
  run.images = images;
  return run;
}

// Rows of `samples` [N, ...] that are bit-identical to some row of `pool` [P, ...].
int64_t rows_found_in(const at::Tensor& samples, const at::Tensor& pool) {
  int64_t found = 0;
  for (int64_t i = 0; i < samples.size(0); ++i) {
    for (int64_t j = 0; j < pool.size(0); ++j) {
      if (at::equal(samples[i], pool[j])) {
        ++found;
        break;
      }
    }
  }
  return found;
}

Json read_json(const std::string& path) {
  return Json::parse(io::read_text(path));
}

}  // namespace

TEST(Inpaint, CenterAndLeftHalfMasksAreTheDocumentedSquares) {
  // center on 28×28: side 14, rows and columns [7, 21); left-half: columns [0, 14).
  at::Tensor center = make_inpaint_mask("center", {2, 3, kSide, kSide}, 0);
  ASSERT_EQ(center.sizes(), at::IntArrayRef({2, 3, kSide, kSide}));
  ASSERT_EQ(center.scalar_type(), at::kBool);
  at::Tensor expect = at::zeros({2, 3, kSide, kSide}, at::kBool);
  for (int64_t y = 7; y < 21; ++y)
    for (int64_t x = 7; x < 21; ++x) expect.select(2, y).select(2, x).fill_(true);
  EXPECT_TRUE(at::equal(center, expect));
  EXPECT_EQ(center.sum().item<int64_t>(), 2 * 3 * 14 * 14);

  at::Tensor left = make_inpaint_mask("left-half", {1, 1, kSide, kSide}, 0);
  EXPECT_TRUE(left[0][0][5][13].item<bool>());
  EXPECT_FALSE(left[0][0][5][14].item<bool>());
  EXPECT_EQ(left.sum().item<int64_t>(), kSide * 14);

  // Odd side 5: centre square of side 2 at rows/columns [1, 3).
  at::Tensor odd = make_inpaint_mask("center", {1, 1, 5, 5}, 0);
  EXPECT_EQ(odd.sum().item<int64_t>(), 4);
  EXPECT_TRUE(odd[0][0][1][1].item<bool>() && odd[0][0][2][2].item<bool>());
  EXPECT_FALSE(odd[0][0][3][3].item<bool>());

  EXPECT_NE(user_error_message([] {
              make_inpaint_mask("centre", {1, 1, 8, 8}, 0);
            }).find("did you mean center"),
            std::string::npos);
}

TEST(Inpaint, RandomMaskIsSeededSharedOverChannelsAndHalfFull) {
  const std::vector<int64_t> shape = {4, 3, kSide, kSide};
  at::Tensor a = make_inpaint_mask("random", shape, 11);
  at::Tensor b = make_inpaint_mask("random", shape, 11);
  at::Tensor c = make_inpaint_mask("random", shape, 12);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_FALSE(at::equal(a, c));
  for (int64_t ch = 1; ch < 3; ++ch) EXPECT_TRUE(at::equal(a.select(1, ch), a.select(1, 0)));
  // n = 4·28·28 independent Bernoulli(1/2) pixels: the fraction has sd 0.5/√n;
  // 5 sd bounds it (two-sided miss probability < 1e-6).
  const double n = 4.0 * kSide * kSide;
  const double fraction = a.select(1, 0).to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(fraction, 0.5, 5 * 0.5 / std::sqrt(n));
  // Images get different masks.
  EXPECT_FALSE(at::equal(a[0], a[1]));
}

TEST(Inpaint, MaskedLogDensityIsTheModelAtTheCompletedImageWithMaskedGradient) {
  LoadedRun run = tiny_run();
  at::Generator gen = make_generator(3, at::kCPU);
  at::Tensor x = at::rand({3, 1, kSide, kSide}, gen) * 2 - 1;
  at::Tensor z = at::rand({3, 1, kSide, kSide}, gen) * 2 - 1;
  at::Tensor mask = make_inpaint_mask("random", {3, 1, kSide, kSide}, 5);
  InpaintLogDensity g(run.model, x, mask);
  LogDensityValue v = g(z);
  // Independently: the completed image m⊙z + (1−m)⊙x in float arithmetic.
  at::Tensor m = mask.to(at::kFloat);
  at::Tensor y = m * z + (1 - m) * x;
  LogDensityValue ref = run.model->value_and_grad(y);
  EXPECT_TRUE(at::allclose(v.f, ref.f, 1e-6, 1e-7));
  EXPECT_TRUE(at::allclose(v.grad, m * ref.grad, 1e-6, 1e-9));
  EXPECT_TRUE(at::equal(v.grad.masked_select(~mask), at::zeros({(~mask).sum().item<int64_t>()})));
  EXPECT_GT(v.grad.masked_select(mask).abs().sum().item<double>(), 0);
  // The kept coordinates of z do not matter at all.
  at::Tensor z2 = at::where(mask, z, at::rand(z.sizes(), gen));
  EXPECT_TRUE(at::equal(g.value(z2), g.value(z)));
  EXPECT_TRUE(at::equal(g.complete(z), y));
}

TEST(Inpaint, KeptPixelsAreBitIdenticalForEveryMaskAndSampler) {
  LoadedRun run = tiny_run();
  TempDir tmp("anila_inpaint");
  at::Generator gen = make_generator(4, at::kCPU);
  const at::Tensor x = at::rand({5, 1, kSide, kSide}, gen) * 2 - 1;
  // MALA with a small step so that proposals are accepted on this tiny model.
  const Json mala = {{"type", "mala"}, {"step_size", 1e-3}, {"noise_scale", 0.01}};
  struct Case {
    std::string sampler;
    Json section;
  };
  const std::vector<Case> cases = {{"anila", nullptr}, {"langevin", nullptr}, {"", mala}};
  int k = 0;
  for (const std::string mask_type : {"center", "left-half", "random"}) {
    for (const auto& c : cases) {
      InpaintOptions o;
      o.mask = mask_type;
      o.sampler_type = c.sampler;
      o.sampler = c.section;
      o.steps = 3;
      o.seed = 21;
      o.out_dir = tmp / ("out" + std::to_string(k++));
      const std::string what = mask_type + "/" + (c.sampler.empty() ? "mala" : c.sampler);
      Json s = inpaint_images(run, x, o);
      EXPECT_EQ(s["sampler"], c.sampler.empty() ? "mala" : c.sampler) << what;
      EXPECT_EQ(s["steps"], 3);
      at::Tensor out = io::read_npy(o.out_dir + "/inpainted.npy");
      at::Tensor mask = io::read_npy(o.out_dir + "/mask.npy").to(at::kBool);
      ASSERT_EQ(out.sizes(), x.sizes()) << what;
      EXPECT_TRUE(at::equal(mask, make_inpaint_mask(mask_type, x.sizes().vec(), 21))) << what;
      EXPECT_TRUE(at::equal(out.masked_select(~mask), x.masked_select(~mask))) << what;
      // Masked pixels start from uniform noise: none keeps its original value.
      EXPECT_EQ((out != x).logical_and(mask).sum().item<int64_t>(), mask.sum().item<int64_t>())
          << what;
      // The sampler moved them away from their start (mse differs from the start's).
      EXPECT_NE(s["mse"].get<double>(), s["mse_start"].get<double>()) << what;
      if (c.sampler.empty()) {
        EXPECT_GT(s["stats"]["accept"].get<double>(), 0) << what;
      }
      // Summary values recomputed from the written arrays.
      const at::Tensor m = mask.to(at::kDouble);
      const double mse =
          ((out.to(at::kDouble) - x.to(at::kDouble)).pow(2) * m).sum().item<double>() /
          m.sum().item<double>();
      EXPECT_NEAR(s["mse"].get<double>(), mse, 1e-6 * mse) << what;
      EXPECT_DOUBLE_EQ(s["mask_fraction"].get<double>(), m.mean().item<double>()) << what;
      for (const char* f :
           {"original.png", "masked.png", "inpainted.png", "figure.png", "summary.json"}) {
        EXPECT_TRUE(fs::exists(o.out_dir + "/" + f)) << what << " " << f;
      }
    }
  }
  // masked.png shows masked pixels mid-grey (value 0 -> byte 128) and keeps the rest.
  io::Image masked = io::read_png(tmp / "out0/masked.png");
  // Image 0 at (2, 2), pixels 2×2: the centre pixel (14, 14) is masked.
  EXPECT_EQ(masked.at(2 + 2 * 14, 2 + 2 * 14).r, 128);
}

// The inputs of `anila inpaint`, as a library call: a folder's images at the run's
// size and channels, or a config's image data; the first n of them.
TEST(Inpaint, InputsFromAFolderOrAConfig) {
  test::TempDir tmp;
  const LoadedRun run = tiny_run();
  std::filesystem::create_directories(tmp / "imgs");
  for (int i = 0; i < 3; ++i) {
    io::write_png(io::Image(40, 40, {uint8_t(60 * i), 90, 200}),
                  tmp / ("imgs/" + std::to_string(i) + ".png"));
  }
  const at::Tensor x = inpaint_inputs(run, tmp / "imgs", "", 2);
  EXPECT_EQ(x.sizes().vec(), (std::vector<int64_t>{2, 1, kSide, kSide}));
  EXPECT_LE(x.max().item<float>(), 1.0f);
  EXPECT_GE(x.min().item<float>(), -1.0f);
  EXPECT_EQ(inpaint_inputs(run, tmp / "imgs", "", 10).size(0), 3);  // all there are
  io::write_atomic(
      tmp / "c.json",
      Json{{"data",
            {{"type", "image_folder"}, {"path", tmp / "imgs"}, {"size", kSide}, {"channels", 1}}}}
          .dump());
  EXPECT_EQ(inpaint_inputs(run, "", tmp / "c.json", 1).sizes().vec(),
            (std::vector<int64_t>{1, 1, kSide, kSide}));
  EXPECT_NE(
      test::user_error_message([&] { inpaint_inputs(run, "", "", 1); }).find("exactly one of"),
      std::string::npos);
  EXPECT_NE(test::user_error_message([&] {
              inpaint_inputs(run, tmp / "none", "", 1);
            }).find("not a folder"),
            std::string::npos);
  io::write_atomic(tmp / "rings.json", Json{{"data", {{"type", "rings"}}}}.dump());
  EXPECT_NE(test::user_error_message([&] {
              inpaint_inputs(run, "", tmp / "rings.json", 1);
            }).find("is not image data"),
            std::string::npos);
}

TEST(Inpaint, UserErrors) {
  LoadedRun run = tiny_run();
  TempDir tmp("anila_inpaint_err");
  InpaintOptions o;
  o.out_dir = tmp / "out";
  at::Tensor rgb = at::zeros({2, 3, kSide, kSide});
  EXPECT_NE(user_error_message([&] { inpaint_images(run, rgb, o); }).find("[N, 1x28x28]"),
            std::string::npos);
  at::Tensor x = at::zeros({2, 1, kSide, kSide});
  InpaintOptions bad_mask = o;
  bad_mask.mask = "top";
  EXPECT_NE(user_error_message([&] { inpaint_images(run, x, bad_mask); }).find("mask"),
            std::string::npos);
  InpaintOptions bad_sampler = o;
  bad_sampler.sampler_type = "anilla";
  EXPECT_NE(user_error_message([&] { inpaint_images(run, x, bad_sampler); }).find("did you mean"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(o.out_dir));  // nothing written before the checks
  LoadedRun flat = run;
  flat.sample_shape = {2};
  EXPECT_NE(user_error_message([&] { inpaint_images(flat, x, o); }).find("not an image run"),
            std::string::npos);
}

TEST(Generate, WritesSamplesGridsAndSummaryWithThetaFrozen) {
  LoadedRun run = tiny_run();
  std::vector<at::Tensor> before;
  for (const auto& p : run.model->parameters()) before.push_back(p.detach().clone());
  TempDir tmp("anila_generate");
  GenerateOptions o;
  o.samplers = {"langevin", "anila"};
  o.chains = 6;
  o.steps = 2;
  o.out_dir = tmp / "gen";
  Json s = generate_images(run, o);
  EXPECT_EQ(s["steps"], 2);
  EXPECT_EQ(s["chains"], 6);
  for (const std::string name : {"langevin", "anila"}) {
    at::Tensor z = io::read_npy(o.out_dir + "/" + name + "/samples.npy");
    ASSERT_EQ(z.sizes(), at::IntArrayRef({6, 1, kSide, kSide})) << name;
    EXPECT_EQ(z.scalar_type(), at::kFloat);
    // The run's clamp to [−1, 1] was kept (the sampler keys besides type are the run's).
    EXPECT_LE(z.abs().max().item<double>(), 1.0);
    // Grid: ⌈√6⌉ = 3 columns, 2 rows, 2×2 pixels, 2-pixel gutters.
    io::Image grid = io::read_png(o.out_dir + "/" + name + "/samples.png");
    EXPECT_EQ(grid.width(), 3 * (2 * kSide + 2) + 2);
    EXPECT_EQ(grid.height(), 2 * (2 * kSide + 2) + 2);
    // mean f recomputed from the written samples; the gap against the data batch.
    const Json& row = s["samplers"][name];
    at::NoGradGuard no_grad;
    const double f = run.model->forward(z).mean().item<double>();
    EXPECT_NEAR(row["mean_f"].get<double>(), f, 1e-5 * std::abs(f) + 1e-6) << name;
    EXPECT_NEAR(row["energy_gap"].get<double>(), s["f_data"].get<double>() - f,
                1e-5 * std::abs(f) + 1e-6);
    EXPECT_GT(row["grad_abs_last"].get<double>(), 0);
    EXPECT_EQ(row["sampler"]["type"], name);
    EXPECT_DOUBLE_EQ(row["sampler"]["noise_scale"].get<double>(), 0.01);
    EXPECT_EQ(row["stats"].value("grad_abs", -1.0) > 0, true);
  }
  EXPECT_TRUE(fs::exists(o.out_dir + "/samples.png"));
  EXPECT_EQ(read_json(o.out_dir + "/summary.json")["sampler_order"], Json({"langevin", "anila"}));
  // θ frozen: parameters unchanged, no parameter gradients.
  auto params = run.model->parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(at::equal(params[i], before[i]));
    EXPECT_FALSE(params[i].grad().defined());
  }
}

TEST(Generate, InitDataStartsFromTheDataSetAndDefaultsToTheRunsSampler) {
  LoadedRun run = tiny_run();
  TempDir tmp("anila_generate_init");
  GenerateOptions o;
  o.chains = 5;
  o.steps = 0;
  o.init = "data";
  o.out_dir = tmp / "data";
  Json s = generate_images(run, o);
  EXPECT_EQ(s["sampler_order"], Json({"langevin"}));  // the run's training sampler
  at::Tensor z = io::read_npy(o.out_dir + "/langevin/samples.npy");
  EXPECT_EQ(rows_found_in(z, run.images->images), 5);
  // From noise instead: uniform on [−1, 1] (scale 1), none a data image.
  o.init = "noise";
  o.out_dir = tmp / "noise";
  generate_images(run, o);
  z = io::read_npy(o.out_dir + "/langevin/samples.npy");
  EXPECT_EQ(rows_found_in(z, run.images->images), 0);
  EXPECT_LE(z.abs().max().item<double>(), 1.0);
  EXPECT_GT(z.std().item<double>(), 0.5);  // uniform[−1, 1] has sd 1/√3 ≈ 0.577
  // Every sampler starts from the same states.
  o.samplers = {"langevin", "gd"};
  o.out_dir = tmp / "same";
  generate_images(run, o);
  EXPECT_TRUE(at::equal(io::read_npy(o.out_dir + "/langevin/samples.npy"),
                        io::read_npy(o.out_dir + "/gd/samples.npy")));
  o.samplers = {};
  // The default K is the run's train.mcmc_steps.
  o.steps = -1;
  o.out_dir = tmp / "k";
  EXPECT_EQ(generate_images(run, o)["steps"], 3);
}

TEST(Generate, UserErrors) {
  LoadedRun run = tiny_run();
  TempDir tmp("anila_generate_err");
  GenerateOptions o;
  o.chains = 2;
  o.steps = 1;
  o.out_dir = tmp / "out";
  auto message = [&](auto edit) {
    GenerateOptions e = o;
    edit(e);
    return user_error_message([&] { generate_images(run, e); });
  };
  EXPECT_NE(message([](GenerateOptions& e) { e.samplers = {"langevn"}; }).find("did you mean"),
            std::string::npos);
  EXPECT_NE(message([](GenerateOptions& e) {
              e.samplers = {"anila", "anila"};
            }).find("listed twice"),
            std::string::npos);
  EXPECT_NE(message([](GenerateOptions& e) { e.init = "zeros"; }).find("init"), std::string::npos);
  EXPECT_NE(message([](GenerateOptions& e) { e.chains = 0; }).find("chains"), std::string::npos);
  EXPECT_NE(message([](GenerateOptions& e) { e.steps = -3; }).find("steps"), std::string::npos);
  EXPECT_FALSE(fs::exists(o.out_dir));
  generate_images(run, o);
  EXPECT_NE(user_error_message([&] { generate_images(run, o); }).find("--force"),
            std::string::npos);
  GenerateOptions again = o;
  again.force = true;
  generate_images(run, again);
  LoadedRun no_data = run;
  no_data.images = nullptr;
  EXPECT_NE(user_error_message([&] {
              GenerateOptions e = o;
              e.init = "data";
              generate_images(no_data, e);
            }).find("no image data"),
            std::string::npos);
}

TEST(Generate, CheckpointOfAnotherArchitectureIsAUserError) {
  LoadedRun run = tiny_run();
  run.checkpoint = "/nowhere/tiny/checkpoints/last.pt";
  run.config["model"] = {{"type", "convnet"}, {"n_f", 4}};
  TempDir tmp("anila_generate_arch");
  GenerateOptions o;
  o.chains = 2;
  o.steps = 1;
  o.out_dir = tmp / "ok";
  generate_images(run, o);  // the configured model is the loaded one
  // config.json says n_f = 8 but the parameters are n_f = 4 ones (conv0: [4, 1, 3, 3]).
  run.config["model"]["n_f"] = 8;
  at::manual_seed(99);
  const at::Tensor expect_next = at::rand({3});
  at::manual_seed(99);
  o.out_dir = tmp / "bad";
  const std::string msg = user_error_message([&] { generate_images(run, o); });
  EXPECT_NE(msg.find("/nowhere/tiny/checkpoints/last.pt does not match the configured model"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("[4, 1, 3, 3]"), std::string::npos) << msg;
  EXPECT_NE(user_error_message([&] {
              inpaint_images(run, at::zeros({1, 1, kSide, kSide}), InpaintOptions());
            }).find("different architecture"),
            std::string::npos);
  // Building the configured model for the check leaves the global generator as it was.
  EXPECT_TRUE(at::equal(at::rand({3}), expect_next));
  EXPECT_FALSE(fs::exists(o.out_dir));
}
