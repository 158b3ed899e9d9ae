// inpaint.cpp — `anila inpaint`: fill in masked pixels of images with a trained
// image EBM (anila/train/generate.h).
//
//   anila inpaint --checkpoint RUN (--images DIR | --config FILE)
//                 [--mask center|left-half|random] [--steps K] [--n 16]
//                 [--sampler NAME] [--seed S] [--out DIR] [--force]
//
// --images DIR: an image folder, loaded at the model's size and channels;
// --config FILE: that config's data section (e.g. an idx test split). The
// first --n images are inpainted. Output: RUN/inpaint-<mask> by default.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "anila/config.h"
#include "anila/data/images.h"
#include "anila/train/experiment.h"
#include "anila/train/generate.h"
#include "cli.h"

namespace anila::cli {

namespace {
struct InpaintArgs {
  std::string checkpoint, images, config, mask = "center", sampler, out, weights;
  int64_t steps = -1, n = 16;
  uint64_t seed = 123;
  bool force = false;
};
}  // namespace

void add_inpaint(CLI::App& app) {
  auto args = std::make_shared<InpaintArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inpaint",
      "Fill in masked pixels of images with a trained image EBM (kept pixels untouched)");
  cmd->add_option("--checkpoint", args->checkpoint,
                  "A run folder or its checkpoints/last.pt or checkpoints/best.pt")
      ->required();
  cmd->add_option("--images", args->images, "A folder of images (PNG/JPEG/BMP)");
  cmd->add_option("--config", args->config, "A config file whose data section gives the images");
  cmd->add_option("--mask", args->mask, "center | left-half | random")->capture_default_str();
  cmd->add_option("--steps", args->steps, "Sampler steps K (default: the run's train.mcmc_steps)");
  cmd->add_option("--n", args->n, "Number of images inpainted (the first N)")
      ->capture_default_str();
  cmd->add_option("--sampler", args->sampler, "Sampler type (default: the run's)");
  cmd->add_option("--seed", args->seed, "Seed (random mask, noise start, sampler)")
      ->capture_default_str();
  cmd->add_option("--out", args->out, "Output folder (default: RUN/inpaint-<mask>)")
      ->check(non_empty());
  cmd->add_option("--weights", args->weights,
                  "ema or raw (default: the run's: ema when it keeps a moving average)")
      ->check(CLI::IsMember({"ema", "raw"}));
  cmd->add_flag("--force", args->force, "Replace an existing output folder");
  cmd->callback([args]() {
    if (args->images.empty() == args->config.empty()) {
      throw UserError("inpaint: give exactly one of --images DIR or --config FILE");
    }
    if (args->n < 1) throw UserError("--n: must be >= 1, got " + std::to_string(args->n));
    // Check the mask name and the image folder before the (slow) loading.
    make_inpaint_mask(args->mask, {1, 1, 2, 2}, 0);
    std::error_code ec;
    if (!args->images.empty() && !std::filesystem::is_directory(args->images, ec)) {
      throw UserError("--images: " + args->images + " is not a folder (or does not exist)");
    }
    LoadedRun run = load_run(args->checkpoint, args->weights);
    if (run.sample_shape.size() != 3) {
      throw UserError("inpaint: " + args->checkpoint + " is not an image run");
    }
    apply_threads(run.config);
    const at::Tensor images = inpaint_inputs(run, args->images, args->config, args->n);
    const int64_t n = images.size(0);
    InpaintOptions o;
    o.mask = args->mask;
    o.sampler_type = args->sampler;
    o.steps = args->steps;
    o.seed = args->seed;
    o.force = args->force;
    o.out_dir = args->out.empty() ? run.dir + "/inpaint-" + args->mask : args->out;
    Json summary = inpaint_images(run, images, o);
    std::cout << fmt::format(
        "{}\n  {} images, mask {} ({:.0f}% of pixels), {} x {} steps: mse on masked pixels "
        "{:.4f} (from {:.4f} at the noise start)\n",
        o.out_dir, n, o.mask, 100 * summary["mask_fraction"].get<double>(),
        summary["sampler"].get<std::string>(), summary["steps"].get<int64_t>(),
        summary["mse"].get<double>(), summary["mse_start"].get<double>());
  });
}

}  // namespace anila::cli
