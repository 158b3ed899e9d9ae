// main.cpp — the `anila` command: train, compare, sample from, evaluate and
// benchmark energy-based models with Langevin-type samplers (see README.md).
//
//   anila train     --config F [--set key=value]... [--out DIR] [--force] | --resume DIR
//   anila compare   --config F --samplers langevin,anila [--seeds N] [--out DIR]
//   anila bench     --config F [--set key=value]...
//   anila sample    (--target NAME [--dim D] | --checkpoint RUN) --samplers a,b
//   anila inpaint   --checkpoint RUN (--images DIR | --config F) [--mask center]
//   anila eval      --checkpoint RUN [--n N] [--features fmnist|FILE]
//   anila features  train [--out FILE]
//   anila reproduce NAME [--seeds N] [--out DIR]
//
// Exit codes: 0 success, 2 user error (one line on stderr), 3 diverged run,
// 1 internal error or a lost rank of a data-parallel run.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include "anila/config.h"
#include "anila/train/distributed.h"
#include "cli.h"

namespace anila::cli {

Json load_config(const std::string& path, const std::vector<std::string>& sets,
                 const std::string& device) {
  Json config = load_json_file(path);
  for (const auto& s : sets) apply_override(config, s);
  if (!device.empty()) config["device"] = device;
  return config;
}

void add_device_option(CLI::App* cmd, std::string& device) {
  cmd->add_option("--device", device,
                  "cpu, cuda, cuda:N or auto (cuda when available); overrides the config's device");
}

void apply_threads(const Json& config) {
  int64_t threads = 1;
  if (config.contains("threads") && config["threads"].is_number_integer()) {
    threads = config["threads"].get<int64_t>();
  }
  set_threads(static_cast<int>(threads));
}

const CLI::Validator& non_empty() {
  static const CLI::Validator check(
      [](std::string& value) { return value.empty() ? std::string("must not be empty") : ""; },
      "NON-EMPTY");
  return check;
}

std::string config_stem(const std::string& path) {
  return std::filesystem::path(path).stem().string();
}

}  // namespace anila::cli

int main(int argc, char** argv) {
  CLI::App app{"anila — energy-based models trained with anisotropic Langevin dynamics"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  anila::cli::add_train(app);
  anila::cli::add_compare(app);
  anila::cli::add_bench(app);
  anila::cli::add_sample(app);
  anila::cli::add_inpaint(app);
  anila::cli::add_features(app);
  anila::cli::add_reproduce(app);
  anila::cli::add_eval(app);
  try {
    if (argc > 1 && argv[1][0] != '-') {
      // CLI11 would say only that a subcommand is required: name the word.
      std::vector<std::string> names;
      for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
        names.push_back(sub->get_name());
      if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
        const std::string hint = anila::closest_match(argv[1], names);
        throw anila::UserError(std::string("unknown command '") + argv[1] + "'" +
                               (hint.empty() ? "" : " (did you mean " + hint + "?)") +
                               "; commands: " + anila::join(names));
      }
    }
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "anila: error: " << e.what() << " (see anila --help)\n";
    return anila::kExitUserError;
  } catch (const anila::UserError& e) {
    std::cerr << "anila: error: " << e.what() << "\n";
    return anila::kExitUserError;
  } catch (const anila::DivergedError& e) {
    std::cerr << "anila: diverged: " << e.what() << "\n";
    return anila::kExitDiverged;
  } catch (const anila::dist::RankLostError& e) {
    std::cerr << "anila: error: " << e.what() << "\n";
    return anila::dist::kExitRankLost;
  } catch (const anila::dist::PeerStopped& e) {
    // Another rank (or the launcher's rank) printed the cause.
    if (*e.what()) std::cerr << "anila: " << e.what() << "\n";
    return e.code();
  } catch (const std::exception& e) {
    // Not a user error we anticipated: one line (LibTorch appends a C++ stack), exit 1.
    const std::string what = e.what();
    std::cerr << "anila: internal error: " << what.substr(0, what.find('\n'))
              << " (please report it)\n";
    return 1;
  }
  return anila::kExitOk;
}
