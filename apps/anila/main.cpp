// main.cpp — the `anila` command: train, compare and benchmark energy-based
// models with Langevin-type samplers (see README.md).
//
//   anila train   --config configs/rings.json [--set key=value]... [--out DIR] [--force] | --resume
//   DIR anila compare --config configs/rings.json --samplers langevin,anila [--seeds N] [--out DIR]
//   anila bench   --config configs/rings.json [--set key=value]...
//   anila sample  (--target NAME [--dim D] | --checkpoint RUN) --samplers a,b --chains N --steps S
//
// Exit codes: 0 success, 2 user error (one line on stderr), 3 diverged run.
#include <filesystem>
#include <iostream>
#include <sstream>

#include "anila/config.h"
#include "cli.h"

namespace anila::cli {

Json load_config(const std::string& path, const std::vector<std::string>& sets) {
  Json config = load_json_file(path);
  for (const auto& s : sets) apply_override(config, s);
  return config;
}

void apply_threads(const Json& config) {
  int64_t threads = 1;
  if (config.contains("threads") && config["threads"].is_number_integer()) {
    threads = config["threads"].get<int64_t>();
  }
  set_threads(static_cast<int>(threads));
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
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
  try {
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
  }
  return anila::kExitOk;
}
