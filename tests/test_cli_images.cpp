// test_cli_images.cpp — end-to-end tests of `anila sample --checkpoint` and
// `anila inpaint` on a tiny image run: a ConvNet (n_f = 4) trained for 4
// iterations on 16 synthetic 28×28 IDX images, once for the whole suite.
//
// Checked: the grids, arrays and summary the commands write; samples started
// from data are data images; inpainted kept pixels are bit-identical to the
// images as loaded from the folder; and the user errors (corrupt checkpoint,
// checkpoint of another architecture, unknown mask or sampler, a config whose
// images have another size, a missing image folder) giving exit code 2 with
// one line. (Each command start costs ~0.3-0.8 s of LibTorch loading, so the
// cases the library test covers are not repeated here.)
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/data/images.h"
#include "anila/io/files.h"
#include "anila/io/image.h"
#include "anila/train/generate.h"
#include "cli_run.h"
#include "test_util.h"

namespace fs = std::filesystem;
using anila::Json;

namespace {

using anila::test::Result;
using anila::test::run;

Json read_json(const std::string& p) {
  return Json::parse(anila::io::read_text(p));
}

// Rows of `samples` [N, ...] bit-identical to some row of `pool` [P, ...].
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

class CliImages : public ::testing::Test {
 protected:
  // One trained run (and its data) for the whole suite.
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() /
                         ("anila_cli_images_" + std::to_string(::getpid())));
    fs::remove_all(*root_);
    fs::create_directories(*root_);
    anila::test::write_idx_images(shared("train-images-idx3-ubyte"), 16);
    std::ofstream(shared("img.json")) << R"({"seed": 2,
      "data": {"type": "idx", "path": ")" + shared("train-images-idx3-ubyte") +
                                             R"("},
      "model": {"type": "convnet", "n_f": 4},
      "sampler": {"type": "langevin", "step_size": 1.0, "noise_scale": 0.01,
                  "clamp_min": -1.0, "clamp_max": 1.0},
      "chains": {"type": "noise"},
      "train": {"iterations": 4, "batch_size": 8, "mcmc_steps": 8, "log_every": 2},
      "eval": {"every": 0, "samples": 8}})";
    Result r = run("train --quiet --config " + shared("img.json") + " --out " + shared("run"));
    ASSERT_EQ(r.code, 0) << r.output;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  void SetUp() override {
    dir_ = *root_ / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(dir_);
  }
  static std::string shared(const std::string& name) { return (*root_ / name).string(); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // A folder of three 40×40 RGB PNGs (resized to the model's 28×28 luminance on load).
  std::string image_folder() const {
    const std::string folder = path("pngs");
    fs::create_directories(folder);
    for (int k = 0; k < 3; ++k) {
      anila::io::Image im(40, 40);
      for (int y = 0; y < 40; ++y)
        for (int x = 0; x < 40; ++x)
          im.at(x, y) = {static_cast<uint8_t>((x * 6 + k * 40) % 256),
                         static_cast<uint8_t>((y * 6) % 256), static_cast<uint8_t>(k * 80)};
      anila::io::write_png(im, folder + "/img" + std::to_string(k) + ".png");
    }
    return folder;
  }
  // A copy of the trained run that a test may damage.
  std::string run_copy() const {
    fs::copy(shared("run"), path("run"), fs::copy_options::recursive);
    return path("run");
  }
  static fs::path* root_;
  fs::path dir_;
};

fs::path* CliImages::root_ = nullptr;

void expect_one_line_error(const Result& r, const std::string& expect, const std::string& what) {
  EXPECT_EQ(r.code, 2) << what << "\n" << r.output;
  EXPECT_NE(r.output.find("anila: error: "), std::string::npos) << what << "\n" << r.output;
  EXPECT_NE(r.output.find(expect), std::string::npos) << what << "\n" << r.output;
  EXPECT_LE(std::count(r.output.begin(), r.output.end(), '\n'), 1) << what << "\n" << r.output;
}

}  // namespace

