// test_io.cpp — tests of anila/io: PNG round trips, the exact bytes of .npy
// files, heatmap orientation, colormap, histograms, figure layout, text,
// atomic writes, the metrics log, tables and progress lines.
//
// Expected values are written out by hand from the formats' specifications
// (NumPy's .npy v1.0, RFC 4180, matplotlib's viridis), not recorded from the code.
// Every test writes under its own mkdtemp folder, removed afterwards.
#include <gtest/gtest.h>

#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "anila/common.h"
#include "anila/io/files.h"
#include "anila/io/image.h"
#include "anila/io/progress.h"

namespace fs = std::filesystem;
using anila::Json;
using anila::UserError;
using namespace anila::io;

namespace {

using anila::test::TempDir;

// Runs `fn`, expecting a UserError whose message contains every string of `needles`.
void expect_user_error(const std::function<void()>& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "expected a UserError";
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
    for (const auto& n : needles)
      EXPECT_NE(msg.find(n), std::string::npos) << msg << " lacks " << n;
  }
}

void write_bytes(const std::string& path, const std::string& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  std::fclose(f);
}

bool same(Rgb a, Rgb b) {
  return a.r == b.r && a.g == b.g && a.b == b.b;
}
bool is_white(Rgb a) {
  return same(a, {255, 255, 255});
}
double luminance(Rgb c) {
  return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
}

std::string read_stream(FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  return out;
}

}  // namespace

// ---- PNG ----------------------------------------------------------------------

