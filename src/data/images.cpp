// images.cpp — the image-dataset factory, sampling, and the shared helpers of
// images_internal.h (checked gzip/raw file reading, scaling, crop + box resize).
// Formats live in images_idx.cpp, images_cifar.cpp and images_folder.cpp.
//
// Notation: N images, C channels, h×w source pixels, s the centre-crop side,
// S the output side, M draws. See anila/data/images.h for the config keys.
#include "anila/data/images.h"

#ifndef ANILA_NO_ZLIB
#include <zlib.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "anila/config.h"
#include "data/images_internal.h"

namespace anila::data {

const char* kDefaultFashionMnistPath = "/usr/share/datasets/fashion-mnist";

namespace internal {

namespace fs = std::filesystem;

namespace {

#ifndef ANILA_NO_ZLIB
// Closes a gzFile on every path out of read_file_bytes.
struct GzCloser {
  gzFile file;
  ~GzCloser() {
    if (file) gzclose(file);
  }
};

constexpr unsigned kReadChunk = 1u << 20;

// gzerror's text without the "FILE: " prefix zlib puts in front of it.
std::string gz_reason(gzFile in, const std::string& file, int* code) {
  const char* why = gzerror(in, code);
  std::string text = why && *why ? why : "read error";
  if (text.rfind(file + ": ", 0) == 0) text = text.substr(file.size() + 2);
  return text;
}
#endif

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& file, const std::string& hint) {
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    throw UserError("missing file " + file + (hint.empty() ? "" : " (" + hint + ")"));
  }
  if (!fs::is_regular_file(file, ec)) {
    throw UserError(file + ": expected a file, found a folder or special file");
  }
#ifdef ANILA_NO_ZLIB
  // A build without zlib (cmake -DANILA_ZLIB=OFF) reads files as they are.
  std::ifstream in(file, std::ios::binary);
  if (!in) throw UserError("cannot open " + file + ": " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad()) throw UserError("cannot read " + file);
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
    throw UserError(file + " is gzip-compressed and this build of anila has no zlib " +
                    "(configured with ANILA_ZLIB=OFF): gunzip it, or rebuild with zlib");
  }
  return bytes;
#else
  // gzread passes a file without the gzip magic through unchanged.
  GzCloser in{gzopen(file.c_str(), "rb")};
  if (!in.file) {
    throw UserError("cannot open " + file + ": " + std::strerror(errno));
  }
  std::vector<uint8_t> bytes;
  while (true) {
    const size_t old = bytes.size();
    bytes.resize(old + kReadChunk);
    const int got = gzread(in.file, bytes.data() + old, kReadChunk);
    if (got < 0) {
      int code = 0;
      const std::string why = gz_reason(in.file, file, &code);
      throw UserError("cannot read " + file + ": " + why +
                      (code == Z_DATA_ERROR ? " (corrupt gzip data?)" : ""));
    }
    bytes.resize(old + size_t(got));
    if (got == 0) break;
  }
  // A truncated .gz ends without an error from gzread but leaves Z_BUF_ERROR.
  int code = 0;
  const std::string why = gz_reason(in.file, file, &code);
  if (code != Z_OK) {
    throw UserError("cannot read " + file + ": " + why + " (truncated or corrupt gzip file?)");
  }
  return bytes;
#endif
}

void parallel_each(int64_t n, const std::function<void(int64_t)>& fn) {
  const int64_t workers = std::min<int64_t>(std::max(at::get_num_threads(), 1), n);
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t i = next++; i < n; i = next++) fn(i);
  };
  if (workers <= 1) {
    work();
    return;
  }
  std::vector<std::thread> threads;
  for (int64_t t = 1; t < workers; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
}

float byte_to_unit(uint8_t b) {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int v = 0; v < 256; ++v) t[size_t(v)] = float(double(v) / 127.5 - 1.0);
    return t;
  }();
  return table[b];
}

