// test_images.cpp — tests of the image datasets (anila/data/images.h).
//
// Notation: N images, C channels, H×W pixels, b an 8-bit value. Every input is
// written by the test itself, byte by byte (IDX headers, CIFAR-10 records) or
// with stb_image_write (PNG/BMP), under its own mkdtemp folder, removed
// afterwards. Expected pixels are computed here from the documented rule
// b → b/127.5 − 1 (in double, rounded once to float32); resized values follow
// from hand-computed box averages. The only skip: the Fashion-MNIST check when
// Debian's dataset-fashion-mnist is not installed.
//
//   run: ./anila_tests --gtest_filter='Images*'   (CPU, under 1 s)
#include <gtest/gtest.h>

#include "test_util.h"

#include <stb_image_write.h>
#include <stdlib.h>
#ifndef ANILA_NO_ZLIB
#include <zlib.h>
#endif

#include <array>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "anila/common.h"
#include "anila/data/images.h"

namespace anila::data {
namespace {

namespace fs = std::filesystem;

using anila::test::TempDir;

using Bytes = std::vector<uint8_t>;

void write_raw(const std::string& file, const Bytes& bytes) {
  fs::create_directories(fs::path(file).parent_path());
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << file;
}

#ifdef ANILA_NO_ZLIB
// A build without zlib (ANILA_ZLIB=OFF) refuses gzip files: tests that read them skip.
#define ANILA_REQUIRE_ZLIB() GTEST_SKIP() << "this build has no zlib (ANILA_ZLIB=OFF)"
#else
#define ANILA_REQUIRE_ZLIB() (void)0

void write_gz(const std::string& file, const Bytes& bytes) {
  gzFile out = gzopen(file.c_str(), "wb");
  ASSERT_NE(out, nullptr) << file;
  ASSERT_EQ(gzwrite(out, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  ASSERT_EQ(gzclose(out), Z_OK);
}
#endif

void write_text(const std::string& file, const std::string& text) {
  fs::create_directories(fs::path(file).parent_path());
  std::ofstream(file) << text;
}

void put_u32(Bytes& b, uint32_t v) {
  b.insert(b.end(), {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)});
}

// The three 2×3 images of the IDX tests, image-major, row-major.
const Bytes kIdxPixels = {0,  1,  2,   127, 128, 255,   // image 0
                          10, 20, 30,  40,  50,  60,    // image 1
                          5,  6,  250, 251, 252, 253};  // image 2
const Bytes kIdxLabels = {7, 0, 7};

Bytes idx_images(const Bytes& pixels, uint32_t n, uint32_t rows, uint32_t cols,
                 uint32_t magic = 2051) {
  Bytes b;
  put_u32(b, magic);
  put_u32(b, n);
  put_u32(b, rows);
  put_u32(b, cols);
  b.insert(b.end(), pixels.begin(), pixels.end());
  return b;
}

Bytes idx_labels(const Bytes& labels) {
  Bytes b;
  put_u32(b, 2049);
  put_u32(b, uint32_t(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

float unit(int b) {
  return float(double(b) / 127.5 - 1.0);
}

// The message of the UserError thrown by loading `section` ("" if none).
std::string load_error(const Json& section) {
  try {
    load_image_dataset(section);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

at::Generator cpu_gen(uint64_t seed) {
  return make_generator(seed, c10::Device(c10::kCPU));
}

// ---- IDX ----------------------------------------------------------------------

TEST(ImagesIdx, RawFileRoundTripsPixelsAndLabels) {
  TempDir dir;
  write_raw(dir / "mini/train-images-idx3-ubyte", idx_images(kIdxPixels, 3, 2, 3));
  write_raw(dir / "mini/train-labels-idx1-ubyte", idx_labels(kIdxLabels));
  const ImageDataset d =
      load_image_dataset({{"type", "idx"}, {"path", dir / "mini/train-images-idx3-ubyte"}});
  ASSERT_EQ(d.images.sizes(), (at::IntArrayRef{3, 1, 2, 3}));
  ASSERT_EQ(d.images.scalar_type(), at::kFloat);
  const float* p = d.images.data_ptr<float>();
  for (size_t i = 0; i < kIdxPixels.size(); ++i) EXPECT_EQ(p[i], unit(kIdxPixels[i])) << i;
  EXPECT_EQ(p[0], -1.0f);
  EXPECT_EQ(p[5], 1.0f);
  ASSERT_TRUE(d.labels.defined());
  ASSERT_EQ(d.labels.scalar_type(), at::kLong);
  EXPECT_EQ(d.labels[0].item<int64_t>(), 7);
  EXPECT_EQ(d.labels[1].item<int64_t>(), 0);
  EXPECT_EQ(d.labels[2].item<int64_t>(), 7);
  EXPECT_EQ(d.name, "mini");
  EXPECT_TRUE(d.warnings.empty());
}

// One decode per process for equal sections: the runs of a compare share it.
TEST(ImagesIdx, SharedLoadDecodesOncePerSection) {
  TempDir dir;
  write_raw(dir / "mini/train-images-idx3-ubyte", idx_images(kIdxPixels, 3, 2, 3));
  const Json section = {{"type", "idx"}, {"path", dir / "mini/train-images-idx3-ubyte"}};
  auto a = load_image_dataset_shared(section);
  Json noisy = section;
  noisy["noise"] = 0.03;  // the trainer's data noise: the same images
  auto b = load_image_dataset_shared(noisy);
  EXPECT_EQ(a.get(), b.get());
  Json limited = section;
  limited["limit"] = 2;
  auto c = load_image_dataset_shared(limited);
  EXPECT_NE(a.get(), c.get());
  EXPECT_EQ(c->images.size(0), 2);
}

TEST(ImagesIdx, GzipFolderModeFindsEachSplit) {
  ANILA_REQUIRE_ZLIB();
#ifndef ANILA_NO_ZLIB
  TempDir dir;
  write_gz(dir / "train-images-idx3-ubyte.gz", idx_images(kIdxPixels, 3, 2, 3));
  write_gz(dir / "train-labels-idx1-ubyte.gz", idx_labels(kIdxLabels));
  // The test split: raw, one 1×2 image.
  write_raw(dir / "t10k-images-idx3-ubyte", idx_images({9, 200}, 1, 1, 2));
  write_raw(dir / "t10k-labels-idx1-ubyte", idx_labels({4}));

  const ImageDataset train = load_image_dataset({{"type", "idx"}, {"path", dir.str()}});
  ASSERT_EQ(train.images.sizes(), (at::IntArrayRef{3, 1, 2, 3}));
  const float* p = train.images.data_ptr<float>();
  for (size_t i = 0; i < kIdxPixels.size(); ++i) EXPECT_EQ(p[i], unit(kIdxPixels[i])) << i;
  EXPECT_EQ(train.labels[2].item<int64_t>(), 7);

  const ImageDataset test =
      load_image_dataset({{"type", "idx"}, {"path", dir.str()}, {"split", "test"}});
  ASSERT_EQ(test.images.sizes(), (at::IntArrayRef{1, 1, 1, 2}));
  EXPECT_EQ(test.images.data_ptr<float>()[1], unit(200));
  EXPECT_EQ(test.labels[0].item<int64_t>(), 4);
#endif
}

TEST(ImagesIdx, ImagesFileWithoutLabelsWarns) {
  TempDir dir;
  write_raw(dir / "pics-images-idx3-ubyte", idx_images(kIdxPixels, 3, 2, 3));
  const ImageDataset d =
      load_image_dataset({{"type", "idx"}, {"path", dir / "pics-images-idx3-ubyte"}});
  EXPECT_FALSE(d.labels.defined());
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_NE(d.warnings[0].find("no labels file"), std::string::npos) << d.warnings[0];
  const std::string e =
      load_error({{"type", "idx"}, {"path", dir / "pics-images-idx3-ubyte"}, {"classes", {7}}});
  EXPECT_NE(e.find("data.classes"), std::string::npos) << e;
  EXPECT_NE(e.find("no labels"), std::string::npos) << e;
}

TEST(ImagesIdx, ClassFilterThenLimit) {
  TempDir dir;
  write_raw(dir / "train-images-idx3-ubyte", idx_images(kIdxPixels, 3, 2, 3));
  write_raw(dir / "train-labels-idx1-ubyte", idx_labels(kIdxLabels));
  // Class 7 = images 0 and 2.
  const ImageDataset sevens =
      load_image_dataset({{"type", "idx"}, {"path", dir.str()}, {"classes", {7}}});
  ASSERT_EQ(sevens.images.size(0), 2);
  EXPECT_EQ(sevens.images.data_ptr<float>()[6], unit(5));  // first pixel of image 2
  EXPECT_EQ(sevens.labels[1].item<int64_t>(), 7);
  // limit applies after the filter: the first seven only.
  const ImageDataset one =
      load_image_dataset({{"type", "idx"}, {"path", dir.str()}, {"classes", {7}}, {"limit", 1}});
  ASSERT_EQ(one.images.size(0), 1);
  ASSERT_EQ(one.labels.size(0), 1);
  EXPECT_EQ(one.images.data_ptr<float>()[2], unit(2));
  // Class 0 alone = image 1; limit larger than the data keeps everything.
  const ImageDataset zero =
      load_image_dataset({{"type", "idx"}, {"path", dir.str()}, {"classes", {0}}, {"limit", 10}});
  ASSERT_EQ(zero.images.size(0), 1);
  EXPECT_EQ(zero.images.data_ptr<float>()[0], unit(10));

  std::string e = load_error({{"type", "idx"}, {"path", dir.str()}, {"classes", {3}}});
  EXPECT_NE(e.find("no images of these classes"), std::string::npos) << e;
  EXPECT_NE(e.find("0..7"), std::string::npos) << e;
  e = load_error({{"type", "idx"}, {"path", dir.str()}, {"classes", {-1}}});
  EXPECT_NE(e.find("data.classes: expected"), std::string::npos) << e;
}

TEST(ImagesIdx, ResizeAveragesBoxes) {
  TempDir dir;
  // One 4×4 image; size 2 averages each 2×2 block.
  const Bytes px = {0, 2, 10,  20,  //
                    4, 6, 30,  40,  //
                    1, 1, 255, 255, 1, 1, 255, 255};
  write_raw(dir / "train-images-idx3-ubyte", idx_images(px, 1, 4, 4));
  write_raw(dir / "train-labels-idx1-ubyte", idx_labels({1}));
  const ImageDataset d = load_image_dataset({{"type", "idx"}, {"path", dir.str()}, {"size", 2}});
  ASSERT_EQ(d.images.sizes(), (at::IntArrayRef{1, 1, 2, 2}));
  const float* p = d.images.data_ptr<float>();
  EXPECT_EQ(p[0], unit(3));   // (0 + 2 + 4 + 6) / 4
  EXPECT_EQ(p[1], unit(25));  // (10 + 20 + 30 + 40) / 4
  EXPECT_EQ(p[2], unit(1));
  EXPECT_EQ(p[3], 1.0f);
}

TEST(ImagesIdx, LabelFileAsImagesIsNamed) {
  TempDir dir;
  const std::string labels = dir / "train-labels-idx1-ubyte";
  write_raw(labels, idx_labels(kIdxLabels));
  const std::string e = load_error({{"type", "idx"}, {"path", labels}});
  EXPECT_NE(e.find("wrong magic 2049 in " + labels), std::string::npos) << e;
  EXPECT_NE(e.find("label file"), std::string::npos) << e;
  EXPECT_NE(e.find("expected 2051"), std::string::npos) << e;
}

TEST(ImagesIdx, TruncatedPixelsNameFileAndCounts) {
  TempDir dir;
  const std::string images = dir / "train-images-idx3-ubyte";
  write_raw(images, idx_images({1, 2, 3, 4, 5}, 3, 2, 3));  // needs 18 pixel bytes
  const std::string e = load_error({{"type", "idx"}, {"path", images}});
  EXPECT_NE(e.find(images), std::string::npos) << e;
  EXPECT_NE(e.find("header says 3 images of 2×3"), std::string::npos) << e;
  EXPECT_NE(e.find("only 5 bytes of pixels"), std::string::npos) << e;
  EXPECT_NE(e.find("expected 18"), std::string::npos) << e;
}

TEST(ImagesIdx, CountMismatchAndMissingFiles) {
  TempDir dir;
  write_raw(dir / "train-images-idx3-ubyte", idx_images(kIdxPixels, 3, 2, 3));
  write_raw(dir / "train-labels-idx1-ubyte", idx_labels({1, 2}));
  std::string e = load_error({{"type", "idx"}, {"path", dir.str()}});
  EXPECT_NE(e.find("2 labels"), std::string::npos) << e;
  EXPECT_NE(e.find("3 images"), std::string::npos) << e;

  e = load_error({{"type", "idx"}, {"path", dir.str()}, {"split", "test"}});
  EXPECT_NE(e.find("t10k-images-idx3-ubyte"), std::string::npos) << e;
  EXPECT_NE(e.find("dataset-fashion-mnist"), std::string::npos) << e;

  e = load_error({{"type", "idx"}, {"path", dir / "nowhere"}});
  EXPECT_NE(e.find("data.path"), std::string::npos) << e;
  EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
  EXPECT_NE(e.find("dataset-fashion-mnist"), std::string::npos) << e;
}

// ---- CIFAR-10 -------------------------------------------------------------------

// Record r: label, then pixel k (plane-major: R, G, B, each 32×32) = (7k + 13r) mod 256.
Bytes cifar_records(const std::vector<uint8_t>& labels) {
  Bytes b;
  for (size_t r = 0; r < labels.size(); ++r) {
    b.push_back(labels[r]);
    for (int k = 0; k < 3072; ++k) b.push_back(uint8_t((7 * k + 13 * int(r)) % 256));
  }
  return b;
}

TEST(ImagesCifar, RecordsRoundTripWithChannelOrder) {
  TempDir dir;
  write_raw(dir / "data_batch_1.bin", cifar_records({3, 9}));
  write_raw(dir / "data_batch_2.bin", cifar_records({0}));
  const ImageDataset d = load_image_dataset({{"type", "cifar10"}, {"path", dir.str()}});
  ASSERT_EQ(d.images.sizes(), (at::IntArrayRef{3, 3, 32, 32}));
  EXPECT_EQ(d.name, "cifar10");
  const at::Tensor labels = d.labels;
  EXPECT_EQ(labels[0].item<int64_t>(), 3);
  EXPECT_EQ(labels[1].item<int64_t>(), 9);
  EXPECT_EQ(labels[2].item<int64_t>(), 0);
  const auto x = d.images.accessor<float, 4>();
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 3; ++c) {
      for (int y : {0, 5, 31}) {
        for (int xx : {0, 17, 31}) {
          const int k = c * 1024 + y * 32 + xx;
          EXPECT_EQ(x[r][c][y][xx], unit((7 * k + 13 * r) % 256)) << r << c << y << xx;
        }
      }
    }
  }
  // Green plane of record 0 starts at k = 1024: 7168 mod 256 = 0.
  EXPECT_EQ(x[0][1][0][0], -1.0f);
  EXPECT_EQ(x[2][0][0][1], unit(7));  // batch 2, record 0
  // Batches 3..5 are missing: loaded with a warning naming them.
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_NE(d.warnings[0].find("data_batch_3.bin, data_batch_4.bin, data_batch_5.bin"),
            std::string::npos)
      << d.warnings[0];

  // Classes and limit as for IDX.
  const ImageDataset nines =
      load_image_dataset({{"type", "cifar10"}, {"path", dir.str()}, {"classes", {9, 0}}});
  ASSERT_EQ(nines.images.size(0), 2);
  EXPECT_EQ(nines.labels[0].item<int64_t>(), 9);
  EXPECT_EQ(nines.images[0][0][0][0].item<float>(), unit(13));
}

TEST(ImagesCifar, BadFilesAreNamed) {
  TempDir dir;
  // No test batch.
  write_raw(dir / "data_batch_1.bin", cifar_records({1}));
  std::string e = load_error({{"type", "cifar10"}, {"path", dir.str()}, {"split", "test"}});
  EXPECT_NE(e.find("test_batch.bin"), std::string::npos) << e;

  // A byte too many.
  Bytes extra = cifar_records({1, 2});
  extra.push_back(0);
  write_raw(dir / "test_batch.bin", extra);
  e = load_error({{"type", "cifar10"}, {"path", dir.str()}, {"split", "test"}});
  EXPECT_NE(e.find(dir / "test_batch.bin" + ": 6147 bytes is not a multiple of the 3073-byte"),
            std::string::npos)
      << e;

  // A label beyond 9.
  write_raw(dir / "test_batch.bin", cifar_records({1, 12}));
  e = load_error({{"type", "cifar10"}, {"path", dir.str()}, {"split", "test"}});
  EXPECT_NE(e.find("record 1 has label 12"), std::string::npos) << e;

  // Missing folder, and missing path key.
  e = load_error({{"type", "cifar10"}, {"path", dir / "nowhere"}});
  EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
  EXPECT_NE(e.find("data_batch_1.bin"), std::string::npos) << e;
  e = load_error({{"type", "cifar10"}});
  EXPECT_NE(e.find("data.path: required"), std::string::npos) << e;
}

// ---- image folder ------------------------------------------------------------------

// An RGB image w×h, column x coloured by colour_of(x).
void write_png(const std::string& file, int w, int h, const std::vector<std::array<int, 3>>& cols) {
  fs::create_directories(fs::path(file).parent_path());
  std::vector<uint8_t> px;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) px.push_back(uint8_t(cols[size_t(x)][size_t(c)]));
    }
  }
  ASSERT_NE(stbi_write_png(file.c_str(), w, h, 3, px.data(), w * 3), 0) << file;
}

std::vector<std::array<int, 3>> uniform_cols(int w, std::array<int, 3> c) {
  return std::vector<std::array<int, 3>>(size_t(w), c);
}

TEST(ImagesFolder, DecodesCropsResizesAndSkips) {
  TempDir dir;
  const std::string root = dir / "flowers";
  // Sorted order: a/b/deep.bmp, a/red.png, bad.png, half.png, notes.txt (ignored), tiny.png.
  {
    std::vector<uint8_t> px(12 * 12 * 3);
    for (size_t i = 0; i < px.size(); i += 3) px[i] = 10, px[i + 1] = 20, px[i + 2] = 30;
    fs::create_directories(root + "/a/b");
    ASSERT_NE(stbi_write_bmp((root + "/a/b/deep.bmp").c_str(), 12, 12, 3, px.data()), 0);
  }
  write_png(root + "/a/red.png", 20, 20, uniform_cols(20, {200, 100, 50}));
  write_text(root + "/bad.png", "this is not a PNG");
  // 16×8: columns 0-3 and 12-15 are cropped away; 4-7 green, 8-11 blue remain.
  std::vector<std::array<int, 3>> bands;
  for (int x = 0; x < 16; ++x) {
    bands.push_back(x < 4    ? std::array<int, 3>{255, 255, 255}
                    : x < 8  ? std::array<int, 3>{0, 255, 0}
                    : x < 12 ? std::array<int, 3>{0, 0, 255}
                             : std::array<int, 3>{255, 0, 0});
  }
  write_png(root + "/half.png", 16, 8, bands);
  write_text(root + "/notes.txt", "ignored");
  write_png(root + "/tiny.png", 4, 4, uniform_cols(4, {1, 2, 3}));

  const ImageDataset d =
      load_image_dataset({{"type", "image_folder"}, {"path", root}, {"size", 8}});
  EXPECT_EQ(d.name, "flowers");
  EXPECT_FALSE(d.labels.defined());
  ASSERT_EQ(d.images.sizes(), (at::IntArrayRef{3, 3, 8, 8}));
  ASSERT_EQ(d.warnings.size(), 1u);
  const std::string& w = d.warnings[0];
  EXPECT_NE(w.find("skipped 2 files in " + root), std::string::npos) << w;
  EXPECT_NE(w.find("first: bad.png"), std::string::npos) << w;

  const auto x = d.images.accessor<float, 4>();
  // deep.bmp (12×12 → 8×8) and red.png (20×20 → 8×8) stay uniform.
  const std::array<int, 3> deep = {10, 20, 30}, red = {200, 100, 50};
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 8; ++y) {
      for (int xx = 0; xx < 8; ++xx) {
        EXPECT_EQ(x[0][c][y][xx], unit(deep[size_t(c)])) << c << y << xx;
        EXPECT_EQ(x[1][c][y][xx], unit(red[size_t(c)])) << c << y << xx;
      }
    }
  }
  // half.png: left 4 columns green, right 4 blue, no trace of white or red.
  for (int y = 0; y < 8; ++y) {
    for (int xx = 0; xx < 8; ++xx) {
      EXPECT_EQ(x[2][0][y][xx], -1.0f) << y << xx;
      EXPECT_EQ(x[2][1][y][xx], xx < 4 ? 1.0f : -1.0f) << y << xx;
      EXPECT_EQ(x[2][2][y][xx], xx < 4 ? -1.0f : 1.0f) << y << xx;
    }
  }