TEST(IoPng, RoundTripIsExact) {
  TempDir dir;
  Image img(7, 5);
  for (int y = 0; y < 5; ++y) {
    for (int x = 0; x < 7; ++x) {
      img.at(x, y) = {static_cast<uint8_t>(x * 37), static_cast<uint8_t>(y * 61),
                      static_cast<uint8_t>(255 - x - 7 * y)};
    }
  }
  write_png(img, dir / "a.png");
  const Image back = read_png(dir / "a.png");
  ASSERT_EQ(back.width(), 7);
  ASSERT_EQ(back.height(), 5);
  for (int y = 0; y < 5; ++y) {
    for (int x = 0; x < 7; ++x) {
      EXPECT_TRUE(same(back.at(x, y), img.at(x, y))) << "pixel " << x << "," << y;
    }
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.png"});
}

TEST(IoPng, ErrorsNameThePath) {
  TempDir dir;
  const std::string missing = dir / "no/such/folder/out.png";
  expect_user_error([&] { write_png(Image(4, 4), missing); }, {"cannot write PNG", missing});
  EXPECT_TRUE(dir.entries().empty());
  expect_user_error([&] { read_png(dir / "none.png"); }, {"cannot read PNG", dir / "none.png"});
  write_bytes(dir / "junk.png", "this is not a png");
  expect_user_error([&] { read_png(dir / "junk.png"); }, {"cannot read PNG", dir / "junk.png"});
}

// ---- .npy ---------------------------------------------------------------------

TEST(IoNpy, Float32FileBytesFollowTheFormat) {
  TempDir dir;
  const float v[6] = {1.0f, 2.0f, 3.0f, -0.5f, 0.25f, 1.5f};
  write_npy(dir / "a.npy", at::from_blob(const_cast<float*>(v), {2, 3}, at::kFloat));
  const std::string bytes = read_text(dir / "a.npy");

  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  // 10-byte preamble + 59-byte dict + 58 spaces + '\n' = 128 bytes, then 6 × 4 data bytes.
  ASSERT_EQ(bytes.size(), 128u + 24u);
  EXPECT_EQ(bytes.substr(0, 6), std::string("\x93NUMPY"));
  EXPECT_EQ(bytes[6], '\x01');
  EXPECT_EQ(bytes[7], '\x00');
  EXPECT_EQ(static_cast<uint8_t>(bytes[8]), 118);  // header length 118, little-endian
  EXPECT_EQ(static_cast<uint8_t>(bytes[9]), 0);
  EXPECT_EQ(bytes.substr(10, dict.size()), dict);
  EXPECT_EQ(bytes.substr(10 + dict.size(), 118 - dict.size() - 1), std::string(58, ' '));
  EXPECT_EQ(bytes[127], '\n');
  EXPECT_EQ((10 + 118) % 64, 0);
  // IEEE-754 single precision, little-endian: 1 = 3F800000, 2 = 40000000, 3 = 40400000,
  // -0.5 = BF000000, 0.25 = 3E800000, 1.5 = 3FC00000.
  const std::string payload(
      "\x00\x00\x80\x3F\x00\x00\x00\x40\x00\x00\x40\x40"
      "\x00\x00\x00\xBF\x00\x00\x80\x3E\x00\x00\xC0\x3F",
      24);
  EXPECT_EQ(bytes.substr(128), payload);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.npy"});
}

TEST(IoNpy, RoundTripsEveryDtypeAndShape) {
  TempDir dir;
  std::vector<at::Tensor> arrays = {
      at::tensor({1.0 / 3.0, -2.5e-300, 1e300, 0.0}, at::kDouble).reshape({2, 2}),
      at::tensor({int64_t{1} << 40, int64_t{-7}, int64_t{0}}, at::kLong),
      at::arange(24, at::kLong).to(at::kByte).reshape({2, 3, 4}),
      at::tensor({0.5f, 1.5f, 2.5f, 3.5f, 4.5f}, at::kFloat),
      at::scalar_tensor(42.0, at::kDouble),            // 0-d
      at::empty({0, 3}, at::kFloat),                   // empty
      at::arange(12, at::kFloat).reshape({3, 4}).t(),  // non-contiguous view
  };
  for (size_t i = 0; i < arrays.size(); ++i) {
    const std::string path = dir / ("a" + std::to_string(i) + ".npy");
    write_npy(path, arrays[i]);
    const at::Tensor back = read_npy(path);
    EXPECT_EQ(back.scalar_type(), arrays[i].scalar_type()) << i;
    EXPECT_EQ(back.sizes(), arrays[i].sizes()) << i;
    EXPECT_TRUE(at::equal(back, arrays[i])) << i;
  }
  EXPECT_NE(read_text(dir / "a3.npy").find("'shape': (5,), }"), std::string::npos);
  EXPECT_NE(read_text(dir / "a4.npy").find("'shape': (), }"), std::string::npos);
  EXPECT_NE(read_text(dir / "a2.npy").find("'descr': '|u1'"), std::string::npos);
  EXPECT_NE(read_text(dir / "a1.npy").find("'descr': '<i8'"), std::string::npos);
  EXPECT_NE(read_text(dir / "a0.npy").find("'descr': '<f8'"), std::string::npos);
}

TEST(IoNpy, CorruptFilesAreUserErrors) {
  TempDir dir;
  write_npy(dir / "good.npy", at::ones({2, 3}, at::kFloat));
  const std::string good = read_text(dir / "good.npy");
  // A valid v1.0 file with the given header dict and data bytes.
  auto craft = [](const std::string& dict, const std::string& data) {
    std::string header = dict;
    const size_t total = (10 + dict.size() + 1 + 63) / 64 * 64;
    header.append(total - 10 - dict.size() - 1, ' ');
    header += '\n';
    return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header +
           data;
  };

  write_bytes(dir / "truncated.npy", good.substr(0, good.size() - 3));
  expect_user_error([&] { read_npy(dir / "truncated.npy"); }, {dir / "truncated.npy", "truncated"});
  write_bytes(dir / "short.npy", good.substr(0, 40));
  expect_user_error([&] { read_npy(dir / "short.npy"); }, {dir / "short.npy", "truncated"});
  write_bytes(dir / "magic.npy", "PK\x03\x04" + good.substr(4));
  expect_user_error([&] { read_npy(dir / "magic.npy"); }, {dir / "magic.npy", "magic"});
  write_bytes(dir / "fortran.npy",
              craft("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", std::string(8, 0)));
  expect_user_error([&] { read_npy(dir / "fortran.npy"); }, {dir / "fortran.npy", "Fortran"});
  write_bytes(
      dir / "bigendian.npy",
      craft("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", std::string(8, 0)));
  expect_user_error([&] { read_npy(dir / "bigendian.npy"); }, {dir / "bigendian.npy", "'>f4'"});
  write_bytes(dir / "garbled.npy", craft("{'descr': '<f4', 'shape': [2]}", std::string(8, 0)));
  expect_user_error([&] { read_npy(dir / "garbled.npy"); }, {dir / "garbled.npy"});
  expect_user_error([&] { read_npy(dir / "missing.npy"); }, {dir / "missing.npy"});

  // The crafting helper itself produces readable files.
  write_bytes(dir / "crafted.npy",
              craft("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                    std::string("\x00\x00\x80\x3F\x00\x00\x00\x40", 8)));
  EXPECT_TRUE(at::equal(read_npy(dir / "crafted.npy"), at::tensor({1.0f, 2.0f})));
}

// ---- colour, heatmaps, histograms -----------------------------------------------

TEST(IoImage, ColormapIsViridisAndMonotoneInLuminance) {
  // matplotlib's viridis: #440154 at 0, #21908C at 0.5, #FDE725 at 1.
  EXPECT_TRUE(same(colormap(0.0), {0x44, 0x01, 0x54}));
  EXPECT_TRUE(same(colormap(0.5), {0x21, 0x90, 0x8C}));
  EXPECT_TRUE(same(colormap(1.0), {0xFD, 0xE7, 0x25}));
  EXPECT_TRUE(same(colormap(-3.0), colormap(0.0)));
  EXPECT_TRUE(same(colormap(7.0), colormap(1.0)));
  EXPECT_TRUE(same(colormap(NAN), colormap(0.0)));
  for (int i = 1; i <= 100; ++i) {
    EXPECT_GE(luminance(colormap(i / 100.0)), luminance(colormap((i - 1) / 100.0)) - 0.5) << i;
  }
  EXPECT_GT(luminance(colormap(1.0)), luminance(colormap(0.0)) + 150);
}

TEST(IoImage, HeatmapRowZeroIsAtTheBottom) {
  // [ny=2, nx=3]: the single high cell at iy=0 (lowest y), ix=2 (highest x).
  at::Tensor v = at::zeros({2, 3}, at::kFloat);
  v[0][2] = 5.0f;
  const Image img = heatmap(v, 60);
  ASSERT_EQ(img.width(), 60);
  ASSERT_EQ(img.height(), 60);
  const Rgb hi = colormap(1.0), lo = colormap(0.0);
  EXPECT_TRUE(same(img.at(59, 59), hi));  // bottom-right
  EXPECT_TRUE(same(img.at(40, 30), hi));  // the whole lower half of the right third
  EXPECT_TRUE(same(img.at(59, 29), lo));  // top-right
  EXPECT_TRUE(same(img.at(39, 59), lo));  // bottom, middle column
  EXPECT_TRUE(same(img.at(0, 0), lo));

  at::Tensor w = at::zeros({4, 4}, at::kDouble);
  w[0][0] = 1.0;
  const Image img2 = heatmap(w, 40);
  EXPECT_TRUE(same(img2.at(0, 39), hi));  // bright at the bottom-left
  EXPECT_TRUE(same(img2.at(9, 30), hi));
  EXPECT_TRUE(same(img2.at(0, 0), lo));
  EXPECT_TRUE(same(img2.at(10, 39), lo));
  EXPECT_TRUE(same(img2.at(0, 29), lo));
}

TEST(IoImage, HeatmapNonFiniteCellsAreDarkest) {
  at::Tensor v = at::tensor({NAN, -INFINITY, 1.0, 3.0}, at::kDouble).reshape({1, 4});
  const Image img = heatmap(v, 4);
  EXPECT_TRUE(same(img.at(0, 0), colormap(0.0)));
  EXPECT_TRUE(same(img.at(1, 0), colormap(0.0)));
  EXPECT_TRUE(same(img.at(2, 0), colormap(0.0)));  // finite minimum
  EXPECT_TRUE(same(img.at(3, 0), colormap(1.0)));  // finite maximum
}

TEST(IoImage, ScatterDensityBlocksAndWhiteBackground) {
  // Box [0,1]², 4×4 bins drawn 10 px each: 9 points in the lowest-left bin, 1 in the top-right.
  std::vector<float> xy;
  for (int i = 0; i < 9; ++i) xy.insert(xy.end(), {0.1f, 0.2f});
  xy.insert(xy.end(), {0.9f, 0.95f});
  xy.insert(xy.end(), {1.5f, 0.5f});  // outside the box: not drawn
  const at::Tensor pts = at::from_blob(xy.data(), {11, 2}, at::kFloat).clone();
  const Image img = scatter_density(pts, 0, 1, 0, 1, /*size=*/40, /*bins=*/4);
  ASSERT_EQ(img.width(), 40);
  const Rgb full = colormap(1.0), third = colormap(std::sqrt(1.0 / 9.0));
  int n_full = 0, n_third = 0, n_white = 0;
  for (int y = 0; y < 40; ++y) {
    for (int x = 0; x < 40; ++x) {
      const Rgb c = img.at(x, y);
      if (x < 10 && y >= 30) {
        n_full += same(c, full);
      } else if (x >= 30 && y < 10) {
        n_third += same(c, third);
      } else {
        n_white += is_white(c);
      }
    }
  }
  EXPECT_EQ(n_full, 100);
  EXPECT_EQ(n_third, 100);
  EXPECT_EQ(n_white, 1600 - 200);
}

// ---- text and figures -------------------------------------------------------------

TEST(IoImage, TextStaysInsideItsBox) {
  for (int scale : {1, 2}) {
    Image img(40, 40);
    img.text(5, 7, "A", {200, 0, 0}, scale);
    // stb_easy_font's "A" is 6 px wide (with its advance) and 9 px tall at scale 1.
    const int x1 = 5 + 6 * scale, y1 = 7 + 9 * scale;
    int inside = 0, outside = 0;
    for (int y = 0; y < 40; ++y) {
      for (int x = 0; x < 40; ++x) {
        const bool changed = !is_white(img.at(x, y));
        if (changed) {
          EXPECT_TRUE(same(img.at(x, y), {200, 0, 0}));
        }
        (x >= 5 && x < x1 && y >= 7 && y < y1 ? inside : outside) += changed;
      }
    }
    EXPECT_GT(inside, 6 * scale * scale) << scale;
    EXPECT_EQ(outside, 0) << scale;
  }
  EXPECT_EQ(text_width("A"), 6);
  EXPECT_EQ(text_height("A"), 9);
  EXPECT_EQ(text_height("A\nB", 2), 2 * (12 + 9));
  EXPECT_EQ(text_width(""), 0);
  Image img(10, 10);
  img.text(-3, -3, "\xC3\xA9\t~", {0, 0, 0}, 1);  // non-ASCII and clipping: no crash
}

TEST(IoImage, ComposePlacesPanelsAtTheDocumentedOffsets) {
  const Rgb red = {255, 0, 0}, blue = {0, 0, 255};
  const Image a(20, 10, red), b(30, 15, blue);
  const int P = kFigurePad, band = 9 + P;  // panel-title band: one text line + pad

  const Image fig = compose({{{"a", a}, {"b", b}}});
  EXPECT_EQ(fig.width(), P + 20 + P + 30 + P);
  EXPECT_EQ(fig.height(), P + band + 15 + P);
  EXPECT_TRUE(same(fig.at(P, P + band), red));
  EXPECT_TRUE(same(fig.at(P + 19, P + band + 9), red));
  EXPECT_TRUE(is_white(fig.at(P + 20, P + band)));
  EXPECT_TRUE(same(fig.at(P + 20 + P, P + band), blue));
  EXPECT_TRUE(same(fig.at(P + 20 + P + 29, P + band + 14), blue));
  EXPECT_TRUE(is_white(fig.at(P + 20 + P - 1, P + band)));
  EXPECT_TRUE(is_white(fig.at(0, 0)));

  // Two rows, row labels and a figure title.
  const std::string label = "row one";
  const Image fig2 = compose({{{"a", a}}, {{"b", b}, {"", a}}}, {label, "2"}, "Title");
  const int left = P + text_width(label) + P;
  const int top = P + text_height("Title", kFigureTitleScale) + P;
  EXPECT_GE(fig2.width(), left + 30 + P + 20 + P);
  EXPECT_EQ(fig2.width(), left + 30 + P + 20 + P);
  EXPECT_EQ(fig2.height(), top + band + 10 + P + band + 15 + P);
  EXPECT_TRUE(same(fig2.at(left, top + band), red));
  const int row2 = top + band + 10 + P;
  EXPECT_TRUE(same(fig2.at(left, row2 + band), blue));
  EXPECT_TRUE(same(fig2.at(left + 30 + P, row2 + band), red));
  // The label is drawn left of the panels, the title above them.
  bool label_ink = false, title_ink = false;
  for (int y = 0; y < fig2.height(); ++y) {
    for (int x = 0; x < left - P; ++x) label_ink |= !is_white(fig2.at(x, y));
  }
  for (int y = 0; y < top - P; ++y) {
    for (int x = 0; x < fig2.width(); ++x) title_ink |= !is_white(fig2.at(x, y));
  }
  EXPECT_TRUE(label_ink);
  EXPECT_TRUE(title_ink);

  // A title wider than its panel widens the slot; the panel is centred in it.
  const std::string long_title = "a rather long title";
  const Image small(10, 10, red);
  const Image fig3 = compose({{{long_title, small}}});
  const int tw = text_width(long_title);
  ASSERT_GT(tw, 10);
  EXPECT_EQ(fig3.width(), P + tw + P);
  EXPECT_TRUE(same(fig3.at(P + (tw - 10) / 2, P + band), red));
}

// ---- files --------------------------------------------------------------------------

TEST(IoFiles, WriteAtomicRoundTripLeavesNoTemporaries) {
  TempDir dir;
  const std::string path = dir / "config.json";
  write_atomic(path, "first");
  write_atomic(path, std::string("hello\nworld\0!", 13));
  EXPECT_EQ(read_text(path), std::string("hello\nworld\0!", 13));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"config.json"});
  const std::string bad = dir / "nope/config.json";
  expect_user_error([&] { write_atomic(bad, "x"); }, {bad});
  expect_user_error([&] { read_text(dir / "absent.txt"); }, {dir / "absent.txt"});
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"config.json"});
}

