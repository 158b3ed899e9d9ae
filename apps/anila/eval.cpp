// eval.cpp — `anila eval`: FD/KID of a trained image EBM's samples against the
// test split, in a named feature space.
//
//   anila eval --checkpoint runs/fashion_mnist [--n 10000] [--sampler anila] [--steps 60]
//              [--features fmnist|FILE] [--out DIR]
#include <memory>

#include "anila/train/evaluate.h"
#include "cli.h"

namespace anila::cli {

void add_eval(CLI::App& app) {
  auto o = std::make_shared<ImageEvalOptions>();
  auto checkpoint = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "FD/KID of a trained image model's samples against the test split (JSON)");
  cmd->add_option("--checkpoint", *checkpoint,
                  "A run folder or its checkpoints/last.pt or checkpoints/best.pt")
      ->required();
  cmd->add_option("--n", o->n, "Generated images")->capture_default_str();
  cmd->add_option("--sampler", o->sampler, "Sampler type (default: the run's)");
  cmd->add_option("--steps", o->steps, "Sampler steps K (default: the run's train.mcmc_steps)");
  cmd->add_option("--features", o->features,
                  "fmnist (built-in Fashion-MNIST classifier) or a TorchScript file "
                  "(default: the run's eval.features, else fmnist)");
  cmd->add_option("--reference", o->reference, "At most this many test images")
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Chains sampled at once")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed")->capture_default_str();
  cmd->add_option("--out", o->out_dir, "Output folder (default: RUN/eval-<sampler>)")
      ->check(non_empty());
  cmd->add_option("--weights", o->weights,
                  "ema or raw (default: the run's: ema when it keeps a moving average)")
      ->check(CLI::IsMember({"ema", "raw"}));
  cmd->add_flag("--quiet", o->quiet, "No progress output");
  cmd->callback([o, checkpoint]() { evaluate_checkpoint(*checkpoint, *o); });
}

}  // namespace anila::cli