std::string folder_name(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::path(path), ec);
  if (ec) p = fs::path(path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

namespace {

// The source pixels feeding each output pixel of one axis, with integer
// weights: in units of 1/S source pixels, source i spans [i·S, (i+1)·S) and
// output o spans [o·s, (o+1)·s); the weight is their overlap, and each output's
// weights sum to s.
struct Taps {
  std::vector<int64_t> begin;  // [S + 1] offsets into index/weight
  std::vector<int64_t> index;
  std::vector<double> weight;
};

Taps make_taps(int64_t s, int64_t size) {
  Taps t;
  t.begin.push_back(0);
  for (int64_t o = 0; o < size; ++o) {
    const int64_t lo = o * s, hi = (o + 1) * s;
    for (int64_t i = lo / size; i * size < hi; ++i) {
      const int64_t overlap = std::min(hi, (i + 1) * size) - std::max(lo, i * size);
      if (overlap <= 0) continue;
      t.index.push_back(i);
      t.weight.push_back(double(overlap));
    }
    t.begin.push_back(int64_t(t.index.size()));
  }
  return t;
}

}  // namespace

void resize_square(const double* square, int64_t c, int64_t s, int64_t size, float* out) {
  const Taps taps = make_taps(s, size);
  // Horizontal pass: rows[ch][y][ox] = Σ_i w_i · square[ch][y][i].
  std::vector<double> rows(size_t(c * s * size));
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t y = 0; y < s; ++y) {
      const double* src = square + (ch * s + y) * s;
      double* dst = rows.data() + (ch * s + y) * size;
      for (int64_t ox = 0; ox < size; ++ox) {
        double acc = 0;
        for (int64_t k = taps.begin[size_t(ox)]; k < taps.begin[size_t(ox + 1)]; ++k) {
          acc += taps.weight[size_t(k)] * src[taps.index[size_t(k)]];
        }
        dst[ox] = acc;
      }
    }
  }
  // Vertical pass, then divide by the total weight s² and scale to [−1, 1].
  const double norm = 1.0 / (double(s) * double(s) * 127.5);
  std::vector<double> acc(static_cast<size_t>(size));
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t oy = 0; oy < size; ++oy) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t k = taps.begin[size_t(oy)]; k < taps.begin[size_t(oy + 1)]; ++k) {
        const double w = taps.weight[size_t(k)];
        const double* src = rows.data() + (ch * s + taps.index[size_t(k)]) * size;
        for (int64_t ox = 0; ox < size; ++ox) acc[size_t(ox)] += w * src[ox];
      }
      float* dst = out + (ch * size + oy) * size;
      for (int64_t ox = 0; ox < size; ++ox) dst[ox] = float(acc[size_t(ox)] * norm - 1.0);
    }
  }
}

at::Tensor bytes_to_images(const at::Tensor& pixels, int64_t size) {
  TORCH_CHECK(pixels.dim() == 4 && pixels.scalar_type() == at::kByte,
              "bytes_to_images: expected uint8 [N, C, h, w], got ", pixels.sizes());
  const at::Tensor src = pixels.contiguous();
  const int64_t n = src.size(0), c = src.size(1), h = src.size(2), w = src.size(3);
  const uint8_t* in = src.data_ptr<uint8_t>();
  if (size == 0) {
    at::Tensor out = at::empty(src.sizes(), at::kFloat);
    float* o = out.data_ptr<float>();
    at::parallel_for(0, src.numel(), 1 << 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) o[i] = byte_to_unit(in[i]);
    });
    return out;
  }
  const int64_t s = std::min(h, w), y0 = (h - s) / 2, x0 = (w - s) / 2;
  check_memory("data.size = " + std::to_string(size) + " for " + std::to_string(n) + " images",
               4.0 * double(n) * double(c) * double(size) * double(size));
  at::Tensor out = at::empty({n, c, size, size}, at::kFloat);
  float* o = out.data_ptr<float>();
  parallel_each(n, [&](int64_t i) {
    std::vector<double> square(static_cast<size_t>(c * s * s));
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t y = 0; y < s; ++y) {
        const uint8_t* row = in + ((i * c + ch) * h + y0 + y) * w + x0;
        double* dst = square.data() + (ch * s + y) * s;
        for (int64_t x = 0; x < s; ++x) dst[x] = double(row[x]);
      }
    }
    resize_square(square.data(), c, s, size, o + i * c * size * size);
  });
  return out;
}

}  // namespace internal