TEST(IoFiles, MakeDirsAndCheckWritable) {
  TempDir dir;
  make_dirs(dir / "a/b/c");
  make_dirs(dir / "a/b/c");  // already there: fine
  EXPECT_TRUE(fs::is_directory(dir / "a/b/c"));
  check_writable(dir / "a/b/c");
  EXPECT_TRUE(fs::is_empty(dir / "a/b/c"));
  write_atomic(dir / "file", "x");
  expect_user_error([&] { make_dirs(dir / "file"); },
                    {"cannot create output folder", dir / "file"});
  expect_user_error([&] { make_dirs(dir / "file/sub"); }, {"cannot create output folder"});
  expect_user_error([&] { check_writable(dir / "missing"); }, {dir / "missing"});
}

TEST(IoFiles, MetricsLogWritesCsvAndJsonl) {
  TempDir dir;
  {
    MetricsLog log(dir.str(), {"iteration", "loss", "kl"});
    log.append({{"iteration", 1}, {"loss", 0.5}, {"kl", 2.0}});
    // Rows are on disk as soon as append returns.
    EXPECT_EQ(read_text(dir / "metrics.csv"), "iteration,loss,kl\n1,0.5,2\n");
    log.append({{"iteration", 2}, {"loss", 1.0 / 3.0}, {"note", "a,b"}});
    log.append({{"iteration", 3}, {"kl", 1e-12}});
  }
  EXPECT_EQ(read_text(dir / "metrics.csv"),
            "iteration,loss,kl\n1,0.5,2\n2,0.333333333,\n3,,1e-12\n");
  const std::string jsonl = read_text(dir / "metrics.jsonl");
  std::vector<Json> rows;
  size_t pos = 0, nl;
  while ((nl = jsonl.find('\n', pos)) != std::string::npos) {
    rows.push_back(Json::parse(jsonl.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  EXPECT_EQ(pos, jsonl.size());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (Json{{"iteration", 1}, {"loss", 0.5}, {"kl", 2.0}}));
  EXPECT_EQ(rows[1]["note"], "a,b");  // kept in JSONL although not a CSV column
  EXPECT_EQ(rows[1]["loss"].get<double>(), 1.0 / 3.0);
  EXPECT_FALSE(rows[2].contains("loss"));

  // Resume after a checkpoint at iteration 2, with a torn line from a killed run.
  {
    FILE* f = std::fopen((dir / "metrics.jsonl").c_str(), "ab");
    std::fputs("{\"iteration\": 4, \"lo", f);
    std::fclose(f);
  }
  {
    MetricsLog log(dir.str(), {"iteration", "loss", "kl"}, /*resume=*/true, /*keep_until=*/2);
    EXPECT_EQ(read_text(dir / "metrics.csv"), "iteration,loss,kl\n1,0.5,2\n2,0.333333333,\n");
    log.append({{"iteration", 3}, {"loss", 0.25}});
  }
  EXPECT_EQ(read_text(dir / "metrics.csv"),
            "iteration,loss,kl\n1,0.5,2\n2,0.333333333,\n3,0.25,\n");
  const std::string resumed = read_text(dir / "metrics.jsonl");
  EXPECT_EQ(std::count(resumed.begin(), resumed.end(), '\n'), 3);
  EXPECT_EQ(resumed.find("\"lo\n"), std::string::npos);

  // Without resume the files start over.
  MetricsLog fresh(dir.str(), {"iteration", "loss"});
  EXPECT_EQ(read_text(dir / "metrics.csv"), "iteration,loss\n");
  EXPECT_EQ(read_text(dir / "metrics.jsonl"), "");
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"metrics.csv", "metrics.jsonl"}));
}

