// images_cifar.cpp — the CIFAR-10 binary-batch reader (cifar-10-binary.tar.gz).
//
// Each batch file is a run of 3073-byte records: 1 label byte (0..9), then
// 3072 pixel bytes = the R, G and B planes of a 32×32 image, each row-major.
// Train = data_batch_1.bin … data_batch_5.bin (the ones present, in order; a
// warning names the missing ones), test = test_batch.bin. Images come back as
// uint8 [N, 3, 32, 32] and labels as int64 [N].
#include <cstring>
#include <filesystem>

#include <ATen/ATen.h>

#include "anila/common.h"
#include "anila/config.h"
#include "data/images_internal.h"

namespace anila::data::internal {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kSide = 32;
constexpr int64_t kPixels = 3 * kSide * kSide;  // 3072
constexpr int64_t kRecord = 1 + kPixels;        // 3073
constexpr int64_t kClasses = 10;
constexpr int kTrainBatches = 5;
constexpr const char* kDownloadHint =
    "download the binary version of CIFAR-10 (cifar-10-binary.tar.gz) and extract it there";

std::vector<std::string> batch_names(const std::string& split) {
  if (split == "test") return {"test_batch.bin"};
  std::vector<std::string> names;
  for (int b = 1; b <= kTrainBatches; ++b)
    names.push_back("data_batch_" + std::to_string(b) + ".bin");
  return names;
}

// One batch file: appends its pixels and labels.
void read_batch(const std::string& file, std::vector<at::Tensor>& pixels,
                std::vector<at::Tensor>& labels) {
  const std::vector<uint8_t> bytes = read_file_bytes(file);
  const int64_t size = int64_t(bytes.size());
  if (size == 0) throw UserError(file + ": empty file, expected 3073-byte CIFAR-10 records");
  if (size % kRecord != 0) {
    throw UserError(file + ": " + std::to_string(size) +
                    " bytes is not a multiple of the 3073-byte CIFAR-10 record" +
                    (size % 3074 == 0 ? " (3074-byte records: is this CIFAR-100?)" : ""));
  }
  const int64_t n = size / kRecord;
  at::Tensor p = at::empty({n, 3, kSide, kSide}, at::kByte);
  at::Tensor l = at::empty({n}, at::kLong);
  uint8_t* pp = p.data_ptr<uint8_t>();
  int64_t* lp = l.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* record = bytes.data() + i * kRecord;
    if (record[0] >= kClasses) {
      throw UserError(file + ": record " + std::to_string(i) + " has label " +
                      std::to_string(int(record[0])) +
                      ", but CIFAR-10 labels are 0..9 (is this a CIFAR-10 binary batch?)");
    }
    lp[i] = record[0];
    std::memcpy(pp + i * kPixels, record + 1, kPixels);
  }
  pixels.push_back(p);
  labels.push_back(l);
}

}  // namespace

ByteImages read_cifar10(const std::string& path, const std::string& split, const std::string& key) {
  std::error_code ec;
  const std::vector<std::string> names = batch_names(split);
  const std::string expected = join(names);
  if (!fs::is_directory(path, ec)) {
    throw UserError(key + ": CIFAR-10 folder " + path + " does not exist (expected " + expected +
                    " in it; " + kDownloadHint + ")");
  }
  // Accept the folder above the archive's cifar-10-batches-bin as well.
  fs::path folder(path);
  if (!fs::exists(folder / names[0], ec) && fs::is_directory(folder / "cifar-10-batches-bin", ec)) {
    folder /= "cifar-10-batches-bin";
  }
  std::vector<std::string> present, missing;
  for (const std::string& name : names) {
    (fs::exists(folder / name, ec) ? present : missing).push_back(name);
  }
  if (present.empty()) {
    throw UserError(folder.string() + ": no CIFAR-10 " + split + " batches found (expected " +
                    expected + "; " + kDownloadHint + ")");
  }
  ByteImages out;
  out.name = "cifar10";
  if (!missing.empty()) {
    out.warnings.push_back("missing CIFAR-10 " + split + " batches in " + folder.string() + ": " +
                           join(missing) + "; loaded " + std::to_string(present.size()) + " of " +
                           std::to_string(names.size()));
  }
  std::vector<at::Tensor> pixels, labels;
  for (const std::string& name : present) read_batch((folder / name).string(), pixels, labels);
  out.pixels = pixels.size() == 1 ? pixels[0] : at::cat(pixels, 0);
  out.labels = labels.size() == 1 ? labels[0] : at::cat(labels, 0);
  return out;
}

}  // namespace anila::data::internal
