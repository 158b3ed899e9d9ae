// test_features.cpp — tests of the feature extractors (anila/eval/features.h).
//
// Notation: N images, C channels, S×S pixels, m = per-channel mean, p = pixel (row 1, col 0).
// TorchScript: tests/data/tiny_features.pt (written by tests/data/make_tiny_features.cpp)
// maps x [N, 3, S, S] to 8 features
//   [m0, m1, m2, m0 + m1 + m2 + 0.5, m0 − 2 m1 + 0.5 m2 − 1, p0, p1, p2],
// so every expected value below is computed by hand from those weights and the documented
// input adaptation (bilinear resize, channel repeat, range map). The built-in classifier
// is trained on a synthetic 3-class IDX set written here (a bright block whose position is
// the class), small enough to train in about a second.
//
//   run: ./anila_tests --gtest_filter='Features*'   (CPU, a few seconds)
#include <gtest/gtest.h>

#include "test_util.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "anila/common.h"
#include "anila/eval/features.h"

namespace anila::eval {
namespace {

namespace fs = std::filesystem;
using anila::test::TempDir;
using anila::test::user_error_message;
using Bytes = std::vector<uint8_t>;

const std::string kTiny = std::string(ANILA_SOURCE_DIR) + "/tests/data/tiny_features.pt";

std::string read_bytes(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << file;
}

void expect_row(const at::Tensor& f, int64_t row, const std::vector<double>& want, double tol) {
  ASSERT_EQ(f.size(1), int64_t(want.size()));
  for (size_t j = 0; j < want.size(); ++j) {
    EXPECT_NEAR(f[row][int64_t(j)].item<double>(), want[j], tol) << "row " << row << " col " << j;
  }
}

// The tiny module's features for per-channel means m and pixels p (see the file header).
std::vector<double> tiny_features(double m0, double m1, double m2, double p0, double p1,
                                  double p2) {
  return {m0, m1, m2, m0 + m1 + m2 + 0.5, m0 - 2 * m1 + 0.5 * m2 - 1, p0, p1, p2};
}

// Float rounding of a handful of float32 operations on values of order 1.
constexpr double kTol = 1e-6;

// ---- TorchScript ------------------------------------------------------------------

TEST(FeaturesTorchScript, ConstantImagesGiveHandComputedFeatures) {
  auto fx = load_feature_extractor(kTiny, c10::kCPU, {/*size=*/4, "minus1_1", /*channels=*/3});
  EXPECT_EQ(fx->name(), "torchscript:tiny_features.pt");
  EXPECT_EQ(fx->dim(), 8);
  // Image 0: channels 0.25, −0.5, 0.75; image 1: channels −1, 0, 1 (each plane constant).
  at::Tensor x = at::empty({2, 3, 4, 4});
  const float v[2][3] = {{0.25f, -0.5f, 0.75f}, {-1.0f, 0.0f, 1.0f}};
  for (int i = 0; i < 2; ++i) {
    for (int c = 0; c < 3; ++c) x[i][c].fill_(v[i][c]);
  }
  const at::Tensor f = fx->extract(x, /*batch=*/1);  // two batches of one
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{2, 8}));
  EXPECT_EQ(f.scalar_type(), at::kFloat);
  expect_row(f, 0, tiny_features(0.25, -0.5, 0.75, 0.25, -0.5, 0.75), kTol);
  expect_row(f, 1, tiny_features(-1, 0, 1, -1, 0, 1), kTol);
  // Spelled out for image 0: m0 − 2 m1 + 0.5 m2 − 1 = 0.25 + 1 + 0.375 − 1 = 0.625.
  EXPECT_NEAR(f[0][4].item<double>(), 0.625, kTol);
}