TEST_F(CliImages, SampleWritesGridsArraysAndSummary) {
  const std::string out = path("s");
  Result r = run("sample --checkpoint " + shared("run") +
                 " --samplers langevin,anila --chains 8 --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* f : {"samples.png", "summary.json", "langevin/samples.png",
                        "langevin/samples.npy", "anila/samples.png", "anila/samples.npy"}) {
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  }
  for (const char* s : {"langevin", "anila"}) {
    at::Tensor z = anila::io::read_npy(out + "/" + s + "/samples.npy");
    EXPECT_EQ(z.sizes(), at::IntArrayRef({8, 1, 28, 28})) << s;
  }
  Json summary = read_json(out + "/summary.json");
  EXPECT_EQ(summary["steps"], 8);  // the run's train.mcmc_steps
  EXPECT_EQ(summary["chains"], 8);
  EXPECT_TRUE(summary["samplers"]["anila"]["energy_gap"].is_number());
  // The run's step and noise settings are kept when the type is replaced.
  EXPECT_DOUBLE_EQ(summary["samplers"]["anila"]["sampler"]["noise_scale"].get<double>(), 0.01);

  // From data with no steps: the samples are training images; default chains 64.
  Result d = run("sample --quiet --checkpoint " + shared("run") +
                 "/checkpoints/last.pt --init data --steps 0 --out " + path("d"));
  ASSERT_EQ(d.code, 0) << d.output;
  at::Tensor z = anila::io::read_npy(path("d") + "/langevin/samples.npy");  // the run's sampler
  ASSERT_EQ(z.sizes(), at::IntArrayRef({64, 1, 28, 28}));
  anila::data::ImageDataset data = anila::data::load_image_dataset(
      {{"type", "idx"}, {"path", shared("train-images-idx3-ubyte")}});
  EXPECT_EQ(rows_found_in(z, data.images), 64);

  expect_one_line_error(
      run("sample --checkpoint " + shared("run") + " --samplers anilla --out " + path("z")),
      "did you mean anila", "bad sampler");

  // Keys for every sampler and for one: sampler.threshold reaches anila (mala does
  // not read it), mala.step_size only mala.
  Result k = run("sample --quiet --checkpoint " + shared("run") +
                 " --samplers mala,anila --chains 4 --set sampler.threshold=0.5 --set "
                 "mala.step_size=0.25 --out " +
                 path("k"));
  ASSERT_EQ(k.code, 0) << k.output;
  Json ks = read_json(path("k") + "/summary.json");
  EXPECT_DOUBLE_EQ(ks["samplers"]["anila"]["sampler"]["threshold"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(ks["samplers"]["mala"]["sampler"]["step_size"].get<double>(), 0.25);
  EXPECT_FALSE(ks["samplers"]["mala"]["sampler"].contains("threshold"));
  EXPECT_NE(ks["samplers"]["anila"]["sampler"]["step_size"].get<double>(), 0.25);
  expect_one_line_error(run("sample --checkpoint " + shared("run") +
                            " --samplers mala --set hmc.step_size=1 --out " + path("z")),
                        "not one of the samplers run here (mala)", "a sampler not run");
  expect_one_line_error(run("sample --checkpoint " + shared("run") +
                            " --samplers mala --set mlaa.step_size=1 --out " + path("z")),
                        "did you mean mala", "an unknown sampler section");
}

TEST_F(CliImages, InpaintFromAnImageFolder) {
  const std::string runs = run_copy();
  Result r = run("inpaint --checkpoint " + runs + " --images " + image_folder() + " --mask center");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string out = runs + "/inpaint-center";  // the default output folder
  for (const char* f : {"original.png", "masked.png", "inpainted.png", "figure.png",
                        "inpainted.npy", "mask.npy", "summary.json"}) {
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  }
  at::Tensor x =
      anila::data::load_image_dataset(
          {{"type", "image_folder"}, {"path", path("pngs")}, {"size", 28}, {"channels", 1}})
          .images;
  at::Tensor y = anila::io::read_npy(out + "/inpainted.npy");
  at::Tensor mask = anila::io::read_npy(out + "/mask.npy").to(at::kBool);
  ASSERT_EQ(y.sizes(), at::IntArrayRef({3, 1, 28, 28}));
  EXPECT_EQ(mask.sum().item<int64_t>(), 3 * 14 * 14);
  EXPECT_TRUE(at::equal(y.masked_select(~mask), x.masked_select(~mask)));
  Json summary = read_json(out + "/summary.json");
  EXPECT_EQ(summary["mask"], "center");
  EXPECT_EQ(summary["steps"], 8);
  EXPECT_DOUBLE_EQ(summary["mask_fraction"].get<double>(), 0.25);
}

TEST_F(CliImages, InpaintFromAConfigsDataSection) {
  std::ofstream(path("test.json"))
      << R"({"data": {"type": "idx", "path": ")" + shared("train-images-idx3-ubyte") + R"("}})";
  Result r = run("inpaint --checkpoint " + shared("run") + " --config " + path("test.json") +
                 " --mask random --n 2 --steps 2 --sampler mala --out " + path("o"));
  ASSERT_EQ(r.code, 0) << r.output;
  at::Tensor y = anila::io::read_npy(path("o") + "/inpainted.npy");
  EXPECT_EQ(y.sizes(), at::IntArrayRef({2, 1, 28, 28}));
  Json summary = read_json(path("o") + "/summary.json");
  EXPECT_EQ(summary["sampler"], "mala");
  EXPECT_EQ(summary["steps"], 2);

  // The same data resized to 32×32 does not fit the 28×28 model.
  std::ofstream(path("big.json")) << R"({"data": {"type": "idx", "size": 32, "path": ")" +
                                         shared("train-images-idx3-ubyte") + R"("}})";
  expect_one_line_error(run("inpaint --checkpoint " + shared("run") + " --config " +
                            path("big.json") + " --out " + path("b")),
                        "1x32x32", "size mismatch");
}

TEST_F(CliImages, BadInputsGiveExitTwoAndOneLine) {
  const std::string runs = run_copy();
  const std::string pngs = image_folder();
  expect_one_line_error(
      run("inpaint --checkpoint " + runs + " --images " + pngs + " --mask top --out " + path("o")),
      "center", "unknown mask");
  expect_one_line_error(
      run("inpaint --checkpoint " + runs + " --images " + path("absent") + " --out " + path("o")),
      "absent", "missing folder");
  EXPECT_FALSE(fs::exists(path("o")));

  // A checkpoint of another architecture: the config says n_f = 8.
  Json config = read_json(runs + "/config.json");
  config["model"]["n_f"] = 8;
  std::ofstream(runs + "/config.json") << config.dump(2);
  expect_one_line_error(
      run("sample --checkpoint " + runs + " --samplers langevin --chains 2 --out " + path("o")),
      runs + "/checkpoints/last.pt does not match the configured model", "other architecture");
  config["model"]["n_f"] = 4;
  std::ofstream(runs + "/config.json") << config.dump(2);

  // A truncated checkpoint.
  const std::string ckpt = runs + "/checkpoints/last.pt";
  fs::resize_file(ckpt, fs::file_size(ckpt) / 2);
  expect_one_line_error(
      run("inpaint --checkpoint " + ckpt + " --images " + pngs + " --out " + path("o")), ckpt,
      "truncated checkpoint (inpaint)");
  EXPECT_FALSE(fs::exists(path("o")));
}
