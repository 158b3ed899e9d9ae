// generate.h — using a trained image EBM: drawing images from it and inpainting.
//
// Notation: N images (chains), C channels, H×W pixels, K sampler steps,
// f(z): [N] the model's log unnormalised density, m: the inpainting mask
// (1 = a pixel to fill in, 0 = a pixel kept from the input x).
//
// generate_images: N chains start from the run's noise init (its chain source's
// `noise`) or from real images of the run's data set, and run K steps of each
// requested sampler with θ frozen (the same starting states for every sampler).
// Writes
//   OUT/<sampler>/samples.npy   [N, C, H, W] float32
//   OUT/<sampler>/samples.png   the N samples as a grid (io::image_grid with ⌈√N⌉
//                               columns, each pixel drawn 2×2 when H < 48)
//   OUT/samples.png             every sampler's grid side by side
//   OUT/summary.json            per sampler: mean f, energy gap (mean f of a data
//                               batch − mean f of the samples, when the run has
//                               data), seconds, mean |∇f| at the last state, and
//                               the sampler's per-step diagnostics
//
// inpaint_images: masked pixels start from the run's noise init; the sampler
// runs K steps on the log-density
//   g(z) = f(m⊙z + (1−m)⊙x),   ∇g(z) = m⊙∇f(m⊙z + (1−m)⊙x)
// (InpaintLogDensity), so the kept coordinates feel no force and MH samplers'
// symmetric proposal terms for them cancel; the result is where(m, z, x), so
// kept pixels are bit-identical to the input. Writes original.png, masked.png
// (masked pixels mid-grey), inpainted.png, figure.png (the three side by side),
// inpainted.npy [N, C, H, W] float32, mask.npy [N, C, H, W] uint8 (1 = inpainted),
// summary.json (mse on the masked pixels vs the original, the same for the
// noise start, mask fraction, sampler, steps).
//
// Masks (make_inpaint_mask): "center" the central square of side ⌊H/2⌋×⌊W/2⌋
// starting at ((H−⌊H/2⌋)/2, (W−⌊W/2⌋)/2); "left-half" columns [0, ⌊W/2⌋);
// "random" each pixel independently with probability 1/2 (Bernoulli draws on a
// CPU generator seeded with `seed`, one per pixel of each image, shared by the
// channels).
//
//   anila::LoadedRun run = anila::load_run("runs/fashion_mnist");
//   anila::GenerateOptions g;  g.samplers = {"langevin", "anila"};  g.out_dir = "out";
//   anila::generate_images(run, g);
//   anila::InpaintOptions o;  o.mask = "center";  o.out_dir = "inp";
//   anila::inpaint_images(run, images /*[N, C, H, W] in [−1, 1]*/, o);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "anila/common.h"
#include "anila/logdensity.h"
#include "anila/models/energy.h"
#include "anila/train/experiment.h"

namespace anila {

// ---- generation ----

struct GenerateOptions {
  // Sampler keys applied on top of every sampler's settings (e.g. from
  // --set sampler.KEY=V; null: none). Each name in `samplers` runs with the
  // run's settings for that type (resolve_sampler: samplers.<name>, then the
  // run's sampler.* keys), as `anila compare` does; empty `samplers`: the run's
  // own sampler type (or extra's "type").
  Json sampler;
  // Keys for one sampler each, {"<name>": {...}}, applied over `sampler` (a key of
  // `sampler` that only other types read is then skipped for this one; see
  // command_line_sampler_keys). Every name must be in `samplers`.
  Json per_sampler = Json::object();
  std::vector<std::string> samplers;
  int64_t chains = 64;         // N
  int64_t steps = -1;          // K (-1: the run's train.mcmc_steps; 0: the start itself)
  std::string init = "noise";  // noise (the run's chain source noise) | data (real images)
  uint64_t seed = 123;
  std::string out_dir;
  bool force = false;  // replace a non-empty out_dir
};

// Returns summary.json's content. UserError on a 2D run, an unknown sampler or
// init, a repeated sampler, N < 1, K < 0, init "data" without image data, or an
// existing output folder without force.
Json generate_images(const LoadedRun& run, const GenerateOptions& options);

// ---- inpainting ----

// The valid mask names: {"center", "left-half", "random"}.
std::vector<std::string> inpaint_mask_types();

// shape: {N, C, H, W}; returns bool [N, C, H, W] on the CPU, true = inpainted.
// UserError on an unknown mask name.
at::Tensor make_inpaint_mask(const std::string& type, const std::vector<int64_t>& shape,
                             uint64_t seed);

// g(z) = f(m⊙z + (1−m)⊙x) with ∇g = m⊙∇f. x: [N, ...] the image being
// completed, mask: bool, broadcastable to x; z must have x's shape.
class InpaintLogDensity : public LogDensity {
 public:
  InpaintLogDensity(EnergyModelPtr model, at::Tensor x, at::Tensor mask);
  LogDensityValue operator()(const at::Tensor& z) const override;
  at::Tensor value(const at::Tensor& z) const override;
  // where(mask, z, x): the image z stands for.
  at::Tensor complete(const at::Tensor& z) const;

 private:
  ModelLogDensity f_;
  at::Tensor x_, mask_;
};

struct InpaintOptions {
  std::string mask = "center";  // center | left-half | random
  Json sampler;                 // extra sampler keys, as in GenerateOptions (null: none)
  std::string sampler_type;     // the sampler type ("": the run's), with its settings as there
  int64_t steps = -1;           // K (-1: the run's train.mcmc_steps)
  uint64_t seed = 123;          // mask (random) and sampler noise
  std::string out_dir;
  bool force = false;
};

// The images to inpaint with `run`'s model, [min(n, available), C, H, W] in [−1, 1]:
// the first n images of `images_dir` (an image folder, resized to the run's size
// and channels) or, with config_path instead, of that config's image data section.
// UserError: both or neither given, n < 1, a 2D run, a missing folder, a config
// without image data.
at::Tensor inpaint_inputs(const LoadedRun& run, const std::string& images_dir,
                          const std::string& config_path, int64_t n);

// images: [N, C, H, W] in [−1, 1] with (C, H, W) the run's sample shape.
// Returns summary.json's content. UserError on a 2D run, a shape mismatch, an
// unknown mask or sampler, K < 0, or an existing output folder without force.
Json inpaint_images(const LoadedRun& run, const at::Tensor& images, const InpaintOptions& options);

}  // namespace anila