namespace {

// data.classes: a non-empty list of integers >= 0.
std::vector<int64_t> read_classes(const Json& section, const std::string& key) {
  const Json& v = section.at("classes");
  bool ok = v.is_array() && !v.empty();
  std::vector<int64_t> out;
  if (ok) {
    for (const auto& e : v) {
      if (!e.is_number_integer() || e.get<int64_t>() < 0) {
        ok = false;
        break;
      }
      out.push_back(e.get<int64_t>());
    }
  }
  if (!ok) {
    throw UserError(key + ": expected a non-empty list of class labels (integers >= 0), got " +
                    describe_json(v));
  }
  return out;
}

// Keeps the images whose label is in `classes` (all when empty), then the first `limit`.
void filter_bytes(internal::ByteImages& data, const std::vector<int64_t>& classes, int64_t limit,
                  const std::string& classes_key, const std::string& source) {
  if (!classes.empty()) {
    if (!data.labels.defined()) {
      throw UserError(classes_key + ": " + source +
                      " has no labels file, so images cannot be filtered by class");
    }
    at::Tensor keep = at::zeros({data.labels.size(0)}, at::kBool);
    for (int64_t c : classes) keep.logical_or_(data.labels == c);
    const at::Tensor index = keep.nonzero().squeeze(1);
    if (index.size(0) == 0) {
      const int64_t lo = data.labels.min().item<int64_t>();
      const int64_t hi = data.labels.max().item<int64_t>();
      throw UserError(classes_key + ": no images of these classes in " + source + " (labels are " +
                      std::to_string(lo) + ".." + std::to_string(hi) + ")");
    }
    data.pixels = data.pixels.index_select(0, index);
    data.labels = data.labels.index_select(0, index);
  }
  if (limit > 0 && data.pixels.size(0) > limit) {
    data.pixels = data.pixels.narrow(0, 0, limit);
    if (data.labels.defined()) data.labels = data.labels.narrow(0, 0, limit).clone();
  }
}

// A key that only some types read: a clear message instead of "unknown key".
void reject_key(const ConfigReader& r, const std::string& key, const std::string& type,
                const std::string& why) {
  if (r.has(key))
    throw UserError(r.key_path(key) + ": not used by type " + type + " (" + why + ")");
}

}  // namespace

std::vector<std::string> image_dataset_types() {
  return {"idx", "cifar10", "image_folder"};
}

bool is_image_dataset_type(const std::string& type) {
  const std::vector<std::string> types = image_dataset_types();
  return std::find(types.begin(), types.end(), type) != types.end();
}

namespace {

// An image data section read and checked (no file opened yet).
struct ImageSource {
  std::string type, source, split, key_path, classes_key;
  int64_t limit = 0, size = 0, channels = 3;
  std::vector<int64_t> classes;
};

ImageSource parse_folder_section(ConfigReader& r, ImageSource src) {
  if (!r.has("path")) throw UserError(r.key_path("path") + ": required for type image_folder");
  reject_key(r, "split", src.type, "put train and test images in separate folders");
  reject_key(r, "classes", src.type, "an image folder has no labels");
  src.source = r.string("path", "");
  src.size = r.integer("size", 32, Range::at_least(1));
  src.channels = r.integer("channels", 3, Range::at_least(1));
  if (src.channels != 1 && src.channels != 3) {
    throw UserError(r.key_path("channels") + ": expected 1 (luminance) or 3 (RGB), got " +
                    std::to_string(src.channels));
  }
  r.finish();
  return src;
}

ImageSource parse_image_section(const Json& section, const std::string& path) {
  ConfigReader r(section, path);
  ImageSource src;
  src.type = r.choice("type", "idx", image_dataset_types());
  r.allow({"noise"});  // data noise σ_data, applied by the trainer
  src.limit = r.integer("limit", 0, Range::non_negative());
  src.key_path = r.key_path("path");
  src.classes_key = r.key_path("classes");
  if (src.type == "image_folder") return parse_folder_section(r, src);

  const std::string& type = src.type;
  reject_key(r, "channels", type, type == "idx" ? "IDX images have 1 channel" : "CIFAR-10 is RGB");
  if (type == "cifar10" && !r.has("path")) {
    throw UserError(r.key_path("path") +
                    ": required for type cifar10 (the folder holding data_batch_1.bin ... "
                    "test_batch.bin from cifar-10-binary.tar.gz)");
  }
  src.source =
      r.string("path", type == "idx" ? std::string(kDefaultFashionMnistPath) : std::string());
  src.split = r.choice("split", "train", {"train", "test"});
  src.size = r.integer("size", 0, Range::non_negative());
  if (r.has("classes")) {
    r.allow({"classes"});
    src.classes = read_classes(section, r.key_path("classes"));
  }
  r.finish();
  if (src.size > 0) {
    // Before reading: the resized images are N × C × S × S floats.
    const double one = 4.0 * 3 * double(src.size) * double(src.size);
    check_memory(r.key_path("size") + " = " + std::to_string(src.size) + " (one image " +
                     format_bytes(one) + ")",
                 one);
  }
  return src;
}

}  // namespace