TEST(FeaturesTorchScript, ResizeChannelRepeatAndUnitRange) {
  // One 1-channel 2×2 image [[a, b], [c, d]] = [[−1, 1], [0.5, 0]], resized to 4×4.
  // Bilinear, align_corners = false, 2 -> 4: output index o samples source (o + 0.5)/2 − 0.5
  // = −0.25, 0.25, 0.75, 1.25, clamped at the edges, so the per-axis weights of source
  // pixels (0, 1) are (1, 0), (0.75, 0.25), (0.25, 0.75), (0, 1). Each source pixel gets
  // total weight 2 per axis, so the 4×4 mean is (a + b + c + d)/4 = 0.125; pixel (row 1,
  // col 0) is 0.75 a + 0.25 c = −0.625. Range 0_1 maps v to (v + 1)/2: 0.5625, 0.1875;
  // the plane is repeated into 3 channels.
  auto fx = load_feature_extractor(kTiny, c10::kCPU, {/*size=*/4, "0_1", /*channels=*/3});
  const at::Tensor x = at::tensor({-1.0f, 1.0f, 0.5f, 0.0f}).view({1, 1, 2, 2});
  const at::Tensor f = fx->extract(x);
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{1, 8}));
  expect_row(f, 0, tiny_features(0.5625, 0.5625, 0.5625, 0.1875, 0.1875, 0.1875), kTol);

  // The same adaptation through the public helper, pixel by pixel for row 1:
  // columns use the same weights: (0.75a+0.25c)·(1, 0.75, 0.25, 0) + (0.75b+0.25d)·(0, 0.25, 0.75,
  // 1) with 0.75a + 0.25c = −0.625 and 0.75b + 0.25d = 0.75 -> −0.625, −0.28125, 0.40625, 0.75.
  const at::Tensor a = adapt_torchscript_input(x, {4, "minus1_1", 3});
  ASSERT_EQ(a.sizes(), (std::vector<int64_t>{1, 3, 4, 4}));
  const std::vector<double> row1 = {-0.625, -0.28125, 0.40625, 0.75};
  for (int c = 0; c < 3; ++c) {
    for (int j = 0; j < 4; ++j) EXPECT_NEAR(a[0][c][1][j].item<double>(), row1[j], kTol);
  }
}

TEST(FeaturesTorchScript, ImagenetRangeAndLuminance) {
  // A black image (−1 everywhere) is 0 in [0, 1]; imagenet gives −mean_c / std_c.
  auto fx = load_feature_extractor(kTiny, c10::kCPU, {/*size=*/4, "imagenet", /*channels=*/3});
  const at::Tensor f = fx->extract(at::full({1, 3, 4, 4}, -1.0f));
  const double z0 = -0.485 / 0.229, z1 = -0.456 / 0.224, z2 = -0.406 / 0.225;
  expect_row(f, 0, tiny_features(z0, z1, z2, z0, z1, z2), 1e-5);

  // 3 -> 1 channel: luminance 0.299 R + 0.587 G + 0.114 B of (0.5, −1, 1) = −0.3095.
  const at::Tensor rgb = at::tensor({0.5f, -1.0f, 1.0f}).view({1, 3, 1, 1});
  const at::Tensor g = adapt_torchscript_input(rgb, {/*size=*/1, "minus1_1", /*channels=*/1});
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_NEAR(g.item<double>(), 0.299 * 0.5 - 0.587 + 0.114, kTol);

  EXPECT_NE(user_error_message([&] {
              adapt_torchscript_input(rgb, {1, "0_255", 3});
            }).find("valid: minus1_1, 0_1, imagenet"),
            std::string::npos);
  EXPECT_NE(user_error_message([&] {
              adapt_torchscript_input(at::zeros({1, 2, 4, 4}), {4, "minus1_1", 3});
            }).find("2-channel"),
            std::string::npos);
}