  // channels 1: luminance 0.299R + 0.587G + 0.114B; limit 2 stops after red.png.
  const ImageDataset g = load_image_dataset(
      {{"type", "image_folder"}, {"path", root}, {"size", 4}, {"channels", 1}, {"limit", 2}});
  ASSERT_EQ(g.images.sizes(), (at::IntArrayRef{2, 1, 4, 4}));
  EXPECT_NEAR(g.images[1][0][3][3].item<float>(),
              (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 127.5 - 1, 1e-6);
  EXPECT_TRUE(g.warnings.empty());
}

TEST(ImagesFolder, NoUsableImageIsAnError) {
  TempDir dir;
  write_text(dir / "x/bad.png", "not an image");
  write_png(dir / "x/tiny.png", 4, 4, uniform_cols(4, {1, 2, 3}));
  std::string e = load_error({{"type", "image_folder"}, {"path", dir / "x"}});
  EXPECT_NE(e.find("no usable images (2 files skipped; first: bad.png"), std::string::npos) << e;

  write_text(dir / "y/readme.txt", "no images here");
  e = load_error({{"type", "image_folder"}, {"path", dir / "y"}});
  EXPECT_NE(e.find("no .png, .jpg, .jpeg or .bmp files"), std::string::npos) << e;

  e = load_error({{"type", "image_folder"}, {"path", dir / "nowhere"}});
  EXPECT_NE(e.find("data.path: image folder"), std::string::npos) << e;
  EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
}

// ---- options ---------------------------------------------------------------------------

TEST(ImagesOptions, TypesAndKeyChecks) {
  const std::vector<std::string> types = {"idx", "cifar10", "image_folder"};
  EXPECT_EQ(image_dataset_types(), types);
  EXPECT_TRUE(is_image_dataset_type("cifar10"));
  EXPECT_FALSE(is_image_dataset_type("rings"));

  TempDir dir;
  write_png(dir / "img/a.png", 8, 8, uniform_cols(8, {0, 0, 0}));
  // `noise` belongs to the trainer and is accepted.
  EXPECT_NO_THROW(
      load_image_dataset({{"type", "image_folder"}, {"path", dir / "img"}, {"noise", 0.01}}));
  std::string e = load_error({{"type", "image_folder"}, {"path", dir / "img"}, {"channels", 2}});
  EXPECT_NE(e.find("data.channels: expected 1 (luminance) or 3 (RGB), got 2"), std::string::npos)
      << e;
  e = load_error({{"type", "image_folder"}, {"path", dir / "img"}, {"classes", {1}}});
  EXPECT_NE(e.find("data.classes: not used by type image_folder"), std::string::npos) << e;
  e = load_error({{"type", "idx"}, {"path", dir / "img"}, {"channels", 3}});
  EXPECT_NE(e.find("data.channels: not used by type idx"), std::string::npos) << e;
  e = load_error({{"type", "image_folder"}, {"path", dir / "img"}, {"sise", 8}});
  EXPECT_NE(e.find("unknown config key data.sise (did you mean data.size?)"), std::string::npos)
      << e;
  e = load_error({{"type", "imagenet"}});
  EXPECT_NE(e.find("image_folder"), std::string::npos) << e;
}

TEST(ImagesSample, FixedSeedIsReproducible) {
  ImageDataset d;
  d.images = at::arange(5, at::kFloat).view({5, 1, 1, 1}).expand({5, 2, 3, 3}).contiguous();
  at::Generator g1 = cpu_gen(42), g2 = cpu_gen(42), g3 = cpu_gen(43);
  const at::Tensor a = sample_images(d, 64, g1);
  const at::Tensor b = sample_images(d, 64, g2);
  const at::Tensor c = sample_images(d, 64, g3);
  ASSERT_EQ(a.sizes(), (at::IntArrayRef{64, 2, 3, 3}));
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_FALSE(at::equal(a, c));
  // Each draw is one whole dataset image (all its entries equal its index), and
  // 64 draws from 5 images hit every one (P(miss) = 5·0.8^64 < 1e-5).
  const at::Tensor first = a.flatten(1).select(1, 0);
  EXPECT_TRUE(at::equal(a.flatten(1), first.unsqueeze(1).expand({64, 18})));
  EXPECT_EQ(std::get<0>(at::_unique(first)).size(0), 5);
}

// ---- the Debian Fashion-MNIST package -------------------------------------------------

#ifdef ANILA_NO_ZLIB
TEST(ImagesIdx, GzipFileWithoutZlibSaysSo) {
  TempDir dir;
  write_raw(dir / "train-images-idx3-ubyte.gz", {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3});
  const std::string msg = test::user_error_message([&] {
    load_image_dataset({{"type", "idx"}, {"path", dir.str()}});
  });
  EXPECT_NE(msg.find("has no zlib"), std::string::npos) << msg;
}
#endif

TEST(ImagesFashionMnist, TestSplitFromDebianPackage) {
  ANILA_REQUIRE_ZLIB();
  const fs::path folder(kDefaultFashionMnistPath);
  if (!fs::exists(folder / "t10k-images-idx3-ubyte.gz") &&
      !fs::exists(folder / "t10k-images-idx3-ubyte")) {
    GTEST_SKIP() << "Fashion-MNIST is not installed at " << kDefaultFashionMnistPath
                 << " (apt-get install dataset-fashion-mnist)";
  }
  const ImageDataset d = load_image_dataset({{"type", "idx"}, {"split", "test"}});
  ASSERT_EQ(d.images.sizes(), (at::IntArrayRef{10000, 1, 28, 28}));
  EXPECT_EQ(d.name, "fashion-mnist");
  ASSERT_EQ(d.labels.sizes(), (at::IntArrayRef{10000}));
  EXPECT_EQ(d.labels.min().item<int64_t>(), 0);
  EXPECT_EQ(d.labels.max().item<int64_t>(), 9);
  // The test split is balanced: 1,000 images per class.
  EXPECT_TRUE(at::equal(at::bincount(d.labels), at::full({10}, 1000, at::kLong)));
  EXPECT_GE(d.images.min().item<float>(), -1.0f);
  EXPECT_LE(d.images.max().item<float>(), 1.0f);
  EXPECT_TRUE(d.warnings.empty());
}

}  // namespace
}  // namespace anila::data