TEST(IoFiles, MarkdownAndCsvTables) {
  EXPECT_EQ(markdown_table({"name", "value"}, {{"a", "1"}, {"bb", "22"}}),
            "| name | value |\n"
            "|------|-------|\n"
            "| a    | 1     |\n"
            "| bb   | 22    |\n");
  EXPECT_EQ(markdown_table({"x", "y"}, {{"a|b", "2"}}),
            "| x    | y   |\n"
            "|------|-----|\n"
            "| a\\|b | 2   |\n");
  EXPECT_EQ(csv_table({"name", "value"}, {{"a", "1"}, {"bb", "22"}}), "name,value\na,1\nbb,22\n");
  EXPECT_EQ(csv_table({"a", "b"}, {{"x,y", "say \"hi\""}, {"line\nbreak", "plain"}}),
            "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n\"line\nbreak\",plain\n");
}

// ---- progress -----------------------------------------------------------------------

TEST(IoProgress, FormatDuration) {
  EXPECT_EQ(Progress::format_duration(12.34), "12.3s");
  EXPECT_EQ(Progress::format_duration(185), "3m05s");
  EXPECT_EQ(Progress::format_duration(3720), "1h02m");
  EXPECT_EQ(Progress::format_duration(0), "0.0s");
  EXPECT_EQ(Progress::format_duration(59.99), "1m00s");
  EXPECT_EQ(Progress::format_duration(3599.7), "1h00m");
  EXPECT_EQ(Progress::format_duration(NAN), "-");
}

