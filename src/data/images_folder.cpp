// images_folder.cpp — a folder of image files (Oxford Flowers, CelebA, your own).
//
// Every .png/.jpg/.jpeg/.bmp (any case) under the folder, recursively, sorted
// by path, is decoded with stb_image (8 bits per channel, RGB), reduced to
// luminance Y = 0.299R + 0.587G + 0.114B when channels = 1, centre-cropped to
// the largest square and box-filtered to S×S (resize_square). Files decode
// in parallel (parallel_each: at::get_num_threads() threads, one file at a
// time); with a limit they decode in chunks until enough usable images are
// found. Files that fail to decode, fail their PNG checksums, are smaller than
// 8×8, larger than 8192×8192 or claim more pixels than their size can encode
// (header_problem) are skipped and summarised in one warning.
#include <stb_image.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>

#include <ATen/ATen.h>

#include "anila/common.h"
#include "anila/config.h"
#include "data/images_internal.h"

namespace anila::data::internal {

namespace fs = std::filesystem;

namespace {

constexpr int kMinSide = 8;
constexpr int64_t kMaxPixels = int64_t(8192) * 8192;
constexpr int64_t kMinChunk = 256;

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

// The image files under `folder`, sorted by path. Symbolic links to folders
// are followed once: a folder reached again (a link loop, or two links to one
// place) is not entered again, and a file reached under two names counts once.
std::vector<fs::path> list_image_files(const std::string& folder) {
  std::vector<fs::path> files;
  std::set<fs::path> seen_dirs, seen_files;
  std::error_code ec;
  seen_dirs.insert(fs::canonical(folder, ec));
  try {
    const auto options = fs::directory_options::follow_directory_symlink |
                         fs::directory_options::skip_permission_denied;
    for (auto it = fs::recursive_directory_iterator(folder, options);
         it != fs::recursive_directory_iterator(); ++it) {
      const fs::directory_entry& entry = *it;
      if (entry.is_directory(ec)) {
        const fs::path real = fs::canonical(entry.path(), ec);
        if (ec || !seen_dirs.insert(real).second) it.disable_recursion_pending();
        continue;
      }
      if (entry.is_regular_file(ec) && has_image_extension(entry.path())) {
        const fs::path real = fs::canonical(entry.path(), ec);
        if (!ec && seen_files.insert(real).second) files.push_back(entry.path());
      }
    }
  } catch (const fs::filesystem_error& e) {
    throw UserError("cannot list image folder " + folder + ": " + e.code().message());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Why a file's header is not worth decoding, or "". stb_image fills what a
// truncated file lacks, so a few bytes of header can claim a huge image that
// then takes seconds and gigabytes to decode. Besides the 8192×8192 limit, a
// header may claim no more pixels than its file could encode at the densest
// its format allows (what stb_image reads):
//   BMP   1 bit per pixel, uncompressed (stb_image reads no RLE): 8 per byte
//   JPEG  every 8×8 block of luma takes at least one bit (the DC code; in a
//         progressive file the first DC scan): 64 × 8 = 512 per byte
//   PNG   deflate expands at most 1032:1, at 1 bit per pixel: 8256 per byte
// Content decides the format (not the extension): stb_image would also guess
// TGA, PSD, GIF, HDR, PIC and PNM, which an image folder does not hold.
std::string header_problem(const std::vector<uint8_t>& bytes, int w, int h) {
  struct Format {
    const char* name;
    const char* magic;
    size_t magic_len;
    int64_t pixels_per_byte;
  };
  static const Format kFormats[] = {
      {"PNG", "\x89PNG\r\n\x1a\n", 8, 8256}, {"JPEG", "\xff\xd8\xff", 3, 512}, {"BMP", "BM", 2, 8}};
  const Format* format = nullptr;
  for (const Format& f : kFormats) {
    if (bytes.size() >= f.magic_len && std::memcmp(bytes.data(), f.magic, f.magic_len) == 0)
      format = &f;
  }
  if (!format) return "not a PNG, JPEG or BMP file (unknown signature)";
  const int64_t pixels = int64_t(w) * h;
  if (pixels > kMaxPixels) {
    return std::to_string(w) + "×" + std::to_string(h) + " is larger than 8192×8192";
  }
  const int64_t most = int64_t(bytes.size()) * format->pixels_per_byte;
  if (pixels > most) {
    return "header claims " + std::to_string(w) + "×" + std::to_string(h) +
           " pixels, more than a " + std::to_string(bytes.size()) + "-byte " + format->name +
           " can hold (at most " + std::to_string(most) + "): truncated or damaged";
  }
  return "";
}

// Decodes one file into out [channels, size, size]; returns "" or why it was skipped.
std::string decode_file(const fs::path& file, int64_t size, int64_t channels, float* out) {
  const std::vector<uint8_t> bytes = read_file_bytes(file.string());
  std::string ext = file.extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".png") {
    const std::string damage = png_damage(bytes.data(), bytes.size());
    if (!damage.empty()) return damage;
  }
  if (bytes.size() > size_t(std::numeric_limits<int>::max())) return "file larger than 2 GB";
  int w = 0, h = 0, n = 0;
  // The header's size before decoding (127 bytes of BMP could claim 14862×12544:
  // 4 GB to decode and crop; 63 bytes 8000×8000, seconds of decoding).
  if (!stbi_info_from_memory(bytes.data(), int(bytes.size()), &w, &h, &n)) w = h = 0;
  const std::string problem = header_problem(bytes, w, h);
  if (!problem.empty()) return problem;
  std::unique_ptr<stbi_uc, void (*)(void*)> data(
      stbi_load_from_memory(bytes.data(), int(bytes.size()), &w, &h, &n, 3), stbi_image_free);
  if (!data) {
    const char* why = stbi_failure_reason();
    return std::string("cannot decode (") + (why ? why : "unknown error") + ")";
  }
  if (w < kMinSide || h < kMinSide) {
    return std::to_string(w) + "×" + std::to_string(h) + " is smaller than 8×8";
  }
  const int64_t s = std::min(w, h), y0 = (h - s) / 2, x0 = (w - s) / 2;
  std::vector<double> square(size_t(channels * s * s));
  const stbi_uc* px = data.get();
  for (int64_t y = 0; y < s; ++y) {
    for (int64_t x = 0; x < s; ++x) {
      const stbi_uc* p = px + ((y0 + y) * w + x0 + x) * 3;
      if (channels == 1) {
        square[size_t(y * s + x)] = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
      } else {
        for (int64_t c = 0; c < 3; ++c) square[size_t((c * s + y) * s + x)] = p[c];
      }
    }
  }
  resize_square(square.data(), channels, s, size, out);
  return "";
}

}  // namespace

FolderImages load_image_folder(const std::string& folder, int64_t size, int64_t channels,
                               int64_t limit, const std::string& key) {
  std::error_code ec;
  if (!fs::exists(folder, ec))
    throw UserError(key + ": image folder " + folder + " does not exist");
  if (!fs::is_directory(folder, ec)) {
    throw UserError(key + ": " + folder + " is not a folder (type image_folder expects a folder)");
  }
  const std::vector<fs::path> files = list_image_files(folder);
  if (files.empty()) {
    throw UserError(folder + ": no .png, .jpg, .jpeg or .bmp files found (searched recursively)");
  }

  const double images =
      double(limit > 0 ? std::min<int64_t>(limit, int64_t(files.size())) : int64_t(files.size()));
  check_memory(key.substr(0, key.rfind('.') + 1) + "size = " + std::to_string(size) + " for " +
                   std::to_string(int64_t(images)) + " images",
               4.0 * images * double(channels) * double(size) * double(size));
  std::vector<at::Tensor> kept;
  int64_t kept_count = 0, skipped = 0;
  std::string first_skip;
  const int64_t per_image = channels * size * size;
  for (int64_t begin = 0; begin < int64_t(files.size());) {
    const int64_t want =
        limit > 0 ? std::max(limit - kept_count, kMinChunk) : int64_t(files.size());
    const int64_t count = std::min(want, int64_t(files.size()) - begin);
    at::Tensor chunk = at::empty({count, channels, size, size}, at::kFloat);
    float* out = chunk.data_ptr<float>();
    std::vector<std::string> why(static_cast<size_t>(count));
    parallel_each(count, [&](int64_t i) {
      try {
        why[size_t(i)] = decode_file(files[size_t(begin + i)], size, channels, out + i * per_image);
      } catch (const std::exception& e) {  // std::bad_alloc on a huge image
        why[size_t(i)] = std::string("cannot decode (") + e.what() + ")";
      }
    });
    // Files after the limit-th usable one count neither as kept nor as skipped.
    std::vector<int64_t> good;
    for (int64_t i = 0; i < count; ++i) {
      if (limit > 0 && kept_count + int64_t(good.size()) >= limit) break;
      if (why[size_t(i)].empty()) {
        good.push_back(i);
        continue;
      }
      ++skipped;
      if (first_skip.empty()) {
        first_skip =
            files[size_t(begin + i)].lexically_relative(folder).string() + ": " + why[size_t(i)];
      }
    }
    if (!good.empty()) {
      kept.push_back(int64_t(good.size()) == count
                         ? chunk
                         : chunk.index_select(0, at::tensor(good, at::kLong)));
      kept_count += int64_t(good.size());
    }
    begin += count;
    if (limit > 0 && kept_count >= limit) break;
  }

  if (kept_count == 0) {
    throw UserError(folder + ": no usable images (" + std::to_string(skipped) +
                    " files skipped; first: " + first_skip + ")");
  }
  FolderImages result;
  result.images = kept.size() == 1 ? kept[0] : at::cat(kept, 0);
  if (skipped > 0) {
    result.warnings.push_back("skipped " + std::to_string(skipped) + " files in " + folder +
                              " (first: " + first_skip + ")");
  }
  return result;
}

}  // namespace anila::data::internal
