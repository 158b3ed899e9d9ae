// features.cpp — `anila features train`: trains the built-in Fashion-MNIST classifier
// whose 128-D penultimate layer is the "fmnist" feature extractor for FD/KID
// (anila/eval/features.h, docs/metrics.md).
//
//   anila features train [--out FILE (default: the per-user cache)] [--epochs 4] [--seed 0]
//                        [--threads 0] [--data /usr/share/datasets/fashion-mnist] [--quiet]
//
// Prints one line per epoch (loss, running accuracy) and the test accuracy on stderr, and
// the result as JSON on stdout.
#include <iostream>
#include <memory>

#include "anila/eval/features.h"
#include "cli.h"

namespace anila::cli {

namespace {
struct FeaturesTrainArgs {
  eval::ClassifierTrainOptions options;
  std::string out = eval::default_fmnist_features_path();
  bool quiet = false;
};
}  // namespace

void add_features(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "features", "Feature extractors for FD/KID: train the built-in Fashion-MNIST classifier");
  cmd->require_subcommand(1);
  auto args = std::make_shared<FeaturesTrainArgs>();
  CLI::App* train = cmd->add_subcommand(
      "train", "Train the Fashion-MNIST classifier used by --features fmnist; writes one file");
  train->add_option("--out", args->out, "Output file (folders are created)")
      ->capture_default_str()
      ->check(non_empty());
  train->add_option("--epochs", args->options.epochs, "Passes over the training split")
      ->capture_default_str();
  train->add_option("--batch", args->options.batch, "Images per Adam step")->capture_default_str();
  train->add_option("--lr", args->options.lr, "Adam learning rate")->capture_default_str();
  train->add_option("--seed", args->options.seed, "Seed (initial weights, shuffling)")
      ->capture_default_str();
  train
      ->add_option("--threads", args->options.threads,
                   "Intra-op threads (0 = LibTorch's default); the file is reproducible for "
                   "a fixed seed and thread count")
      ->capture_default_str();
  train->add_option("--limit", args->options.limit, "Use at most N training images (0 = all)")
      ->capture_default_str();
  train
      ->add_option("--data", args->options.data_path,
                   "IDX folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]")
      ->capture_default_str();
  train->add_flag("--quiet", args->quiet, "No progress output");
  train->callback([args]() {
    const Json result = eval::train_fmnist_classifier(args->options, args->out, args->quiet);
    std::cout << result.dump(2) << "\n";
  });
}

}  // namespace anila::cli
