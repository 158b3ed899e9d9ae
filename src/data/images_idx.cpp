// images_idx.cpp — the IDX reader (MNIST, Fashion-MNIST), raw or gzipped.
//
// Format (big-endian): images file = magic 2051 (0x00000803), n, rows, cols,
// then n·rows·cols pixel bytes, row-major; labels file = magic 2049
// (0x00000801), n, then n label bytes. Images come back as uint8
// [n, 1, rows, cols] and labels as int64 [n].
//
// `path` is a folder ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]) or an
// images file (labels: same name with images-idx3 → labels-idx1, if present).
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <ATen/ATen.h>

#include "anila/common.h"
#include "data/images_internal.h"

namespace anila::data::internal {

namespace fs = std::filesystem;

namespace {

constexpr uint32_t kImagesMagic = 2051;
constexpr uint32_t kLabelsMagic = 2049;
constexpr size_t kImagesHeader = 16;
constexpr size_t kLabelsHeader = 8;
constexpr const char* kInstallHint = "install Debian's dataset-fashion-mnist or set data.path";

uint32_t big_endian_u32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// The magic of an IDX file, with a hint when it is the other kind.
void check_magic(uint32_t magic, uint32_t expected, const std::string& file) {
  if (magic == expected) return;
  std::string guess;
  if (magic == kLabelsMagic) guess = ": is this a label file?";
  if (magic == kImagesMagic) guess = ": is this an images file?";
  if (guess.empty()) guess = ": is this an IDX file?";
  throw UserError("wrong magic " + std::to_string(magic) + " in " + file + guess + " expected " +
                  std::to_string(expected) +
                  (expected == kImagesMagic ? " (images)" : " (labels)"));
}

// f or f.gz, whichever exists (empty when neither).
std::string raw_or_gz(const fs::path& f) {
  std::error_code ec;
  if (fs::exists(f, ec)) return f.string();
  const fs::path gz = f.string() + ".gz";
  if (fs::exists(gz, ec)) return gz.string();
  return "";
}

at::Tensor read_images_file(const std::string& file) {
  const std::vector<uint8_t> bytes = read_file_bytes(file, kInstallHint);
  // The magic first: a (short) labels file given by mistake gets the better hint.
  if (bytes.size() >= 4) check_magic(big_endian_u32(bytes.data()), kImagesMagic, file);
  if (bytes.size() < kImagesHeader) {
    throw UserError(file + ": only " + std::to_string(bytes.size()) +
                    " bytes, too short for the 16-byte IDX images header");
  }
  const uint64_t n = big_endian_u32(bytes.data() + 4);
  const uint64_t rows = big_endian_u32(bytes.data() + 8);
  const uint64_t cols = big_endian_u32(bytes.data() + 12);
  const std::string shape =
      std::to_string(n) + " images of " + std::to_string(rows) + "×" + std::to_string(cols);
  if (n == 0 || rows == 0 || cols == 0) throw UserError(file + ": header says " + shape);
  // rows·cols < 2^64, but n·rows·cols may not be: compare by division.
  const uint64_t held = bytes.size() - kImagesHeader;
  const uint64_t per_image = rows * cols;
  if (per_image > held || n > held / per_image) {
    const long double want = static_cast<long double>(n) * per_image;
    char expected[32];
    std::snprintf(expected, sizeof(expected), "%.0Lf", want);
    throw UserError(file + ": header says " + shape + " (count × rows × cols = " + expected +
                    " bytes) but the file holds only " + std::to_string(held) +
                    " bytes of pixels (expected " + expected +
                    "); truncated download or a damaged header?");
  }
  const uint64_t expected = n * per_image;
  at::Tensor pixels = at::empty({int64_t(n), 1, int64_t(rows), int64_t(cols)}, at::kByte);
  std::memcpy(pixels.data_ptr<uint8_t>(), bytes.data() + kImagesHeader, expected);
  return pixels;
}

at::Tensor read_labels_file(const std::string& file, int64_t images,
                            const std::string& images_file) {
  const std::vector<uint8_t> bytes = read_file_bytes(file);
  if (bytes.size() >= 4) check_magic(big_endian_u32(bytes.data()), kLabelsMagic, file);
  if (bytes.size() < kLabelsHeader) {
    throw UserError(file + ": only " + std::to_string(bytes.size()) +
                    " bytes, too short for the 8-byte IDX labels header");
  }
  const int64_t n = big_endian_u32(bytes.data() + 4);
  if (n != images) {
    throw UserError(file + ": header says " + std::to_string(n) + " labels but " + images_file +
                    " holds " + std::to_string(images) + " images");
  }
  const int64_t held = int64_t(bytes.size() - kLabelsHeader);
  if (held < n) {
    throw UserError(file + ": header says " + std::to_string(n) +
                    " labels but the file holds only " + std::to_string(held) +
                    " bytes of labels; truncated download?");
  }
  return at::from_blob(const_cast<uint8_t*>(bytes.data()) + kLabelsHeader, {n}, at::kByte)
      .to(at::kLong);
}

}  // namespace

ByteImages read_idx(const std::string& path, const std::string& split, const std::string& key) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw UserError(key + ": " + path + " does not exist (" + kInstallHint + ")");
  }
  std::string images_file, labels_file;
  ByteImages out;
  if (fs::is_directory(path, ec)) {
    const std::string prefix = split == "train" ? "train" : "t10k";
    images_file = raw_or_gz(fs::path(path) / (prefix + "-images-idx3-ubyte"));
    if (images_file.empty()) {
      throw UserError("missing file " +
                      (fs::path(path) / (prefix + "-images-idx3-ubyte")).string() +
                      "[.gz] for the " + split + " split (" + kInstallHint + ")");
    }
    labels_file = raw_or_gz(fs::path(path) / (prefix + "-labels-idx1-ubyte"));
    out.name = folder_name(path);
  } else {
    images_file = path;
    const fs::path p(path);
    std::string name = p.filename().string();
    const size_t at = name.rfind("images-idx3");
    if (at != std::string::npos) {
      name.replace(at, std::strlen("images-idx3"), "labels-idx1");
      const bool gz = name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0;
      const fs::path stem = p.parent_path() / (gz ? name.substr(0, name.size() - 3) : name);
      labels_file = raw_or_gz(stem);
    }
    out.name = folder_name(p.parent_path().empty() ? "." : p.parent_path().string());
  }
  out.pixels = read_images_file(images_file);
  if (labels_file.empty()) {
    out.warnings.push_back("no labels file found beside " + images_file + "; labels are undefined");
  } else {
    out.labels = read_labels_file(labels_file, out.pixels.size(0), images_file);
  }
  return out;
}

}  // namespace anila::data::internal