void check_image_section(const Json& section, const std::string& path) {
  parse_image_section(section, path);
}

ImageDataset load_image_dataset(const Json& section, const std::string& path) {
  const ImageSource src = parse_image_section(section, path);
  if (src.type == "image_folder") {
    internal::FolderImages f =
        internal::load_image_folder(src.source, src.size, src.channels, src.limit, src.key_path);
    return ImageDataset{f.images, at::Tensor(), internal::folder_name(src.source),
                        std::move(f.warnings)};
  }
  internal::ByteImages bytes = src.type == "idx"
                                   ? internal::read_idx(src.source, src.split, src.key_path)
                                   : internal::read_cifar10(src.source, src.split, src.key_path);
  filter_bytes(bytes, src.classes, src.limit, src.classes_key, src.source);
  return ImageDataset{internal::bytes_to_images(bytes.pixels, src.size), bytes.labels, bytes.name,
                      std::move(bytes.warnings)};
}

std::vector<int64_t> image_shape_hint(const Json& section) {
  auto get = [&](const char* key, int64_t def) {
    return section.contains(key) && section[key].is_number_integer() ? section[key].get<int64_t>()
                                                                     : def;
  };
  const std::string type = section.value("type", std::string("idx"));
  if (type == "image_folder") {
    const int64_t size = get("size", 32);
    return {get("channels", 3), size, size};
  }
  const int64_t native = type == "cifar10" ? 32 : 28;
  const int64_t size = get("size", 0) > 0 ? get("size", 0) : native;
  return {type == "cifar10" ? 3 : 1, size, size};
}

at::Tensor sample_images(const ImageDataset& data, int64_t M, at::Generator& gen) {
  TORCH_CHECK(data.images.defined() && data.images.dim() == 4 && data.images.size(0) > 0,
              "sample_images: expected a non-empty dataset [N, C, H, W]");
  TORCH_CHECK(M >= 0, "sample_images: M must be >= 0, got ", M);
  TORCH_CHECK(gen.defined() && gen.device().is_cpu(), "sample_images: expected a CPU generator");
  const at::Tensor index = at::randint(data.images.size(0), {M}, gen, at::kLong);
  return data.images.index_select(0, index);
}

std::shared_ptr<ImageDataset> load_image_dataset_shared(const Json& section,
                                                        const std::string& path) {
  // Key: the section without the trainer's data noise (it does not change the images).
  Json key_json = section;
  if (key_json.is_object()) key_json.erase("noise");
  const std::string key = key_json.dump();
  static std::mutex mutex;
  static std::map<std::string, std::weak_ptr<ImageDataset>> loaded;
  static std::shared_ptr<ImageDataset> last;  // kept alive between the runs of one command
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto hit = loaded[key].lock()) return hit;
  }
  auto data = std::make_shared<ImageDataset>(load_image_dataset(section, path));
  std::lock_guard<std::mutex> lock(mutex);
  if (auto raced = loaded[key].lock()) return raced;
  loaded[key] = data;
  last = data;
  return data;
}

}  // namespace anila::data