TEST(IoProgress, PlainLinesEndWithTheFinalState) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress p(200, "rings/anila", /*start=*/0, f, /*interactive=*/0);
  for (int it = 1; it <= 200; ++it) p.update(it, {{"loss", 0.5}, {"kl", NAN}});
  p.finish();
  const std::string out = read_stream(f);
  std::fclose(f);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\r'), std::string::npos);
  const size_t last_start = out.rfind('\n', out.size() - 2);
  const std::string last = out.substr(last_start == std::string::npos ? 0 : last_start + 1);
  EXPECT_EQ(last.rfind("rings/anila", 0), 0u) << last;
  EXPECT_NE(last.find("100%"), std::string::npos) << last;
  EXPECT_NE(last.find("200/200"), std::string::npos) << last;
  EXPECT_NE(last.find("loss 0.5"), std::string::npos) << last;
  EXPECT_NE(last.find("kl -"), std::string::npos) << last;
}

TEST(IoProgress, BarModeAndResumedStart) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress p(100, "demo", /*start=*/50, f, /*interactive=*/1);
  p.update(60, {{"loss", 1.25}});
  p.update(100, {{"loss", 0.125}});
  p.finish();
  const std::string out = read_stream(f);
  std::fclose(f);
  EXPECT_EQ(out.front(), '\r');
  EXPECT_EQ(out.back(), '\n');
  const std::string last = out.substr(out.rfind('\r') + 1);
  EXPECT_NE(last.find("demo ["), std::string::npos) << last;
  EXPECT_NE(last.find("100%"), std::string::npos) << last;
  EXPECT_NE(last.find("100/100"), std::string::npos) << last;
  EXPECT_NE(last.find("loss 0.125"), std::string::npos) << last;
}

TEST(IoProgress, QuietPrintsNothing) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress p(10, "quiet", 0, f, /*interactive=*/1, /*quiet=*/true);
  for (int it = 1; it <= 10; ++it) p.update(it, {{"loss", 1.0}});
  p.finish();
  EXPECT_EQ(read_stream(f), "");
  std::fclose(f);
}