TEST(FeaturesTorchScript, ForwardFailureNamesTheInputShape) {
  // One channel makes the module's [1, 1] @ [3, 5] product fail at the load-time probe.
  const std::string e = user_error_message([&] {
    load_feature_extractor(kTiny, c10::kCPU, {/*size=*/4, "minus1_1", /*channels=*/1});
  });
  EXPECT_NE(e.find("tiny_features.pt"), std::string::npos) << e;
  EXPECT_NE(e.find("[1, 1, 4, 4]"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(FeaturesLoad, MissingCorruptAndForeignFilesAreUserErrors) {
  TempDir dir("anila_features");
  std::string e = user_error_message([&] { load_feature_extractor(dir / "nope.pt"); });
  EXPECT_NE(e.find(dir / "nope.pt"), std::string::npos) << e;
  EXPECT_NE(e.find("not found"), std::string::npos) << e;

  // A truncated TorchScript archive: still a zip header, not loadable.
  const std::string truncated = dir / "truncated.pt";
  write_bytes(truncated, read_bytes(kTiny).substr(0, 600));
  e = user_error_message([&] { load_feature_extractor(truncated); });
  EXPECT_NE(e.find(truncated), std::string::npos) << e;
  EXPECT_NE(e.find("TorchScript"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;

  // Neither format.
  const std::string text = dir / "notes.txt";
  write_bytes(text, "hello, these are not features\n");
  e = user_error_message([&] { load_feature_extractor(text); });
  EXPECT_NE(e.find(text), std::string::npos) << e;
  EXPECT_NE(e.find("neither"), std::string::npos) << e;

  // Our magic with a header of another architecture.
  const std::string other = dir / "other.pt";
  write_bytes(other, "ANILA-FEATURES\n{\"architecture\":\"resnet\",\"version\":1}\n");
  e = user_error_message([&] { load_feature_extractor(other); });
  EXPECT_NE(e.find("'resnet' version 1"), std::string::npos) << e;
  EXPECT_NE(e.find(other), std::string::npos) << e;

  // "fmnist" without the cached file (ANILA_CACHE_DIR pointing at an empty folder).
  const char* old_cache = std::getenv("ANILA_CACHE_DIR");
  const std::string saved = old_cache ? old_cache : "";
  ::setenv("ANILA_CACHE_DIR", (dir / "cache").c_str(), 1);
  EXPECT_EQ(default_fmnist_features_path(), dir / "cache/fmnist-features-v2.pt");
  e = user_error_message([&] { load_feature_extractor("fmnist"); });
  if (old_cache) {
    ::setenv("ANILA_CACHE_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("ANILA_CACHE_DIR");
  }
  EXPECT_NE(e.find(dir / "cache/fmnist-features-v2.pt"), std::string::npos) << e;
  EXPECT_NE(e.find("anila features train"), std::string::npos) << e;
}

// ---- the built-in classifier -------------------------------------------------------

void put_u32(Bytes& b, uint32_t v) {
  b.insert(b.end(), {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)});
}

// n images 28×28 of 3 classes (label = i % 3): noise 0..63 plus a block of 192..255 at the
// top-left quadrant (class 0), bottom-right quadrant (1) or rows 10..17 (2).
void write_synthetic_idx(const std::string& images_file, const std::string& labels_file, uint32_t n,
                         uint32_t seed) {
  Bytes img, lab;
  put_u32(img, 2051);
  put_u32(img, n);
  put_u32(img, 28);
  put_u32(img, 28);
  put_u32(lab, 2049);
  put_u32(lab, n);
  uint32_t state = seed;
  auto next6 = [&] {  // 6 pseudo-random bits (a 32-bit LCG)
    state = state * 1664525u + 1013904223u;
    return uint8_t(state >> 26);
  };
  for (uint32_t i = 0; i < n; ++i) {
    const int k = int(i % 3);
    for (int r = 0; r < 28; ++r) {
      for (int c = 0; c < 28; ++c) {
        const bool on = (k == 0 && r < 14 && c < 14) || (k == 1 && r >= 14 && c >= 14) ||
                        (k == 2 && r >= 10 && r < 18);
        img.push_back(uint8_t((on ? 192 : 0) + next6()));
      }
    }
    lab.push_back(uint8_t(k));
  }
  write_bytes(images_file, std::string(img.begin(), img.end()));
  write_bytes(labels_file, std::string(lab.begin(), lab.end()));
}

TEST(FeaturesClassifier, TrainsSavesReloadsDeterministically) {
  TempDir dir("anila_features");
  write_synthetic_idx(dir / "train-images-idx3-ubyte", dir / "train-labels-idx1-ubyte", 150, 1);
  write_synthetic_idx(dir / "t10k-images-idx3-ubyte", dir / "t10k-labels-idx1-ubyte", 60, 2);
  ClassifierTrainOptions o;
  o.epochs = 2;
  o.batch = 25;
  o.seed = 7;
  o.threads = 1;
  o.data_path = dir.str();
  const std::string file = dir / "sub/dir/fx.pt";  // parent folders are created
  const Json r = train_fmnist_classifier(o, file, /*quiet=*/true);
  EXPECT_EQ(r["train_images"], 150);
  EXPECT_EQ(r["test_images"], 60);
  EXPECT_EQ(r["architecture"], "fmnist-cnn");
  // The classes differ by a block of +192 grey levels over 196–224 pixels against noise
  // of range 64: any working CNN separates them; chance is 1/3.
  EXPECT_GE(r["test_accuracy"].get<double>(), 0.95) << r.dump();
  EXPECT_TRUE(fs::exists(file));

  auto fx = load_feature_extractor(file);
  EXPECT_EQ(fx->name(), "fmnist-classifier");
  EXPECT_EQ(fx->dim(), 128);
  // Test images as the loader sees them: b/127.5 − 1; class = index % 3.
  at::Tensor x = at::empty({6, 1, 28, 28});
  {
    const std::string bytes = read_bytes(dir / "t10k-images-idx3-ubyte");
    for (int64_t i = 0; i < 6; ++i) {
      for (int64_t p = 0; p < 28 * 28; ++p) {
        x[i][0][p / 28][p % 28] = double(uint8_t(bytes[16 + i * 784 + p])) / 127.5 - 1.0;
      }
    }
  }
  const at::Tensor f = fx->extract(x, /*batch=*/4);
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{6, 128}));
  EXPECT_TRUE(f.isfinite().all().item<bool>());
  EXPECT_GE(f.min().item<double>(), 0.0);  // a ReLU layer
  // Same class closer than other classes: images 0 and 3 (class 0) vs 1 (class 1).
  const double same = (f[0] - f[3]).norm().item<double>();
  const double diff = (f[0] - f[1]).norm().item<double>();
  EXPECT_LT(same, diff);

  // Reloading and retraining with the same seed and threads give the same bytes and features.
  EXPECT_TRUE(at::equal(load_feature_extractor(file)->extract(x, /*batch=*/4), f));
  const std::string file2 = dir / "fx2.pt";
  train_fmnist_classifier(o, file2, /*quiet=*/true);
  EXPECT_EQ(read_bytes(file2), read_bytes(file));

  // Other sizes are resized to 28×28 (a 28 -> 28 resize is the identity); colour is refused.
  EXPECT_EQ(fx->extract(at::zeros({2, 1, 32, 32})).sizes(), (std::vector<int64_t>{2, 128}));
  EXPECT_NE(user_error_message([&] {
              fx->extract(at::zeros({2, 3, 28, 28}));
            }).find("1-channel"),
            std::string::npos);

  // Corrupt copies: a flipped payload byte, a truncated payload.
  std::string bytes = read_bytes(file);
  bytes[bytes.size() - 100] ^= 0x40;
  write_bytes(dir / "flipped.pt", bytes);
  std::string e = user_error_message([&] { load_feature_extractor(dir / "flipped.pt"); });
  EXPECT_NE(e.find("CRC-32"), std::string::npos) << e;
  EXPECT_NE(e.find(dir / "flipped.pt"), std::string::npos) << e;
  write_bytes(dir / "short.pt", read_bytes(file).substr(0, bytes.size() - 4));
  e = user_error_message([&] { load_feature_extractor(dir / "short.pt"); });
  EXPECT_NE(e.find("corrupt"), std::string::npos) << e;
}

TEST(FeaturesClassifier, BadDataIsAUserError) {
  TempDir dir("anila_features");
  ClassifierTrainOptions o;
  o.data_path = dir / "missing";
  EXPECT_NE(
      user_error_message([&] { train_fmnist_classifier(o, dir / "x.pt", true); }).find("missing"),
      std::string::npos);
  o.epochs = 0;
  EXPECT_NE(
      user_error_message([&] { train_fmnist_classifier(o, dir / "x.pt", true); }).find("epochs"),
      std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "x.pt"));
}

}  // namespace
}  // namespace anila::eval
