// images.h — image datasets for image EBMs: IDX (MNIST, Fashion-MNIST), CIFAR-10
// binary batches, and folders of PNG/JPEG/BMP files.
//
// Notation: N images, C channels (1 or 3), H×W pixels, S the output side of a
// resized image, M draws. Every loader returns images as float32 [N, C, H, W]
// on the CPU, scaled to [−1, 1]: an 8-bit value b becomes b/127.5 − 1
// (computed in double, rounded once to float32, so 0 → −1 and 255 → 1 exactly).
//
// Resizing (image_folder always, idx/cifar10 when `size` > 0): centre-crop to
// the largest square, then area-average (box filter) to S×S: output pixel o of
// an axis covers [o·s/S, (o+1)·s/S) of the s-pixel crop and averages the source
// pixels weighted by their exact overlap. A uniform image stays exactly uniform;
// upsampling (s < S) reduces to nearest neighbour with blended seams.
//
// Config section (keys, defaults):
//   type     "idx" | "cifar10" | "image_folder"               ("idx")
//   path     idx: folder or images file (kDefaultFashionMnistPath);
//            cifar10, image_folder: a folder (required)
//   split    "train" | "test" (idx, cifar10)                   ("train")
//   size     image_folder: output S×S (32); idx/cifar10: 0 = native (0)
//   channels image_folder: 3 (RGB) or 1 (luminance 0.299R + 0.587G + 0.114B) (3)
//   classes  idx, cifar10: list of labels to keep, e.g. [0, 7]  (all)
//   limit    keep at most this many images after `classes`, 0 = all (0)
//   noise    accepted and ignored here (data noise, applied by the trainer)
//
// Formats and their rules:
//   idx           path is a folder holding {train,t10k}-images-idx3-ubyte and
//                 {train,t10k}-labels-idx1-ubyte (each raw or .gz), or an images
//                 file itself (then `split` is ignored and the labels file is the
//                 name with images-idx3 → labels-idx1, used when it exists).
//                 Big-endian headers, magic 2051 (images [n, rows, cols]) and
//                 2049 (labels [n]); C = 1.
//   cifar10       data_batch_1.bin … data_batch_5.bin (train) or test_batch.bin
//                 (test) in `path` (or in its cifar-10-batches-bin subfolder);
//                 records of 1 label byte + 3072 pixel bytes (R, G, B planes of
//                 32×32, row-major); C = 3. Train batches that are missing are
//                 skipped with a warning (a partial download still loads); with
//                 none present it is an error listing the expected files.
//   image_folder  every .png/.jpg/.jpeg/.bmp (any case) under `path`, recursively,
//                 sorted by path; other extensions are ignored silently. Files
//                 that do not decode or are smaller than 8×8 are skipped and
//                 reported in `warnings`; no labels.
//
//   auto data = anila::data::load_image_dataset({{"type", "idx"}, {"split", "test"}});
//   at::Tensor x = anila::data::sample_images(data, 64, gen);   // [64, 1, 28, 28]
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "anila/common.h"

namespace anila::data {

struct ImageDataset {
  at::Tensor images;                  // [N, C, H, W] float32 in [−1, 1], CPU
  at::Tensor labels;                  // [N] int64, or undefined when the source has none
  std::string name;                   // "fashion-mnist", "cifar10", the folder's name ...
  std::vector<std::string> warnings;  // e.g. "skipped 3 files in DIR (first: a.png: ...)"
};

// Where Debian's dataset-fashion-mnist package installs the four .gz IDX files.
extern const char* kDefaultFashionMnistPath;

// Loads the dataset described by `section` (keys above); `path` is the section's
// dotted name for messages. UserError (one line, naming the file or key) on a
// bad option, a missing or malformed file, or when nothing usable remains.
ImageDataset load_image_dataset(const Json& section, const std::string& path = "data");

// Checks `section` as load_image_dataset does (every key, type and range)
// without opening any file: a config's validation before a run starts.
void check_image_section(const Json& section, const std::string& path = "data");

// The same, loaded once per process: later calls with an equal section (data
// noise aside) share the first call's dataset, so the runs of one `anila
// compare`, and a config's validation and its run, decode the files once. The
// most recently loaded dataset stays in memory; others while someone holds them.
// Treat the result as read-only.
std::shared_ptr<ImageDataset> load_image_dataset_shared(const Json& section,
                                                        const std::string& path = "data");

// The valid values of data.type for image data: {"idx", "cifar10", "image_folder"}.
std::vector<std::string> image_dataset_types();
bool is_image_dataset_type(const std::string& type);

// The [C, H, W] shape a section describes, without reading any file
// (idx: 1×28×28, cifar10: 3×32×32, unless `size` > 0; image_folder: channels×size×size).
// Used to benchmark an image config whose data is not on this machine.
std::vector<int64_t> image_shape_hint(const Json& section);

// M images drawn uniformly with replacement using `gen` (CPU): [M, C, H, W].
at::Tensor sample_images(const ImageDataset& data, int64_t M, at::Generator& gen);

}  // namespace anila::data
