// images_internal.h — private pieces shared by the image loaders
// (anila/data/images.h): checked file reading, 8-bit → [−1, 1] scaling, the
// centre-crop + box-filter resize, and the per-format readers.
//
// Notation: N images, C channels, h×w source pixels, s the side of the centre
// crop, S the output side. Byte images are uint8 [N, C, h, w] (planar).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace anila::data::internal {

// An undecoded dataset: pixels uint8 [N, C, h, w], labels int64 [N] or undefined.
struct ByteImages {
  at::Tensor pixels;
  at::Tensor labels;
  std::string name;
  std::vector<std::string> warnings;
};

// The whole content of `file`, raw or gzip-compressed (zlib decides by the
// magic bytes). UserError naming the file if it is missing, a folder, or fails
// to read/decompress; `hint` (may be empty) is appended to "missing file" errors.
std::vector<uint8_t> read_file_bytes(const std::string& file, const std::string& hint = "");

// Calls fn(i) for i in [0, n) on at::get_num_threads() std::threads (each
// picks the next index). Used instead of at::parallel_for, whose OpenMP
// version runs serially in translation units built without -fopenmp. fn must
// not throw.
void parallel_each(int64_t n, const std::function<void(int64_t)>& fn);

// b/127.5 − 1 computed in double and rounded once to float32.
float byte_to_unit(uint8_t b);

// The last component of `path` after normalisation ("/a/b/" → "b", "." → the
// current folder's name).
std::string folder_name(const std::string& path);

// square: a planar double image [C, s, s] with values in [0, 255]; writes the
// box-filtered [C, S, S] image scaled to [−1, 1] into out.
void resize_square(const double* square, int64_t c, int64_t s, int64_t size, float* out);

// Byte images [N, C, h, w] → float32 [N, C, S, S] in [−1, 1]; size 0 keeps the
// native h×w (no crop), otherwise centre-crop + resize_square.
at::Tensor bytes_to_images(const at::Tensor& pixels, int64_t size);

// IDX folder or images file; `key` is the config key of the path (for messages).
ByteImages read_idx(const std::string& path, const std::string& split, const std::string& key);

// CIFAR-10 binary batches in `folder` for `split` ("train" | "test").
ByteImages read_cifar10(const std::string& folder, const std::string& split,
                        const std::string& key);

// Why a PNG file's bytes cannot be trusted ("damaged (CRC mismatch in chunk
// IDAT)", "truncated ..."), or "" when every chunk's CRC-32 matches. stb_image
// decodes damaged files without a word, so the folder loader checks first.
std::string png_damage(const uint8_t* data, size_t size);

// Decoded image files: images float32 [N, channels, size, size] in [−1, 1].
struct FolderImages {
  at::Tensor images;
  std::vector<std::string> warnings;
};

// Decodes the image files under `folder` in parallel; stops after `limit`
// usable images when limit > 0. UserError for a missing folder or when no
// usable image remains.
FolderImages load_image_folder(const std::string& folder, int64_t size, int64_t channels,
                               int64_t limit, const std::string& key);

}  // namespace anila::data::internal
